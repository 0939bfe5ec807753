/**
 * Document context (issue 16): what identifies a document, indexed with every one of its chunks.
 *
 * Long documents that look alike (the quarterly report of several companies, the same policy for
 * several years) differ on their cover page only, and a question names its document ("2023년
 * 3분기 한빛전자 분기보고서에서 …") while the answering passage on page 23 does not. So every chunk
 * is indexed with its document's context, weighted below the chunk's own text and never part of
 * the quoted text (it goes into the `analyzed` column only, see pipeline.ts):
 *   - a real title: the metadata title when it is not just the file name, else the first heading;
 *   - the cover's identifying lines: when the document has more pages, the short lines that open
 *     page 1 (organisation, report type, period, document number), up to its table of contents or
 *     first line of body text, within a short cover's size (a filing's page 1 also carries an
 *     address, a table of contents and legal notices: the lines before those name it); otherwise
 *     the first line of page 1 when it is short enough to be a title line;
 *   - the dates found there, also written as "2023년 10월" and "October 2023";
 *   - the words of the source's folders (the last three), e.g. "인사팀/규정/2023".
 * Pure and deterministic, like the other stages.
 */
import { titleFromFileName } from "./text-utils.ts";
import type { ExtractedDocument } from "./types.ts";

/** A first page with at most this much text (and more pages after it) is a cover; a longer one gives at most this much of its opening. */
const COVER_MAX_CHARS = 600;
const COVER_MAX_LINES = 16;
/** A line longer than this is body text, not an identifying line. */
const LINE_MAX_CHARS = 120;
/** The whole context is cut to this (it is indexed with every chunk). */
const CONTEXT_MAX_CHARS = 800;
/**
 * What the embedding model sees of the context is cut to this: it goes before every chunk's text
 * (about 350 estimated tokens) in a window of at most 512 tokens, where 160 characters of Korean
 * take up to about 100; more would push the end of a long chunk out of the window.
 */
export const EMBEDDING_CONTEXT_MAX_CHARS = 160;
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

/** A table of contents starts: its heading, or an entry that ends in a page number after leaders. */
const CONTENTS_LINE = /^(?:목\s*차|차\s*례|(?:table\s+of\s+)?contents|index)$|(?:\.{3,}|…+|·{3,}|_{3,})\s*\d+$/i;
/** Endings that abbreviate a company form or a word, not the end of a sentence ("Harbor Point Energy Corp."). */
const ABBREVIATED_END = /(?:^|[\s,])(?:Inc|Ltd|Co|Corp|LLC|L\.L\.C|PLC|plc|S\.A|N\.V|B\.V|AG|SE|L\.P|LP|Pte|Pty|Bhd|GmbH|No|Dept|Div|Jr|Sr)\.$/;

/** A line that ends as a sentence does, unlike a name that ends in an abbreviation. */
function readsAsSentence(line: string): boolean {
  return /[.!?。]$/.test(line) && !ABBREVIATED_END.test(line);
}

/**
 * The identifying lines of a real cover, or none. Page 1 of a document with more pages: all its
 * lines of title length when the page is short (a cover), else (a filing's page 1, which also
 * carries an address, a table of contents, legal notices) the lines that open it, when its first
 * long line or its table of contents comes within a short cover's size (short lines beyond that
 * are wrapped body text, not a cover). Entries of a table of contents, and lines that page 2
 * repeats (running headers and footers), are never identifying lines. Unlike the context, no title line of a single-page document
 * (answers use this to tell the words that name a document from the words that ask about its
 * content; near-duplicate folding to tell look-alikes from copies).
 */
export function coverOnlyLines(document: ExtractedDocument): string[] {
  if (document.pages.length < 2) return [];
  // A running header or footer (also on page 2, page numbers aside) names no one document: a PDF
  // export's "Northwind Traders - confidential" is not in the DOCX it is a copy of.
  const pattern = (line: string) => line.replace(/\d+/g, "#");
  const running = new Set(pageLines(document, 1).map(pattern));
  const lines = pageLines(document, 0).filter((l) => !running.has(pattern(l)));
  const chars = lines.reduce((n, l) => n + l.length, 0);
  if (lines.length <= COVER_MAX_LINES && chars <= COVER_MAX_CHARS) return lines.filter((l) => l.length <= LINE_MAX_CHARS && !CONTENTS_LINE.test(l));
  const out: string[] = [];
  let taken = 0;
  for (const line of lines) {
    // The naming block ends where the contents or the body text (a long line) begins.
    if (line.length > LINE_MAX_CHARS || CONTENTS_LINE.test(line)) return out;
    // Short lines past a cover's size are not a naming block: wrapped body text, as in a PDF
    // export whose lines each came out as a block (its copy must still fold with the original).
    if (out.length >= COVER_MAX_LINES || taken + line.length > COVER_MAX_CHARS) return [];
    out.push(line);
    taken += line.length;
  }
  return [];
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
  return first && first.length <= 80 && !readsAsSentence(first) ? [first] : [];
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

/**
 * The context as the embedding model sees it before each chunk: the title, the cover's lines and
 * the folder words, without the spelled-out dates (those are for matching a question's wording;
 * the cover's own date is in its lines), in order, whole lines that fit EMBEDDING_CONTEXT_MAX_CHARS.
 */
export function embeddingContext(context: DocumentContext): string {
  const parts = [...new Set([context.title, ...context.lines, context.folders.join(" ")].map((s) => s?.trim()).filter((s): s is string => !!s))];
  const kept: string[] = [];
  let length = 0;
  for (const part of parts) {
    const added = part.length + (kept.length ? 1 : 0);
    if (length + added > EMBEDDING_CONTEXT_MAX_CHARS) continue;
    length += added;
    kept.push(part);
  }
  return kept.join("\n");
}

/** The context as one text for the index (lines in order, duplicates dropped, capped). */
export function contextText(context: DocumentContext): string {
  const parts = [...new Set([context.title, ...context.lines, ...context.dates, context.folders.join(" ")].filter((s): s is string => !!s?.trim()))];
  let text = parts.join("\n");
  if (text.length > CONTEXT_MAX_CHARS) text = text.slice(0, CONTEXT_MAX_CHARS).replace(/\s\S*$/, "");
  return text;
}
