/**
 * Extractor registry, keyed by DetectedType.kind (see detect.ts for the kinds).
 *
 * To add a format, write an Extractor in its own module and add ONE registration line at the bottom
 * of this file (or call registerExtractor from your module's setup code), e.g.
 *     registerExtractor(docxExtractor);                                  // kinds: ["docx"]
 *     registerExtractor(createPdfExtractor({ ocrFallback: ocrPdfPages })); // replaces the default PDF one
 * A later registration for a kind replaces the earlier one.
 */
import type { Extractor } from "../types.ts";
import { htmlExtractor } from "./html.ts";
import { markdownExtractor } from "./markdown.ts";
import { pdfExtractor } from "./pdf.ts";
import { textExtractor } from "./text.ts";

const byKind = new Map<string, Extractor>();

/** Register an extractor for each of its kinds; replaces any extractor registered for those kinds. */
export function registerExtractor(extractor: Extractor): void {
  if (!extractor.kinds.length) throw new Error("registerExtractor: extractor declares no kinds");
  for (const kind of extractor.kinds) byKind.set(kind, extractor);
}

/** Remove the extractor for a kind (tests, or to disable a format). Returns true if one was removed. */
export function unregisterExtractor(kind: string): boolean {
  return byKind.delete(kind);
}

export function getExtractor(kind: string): Extractor | undefined {
  return byKind.get(kind);
}

/** Kinds that currently have an extractor, sorted. */
export function registeredKinds(): string[] {
  return [...byKind.keys()].sort();
}

// Built-in extractors. Add one line per new extractor below.
registerExtractor(textExtractor);
registerExtractor(markdownExtractor);
registerExtractor(htmlExtractor);
registerExtractor(pdfExtractor);
