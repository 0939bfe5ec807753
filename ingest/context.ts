/**
 * Document context (issue 16): what identifies a document, indexed with every one of its chunks.
 *
 * Long documents that look alike (the quarterly report of several companies, the same policy for
 * several years) differ on their cover page only, and a question names its document ("2023년
 * 3분기 한빛전자 분기보고서에서 …") while the answering passage on page 23 does not. So every chunk
 * is indexed with its document's context, weighted below the chunk's own text and never part of
 * the quoted text (it goes into the `analyzed` column only, see pipeline.ts):
 *   - a real title: the metadata title when it is not just the file name, else the first heading;
 *   - the cover's identifying lines: page 1 when the document has more pages and page 1 is short
 *     (a cover: organisation, report type, period, document number); otherwise the first line of
 *     page 1 when it is short enough to be a title line;
 *   - the dates found there, also written as "2023년 10월" and "October 2023";
 *   - the words of the source's folders (the last three), e.g. "인사팀/규정/2023".
 * Pure and deterministic, like the other stages.
 */
import { titleFromFileName } from "./text-utils.ts";
import type { ExtractedDocument } from "./types.ts";

/** A first page with at most this much text (and more pages after it) is a cover. */
const COVER_MAX_CHARS = 600;
const COVER_MAX_LINES = 16;
/** A line longer than this is body text, not an identifying line. */
const LINE_MAX_CHARS = 120;
/** The whole context is cut to this (it is indexed with every chunk). */
const CONTEXT_MAX_CHARS = 800;
const FOLDER_LEVELS = 3;

const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];

export interface DocumentContext {
  /** The document's own title (metadata or first heading), when it has one other than its file name. */
  title?: string;
  /** Identifying lines of the cover (or the first page's title line). */
  lines: string[];
  /** Dates found in those lines, spelled out ("2023년 10월", "October 2023"). */
  dates: string[];
  /** Words of the source's folders. */
  folders: string[];
}

const clean = (s: string) => s.replace(/\s+/g, " ").trim();

function pageLines(document: ExtractedDocument, index: number): string[] {
  const page = document.pages[index];
  if (!page) return [];
  return page.blocks.flatMap((b) => b.text.split(/\n+/)).map(clean).filter(Boolean);
}

/**
 * The identifying lines of a real cover (page 1 short, more pages after it), or none: unlike
 * the context, no title line of a document without a cover (answers use this to tell the words
 * that name a document from the words that ask about its content).
 */
export function coverOnlyLines(document: ExtractedDocument): string[] {
  const lines = pageLines(document, 0);
  const chars = lines.reduce((n, l) => n + l.length, 0);
  return document.pages.length >= 2 && lines.length <= COVER_MAX_LINES && chars <= COVER_MAX_CHARS ? lines.filter((l) => l.length <= LINE_MAX_CHARS) : [];
}

/**
 * The same cover lines from a stored version's page texts (what services hold after ingest):
 * used by the answerer (the words that name a document) and by near-duplicate folding.
 */
export function coverLinesOfPageTexts(pages: readonly { page: number; text: string }[]): string[] {
  const sorted = [...pages].sort((a, b) => a.page - b.page);
  if (sorted.length < 2) return [];
  // Two pages stand for "more than one": coverOnlyLines asks only whether page 1 has successors.
  return coverOnlyLines({ mime: "", warnings: [], pages: sorted.slice(0, 2).map((p) => ({ page: p.page, blocks: [{ kind: "paragraph", text: p.text }] })) });
}

function coverLines(document: ExtractedDocument): string[] {
  const cover = coverOnlyLines(document);
  if (cover.length) return cover;
  // No cover: the first line only, when it reads like a title (short, not a sentence).
  const first = pageLines(document, 0)[0];
  return first && first.length <= 80 && !/[.!?。]$/.test(first) ? [first] : [];
}

function firstHeading(document: ExtractedDocument): string | undefined {
  for (const page of document.pages.slice(0, 2)) {
    const h = page.blocks.find((b) => b.kind === "heading" && (b.level ?? 1) <= 2);
    if (h) return clean(h.text).slice(0, LINE_MAX_CHARS) || undefined;
  }
  return undefined;
}

/** Dates in the lines, spelled the ways a question may name them. */
export function spelledDates(lines: readonly string[]): string[] {
  const out = new Set<string>();
  const text = lines.join("\n");
  const add = (y: number, m: number) => {
    if (y < 1900 || y > 2200 || m < 1 || m > 12) return;
    out.add(`${y}년 ${m}월`);
    out.add(`${MONTHS[m - 1]} ${y}`);
  };
  for (const m of text.matchAll(/(?<!\d)((?:19|20|21)\d\d)\s*[-./]\s*(\d{1,2})(?:\s*[-./]\s*\d{1,2})?(?!\d)/g)) add(Number(m[1]), Number(m[2]));
  for (const m of text.matchAll(/((?:19|20|21)\d\d)\s*년\s*(\d{1,2})\s*월/g)) add(Number(m[1]), Number(m[2]));
  return [...out];
}

/** The words of the last folders of a source path (no file name, no drive, no bare numbers of one or two digits). */
export function folderWords(source: string): string[] {
  const parts = source.split(/[\\/]+/).slice(0, -1).filter((p) => p && !/^[A-Za-z]:$/.test(p));
  return parts
    .slice(-FOLDER_LEVELS)
    .flatMap((p) => p.split(/[\s_\-.]+/))
    .filter((w) => w.length > 0 && !/^\d{1,2}$/.test(w));
}

/**
 * The context of an extracted document. `shownTitle` is the title chunks already carry (indexed
 * with the text at full weight): it is not repeated here.
 */
export function documentContext(document: ExtractedDocument, source: string, shownTitle?: string): DocumentContext {
  const meta = document.title?.trim();
  let title = meta && meta !== titleFromFileName(source) ? clean(meta) : firstHeading(document);
  if (title && title === shownTitle?.trim()) title = undefined;
  const lines = coverLines(document).filter((l) => l !== title && l !== shownTitle?.trim());
  return { ...(title ? { title } : {}), lines, dates: spelledDates(lines), folders: folderWords(source) };
}

/** The context as one text for the index (lines in order, duplicates dropped, capped). */
export function contextText(context: DocumentContext): string {
  const parts = [...new Set([context.title, ...context.lines, ...context.dates, context.folders.join(" ")].filter((s): s is string => !!s?.trim()))];
  let text = parts.join("\n");
  if (text.length > CONTEXT_MAX_CHARS) text = text.slice(0, CONTEXT_MAX_CHARS).replace(/\s\S*$/, "");
  return text;
}
