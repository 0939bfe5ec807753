/**
 * The pure part of ingestion, stage by stage:
 *   extract (detect → extractor → normalize) → chunk → analyze.
 * Embedding and writing need models and stores and live in the ingest service.
 */
import { analyzeForIndex, passageTerms } from "../src/domain/analysis/index.ts";
import { clampTitle } from "../src/domain/limits.ts";
import { splitSensitiveForIndex } from "../src/domain/sensitive/index.ts";
import { chunkDocument } from "./chunk.ts";
import { contextText, documentContext, embeddingContext } from "./context.ts";
import { extractFile } from "./extract.ts";
import { extractorsLoaded, loadAllExtractors } from "./formats.ts";
import type { ChunkDraft, DetectedType, ExtractOptions, SourceFile } from "./types.ts";

export interface AnalyzedChunk extends ChunkDraft {
  /** Lexical terms of title + heading path + text (and the document context), for the BM25 column. */
  analyzed: string;
}

export interface PreparedDocument {
  type: DetectedType;
  title: string;
  pages: { page: number; text: string }[];
  chunks: AnalyzedChunk[];
  /** What identifies the document (title, cover lines, dates, folder words), indexed with every chunk (context.ts). */
  context: string;
  /** The short form of it that the embedding model sees before every chunk (`embeddingTextOf`); "" when none. */
  embeddingContext: string;
  warnings: string[];
}

/** Title from the file name when the document has none of its own. */
export function titleFromSource(source: string): string {
  const base = source.split(/[\\/]/).pop() ?? source;
  return base.replace(/\.[A-Za-z0-9]{1,5}$/, "") || base;
}

/**
 * The `analyzed` column: personal data (phone, RRN, card, account numbers, e-mail) is not
 * indexed as words but as opaque keys that only privileged searches produce (see
 * src/domain/sensitive/search-keys.ts). Keys are written twice, like every term (`indexRepeat`).
 */
function analyzedWithoutPersonalData(text: string): string {
  const { text: rest, keys } = splitSensitiveForIndex(text);
  const analyzed = analyzeForIndex(rest);
  if (keys.length === 0) return analyzed;
  return [analyzed, ...keys, ...keys].filter(Boolean).join(" ");
}

/**
 * How many times the document context's terms are written into each chunk's `analyzed` column,
 * against `indexRepeat` (2) for the chunk's own title, headings and text: the context counts, but
 * below the chunk's own words. Twice did better on bench:lookalike's tune half (docs/benchmarks.md)
 * but would weigh as much as the text, which that set, where every question names a document that
 * exists, cannot price.
 */
export const CONTEXT_REPEAT = 1;

/** The context's index terms, written `CONTEXT_REPEAT` times; personal data as keys, as in the text. */
function analyzedContext(context: string): string {
  if (!context.trim()) return "";
  const { text: rest, keys } = splitSensitiveForIndex(context);
  const terms = passageTerms(rest).join(" ");
  return Array.from({ length: CONTEXT_REPEAT }, () => [terms, ...keys].filter(Boolean).join(" ")).join(" ");
}

export function analyzeChunks(title: string, drafts: ChunkDraft[], documentContextText = ""): AnalyzedChunk[] {
  const contextTerms = analyzedContext(documentContextText);
  return drafts.map((c) => {
    // Title and headings are indexed with every chunk: a passage is often found by the
    // name of the document or section it sits in, not by words in its own sentences. The
    // document's context (cover lines, dates, folders) is indexed too, with less weight; none of
    // it is in the chunk's text, so it is never quoted.
    const context = [title, ...c.headings].filter(Boolean).join(" > ");
    const analyzed = analyzedWithoutPersonalData(`${context}\n${c.text}`);
    return { ...c, analyzed: contextTerms ? `${analyzed} ${contextTerms}` : analyzed };
  });
}

/**
 * What the embedding model sees of a chunk: its document's context (cover lines, folders: what
 * tells look-alike documents apart), then title > headings, then the text. Built from the chunk
 * row's own columns, so ingestion, a reindex and a re-embed into a new model's table all embed the
 * same text. A row written before the context column (chunk layout 3) has none: it is embedded as
 * it was until a reindex rewrites it.
 */
export function embeddingTextOf(row: { context?: string | null; title: string; headings: string; text: string }): string {
  const path = [row.title, row.headings].filter(Boolean).join(" > ");
  return [row.context, path, row.text].filter(Boolean).join("\n");
}

/**
 * Loads every format's extractor now instead of on first use (an extraction process does it before
 * its first file, so loading the libraries does not count against that file's time limit).
 */
export function loadExtractors(): Promise<void> {
  return loadAllExtractors();
}

/** Stops the OCR workers if extraction ever ran in this process. */
export async function closeExtractors(): Promise<void> {
  if (!extractorsLoaded()) return;
  const { closeOcrEngine } = await import("./ocr/engine.ts");
  await closeOcrEngine();
}

export async function prepareDocument(file: SourceFile, options: ExtractOptions & { title?: string } = {}): Promise<PreparedDocument> {
  const { type, document } = await extractFile(file, options);
  const title = clampTitle((options.title ?? document.title ?? "").trim() || titleFromSource(file.source));
  const pages = document.pages.map((p) => ({ page: p.page, text: p.blocks.map((b) => b.text).join("\n\n") }));
  const identified = documentContext(document, file.source, title);
  const context = contextText(identified);
  const chunks = analyzeChunks(title, chunkDocument(document), context);
  return { type, title, pages, chunks, context, embeddingContext: embeddingContext(identified), warnings: document.warnings };
}
