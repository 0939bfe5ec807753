/**
 * Stage 4: structure-aware chunking of a normalized document.
 *
 * 1. The document is cut into sections at headings; each section knows its heading path
 *    (["휴가 규정", "연차"]). Content never crosses a heading boundary, except that consecutive
 *    tiny sections (below minSectionTokens) are merged while the result stays within targetTokens
 *    (a merged chunk's path is the common prefix of its sections' paths).
 * 2. Within a section, whole blocks are packed up to targetTokens. A block that does not fit is
 *    moved to the next chunk when the current chunk is already half full; otherwise it is split at
 *    sentence boundaries (paragraphs), item lines (lists, code) or rows (tables: the header row is
 *    repeated in every piece). No chunk exceeds maxTokens: a sentence longer than that is split at
 *    spaces, and a single "word" longer than that at characters.
 * 3. A chunk that continues a section starts with the last whole sentences (≤ overlapTokens) of the
 *    previous chunk's prose. Headings stay with the content that follows them.
 * Output is a pure function of (document, options): identical input gives identical chunks.
 */
import { splitSentences } from "../src/domain/analysis/sentences.ts";
import type { Block, ChunkDraft, ExtractedDocument } from "./types.ts";

export interface ChunkOptions {
  /** Preferred chunk size in estimated tokens (default 350). */
  targetTokens?: number;
  /** Hard upper bound per chunk (default 512). */
  maxTokens?: number;
  /** Overlap between consecutive chunks of one section, in whole sentences (default 50). */
  overlapTokens?: number;
  /** Sections smaller than this may be merged with neighbours (default 64). */
  minSectionTokens?: number;
}

export const DEFAULT_CHUNK_OPTIONS: Required<ChunkOptions> = {
  targetTokens: 350,
  maxTokens: 512,
  overlapTokens: 50,
  minSectionTokens: 64,
};

// ---------------------------------------------------------------------------------------------
// token estimate

/**
 * Token estimate for multilingual subword tokenizers (XLM-R / multilingual-E5 / BGE-M3 SentencePiece,
 * BERT WordPiece). Chosen to slightly over-estimate, so that maxTokens is a safe bound:
 *   - Hangul syllable: 0.8 (SentencePiece vocabularies give ~0.5–0.8 per syllable for common words,
 *     ~1 for rare ones; WordPiece Korean models ~0.6–0.9);
 *   - Latin word: 1.3 (the usual English average), longer words len/5 (rare/compound words split more);
 *   - digits: one token per 3 digits; CJK ideographs / kana: 1 each; other scripts: 1 per 3 letters;
 *   - punctuation / symbols: 1 for the first character of a run, 0.5 for each further one.
 * The sum is rounded up; summing estimates of whitespace-separated parts never under-counts the whole.
 */
export function estimateTokens(text: string): number {
  let total = 0;
  const re = /([\uac00-\ud7a3]+)|([\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\ud7b0-\ud7ff]+)|([A-Za-z\u00c0-\u024f]+)|(\p{Nd}+)|([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u{20000}-\u{3fffd}])|([\p{L}\p{M}]+)|(\s+)|([^\s\p{L}\p{M}\p{Nd}]+)/gu;
  for (const m of text.matchAll(re)) {
    if (m[1]) total += m[1].length * 0.8;
    else if (m[2]) total += m[2].length;
    else if (m[3]) total += Math.max(1.3, m[3].length / 5);
    else if (m[4]) total += Math.max(1, [...m[4]].length / 3);
    else if (m[5]) total += 1;
    else if (m[6]) total += Math.max(1, [...m[6]].length / 3);
    else if (m[8]) total += 1 + ([...m[8]].length - 1) * 0.5;
  }
  const n = Math.ceil(total - 1e-9);
  return n > 0 ? n : 0;
}

// ---------------------------------------------------------------------------------------------
// sections

interface PagedBlock {
  block: Block;
  page: number;
}

interface Section {
  path: string[];
  heading?: PagedBlock;
  blocks: PagedBlock[];
  tokens: number;
}

function buildSections(doc: ExtractedDocument): Section[] {
  const sections: Section[] = [];
  const stack: (string | undefined)[] = [];
  let current: Section = { path: [], blocks: [], tokens: 0 };
  for (const page of doc.pages) {
    for (const block of page.blocks) {
      if (!block.text.trim()) continue;
      if (block.kind === "heading") {
        if (current.heading || current.blocks.length) sections.push(current);
        const level = Math.min(6, Math.max(1, block.level ?? 1));
        stack.length = level - 1;
        stack[level - 1] = block.text.trim();
        const path = stack.filter((h): h is string => h !== undefined);
        current = { path, heading: { block, page: page.page }, blocks: [], tokens: estimateTokens(block.text) };
      } else {
        current.blocks.push({ block, page: page.page });
        current.tokens += estimateTokens(block.text);
      }
    }
  }
  if (current.heading || current.blocks.length) sections.push(current);
  return sections;
}

function commonPrefix(paths: string[][]): string[] {
  if (paths.length === 0) return [];
  const out: string[] = [];
  for (let i = 0; ; i++) {
    const h = paths[0]![i];
    if (h === undefined || !paths.every((p) => p[i] === h)) return out;
    out.push(h);
  }
}

function groupSections(sections: Section[], o: Required<ChunkOptions>): Section[][] {
  const groups: { sections: Section[]; tokens: number }[] = [];
  for (const s of sections) {
    const last = groups[groups.length - 1];
    const hasContent = s.blocks.length > 0;
    if (last && last.sections.every((x) => x.blocks.length === 0)) {
      // Headings without content of their own (a chapter title right before its first section)
      // always go with the next section.
      last.sections.push(s);
      last.tokens += s.tokens;
      continue;
    }
    const lastTiny = last !== undefined && last.tokens < o.minSectionTokens;
    const thisTiny = s.tokens < o.minSectionTokens && hasContent; // heading-only sections only merge forward
    if (last && (lastTiny || thisTiny) && last.tokens + s.tokens <= o.targetTokens) {
      last.sections.push(s);
      last.tokens += s.tokens;
    } else {
      groups.push({ sections: [s], tokens: s.tokens });
    }
  }
  return groups.map((g) => g.sections);
}

// ---------------------------------------------------------------------------------------------
// splitting oversized text

/** Split one word longer than max tokens at character boundaries (code points). */
function splitLongWord(word: string, max: number): string[] {
  const chars = [...word];
  const out: string[] = [];
  let start = 0;
  while (start < chars.length) {
    // binary search the longest slice that fits
    let lo = 1;
    let hi = chars.length - start;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (estimateTokens(chars.slice(start, start + mid).join("")) <= max) lo = mid;
      else hi = mid - 1;
    }
    out.push(chars.slice(start, start + lo).join(""));
    start += lo;
  }
  return out;
}

/** Split text that exceeds max tokens at spaces (words), then characters. */
export function hardSplit(text: string, max: number): string[] {
  const words = text.split(/\s+/).filter(Boolean);
  const out: string[] = [];
  let cur: string[] = [];
  let curTokens = 0;
  for (const w of words) {
    const t = estimateTokens(w);
    if (t > max) {
      if (cur.length) out.push(cur.join(" "));
      cur = [];
      curTokens = 0;
      out.push(...splitLongWord(w, max));
      continue;
    }
    if (curTokens + t > max && cur.length) {
      out.push(cur.join(" "));
      cur = [];
      curTokens = 0;
    }
    cur.push(w);
    curTokens += t;
  }
  if (cur.length) out.push(cur.join(" "));
  return out;
}

// ---------------------------------------------------------------------------------------------
// packing

type PieceKind = "heading" | "prose" | "table" | "code" | "overlap";

interface Piece {
  text: string;
  tokens: number;
  page: number;
  kind: PieceKind;
  /** Index of the source block within the group; pieces of one block are joined by `sep`. */
  blockId: number;
  /** Separator to the previous piece of the same block. */
  sep: string;
}

interface Sub {
  text: string;
  tokens: number;
}

/** Fit sub-texts into ≤ max pieces (each sub-text already split so that none exceeds max). */
function ensureFits(texts: string[], max: number): Sub[] {
  const out: Sub[] = [];
  for (const t of texts) {
    const tokens = estimateTokens(t);
    if (tokens <= max) out.push({ text: t, tokens });
    else for (const h of hardSplit(t, max)) out.push({ text: h, tokens: estimateTokens(h) });
  }
  return out.filter((s) => s.text.trim().length > 0);
}

/** Table pieces: header (+ delimiter) repeated over groups of rows, each ≤ max (packed to target). */
function splitTable(text: string, target: number, max: number): Sub[] {
  const lines = text.split("\n").filter((l) => l.trim());
  const hasDelim = lines.length > 1 && /^\s*\|?\s*:?-{2,}/.test(lines[1]!) && /^[\s|:-]+$/.test(lines[1]!);
  const header = hasDelim ? lines.slice(0, 2) : lines.slice(0, 1);
  const rows = lines.slice(header.length);
  const headerText = header.join("\n");
  const headerTokens = estimateTokens(headerText);
  const out: Sub[] = [];
  if (rows.length === 0 || headerTokens * 2 > max) {
    return ensureFits(lines, max); // header too big to repeat: plain row-by-row pieces
  }
  const budget = Math.max(target, headerTokens + 1);
  let cur: string[] = [];
  let curTokens = headerTokens;
  const flush = () => {
    if (cur.length) {
      const t = `${headerText}\n${cur.join("\n")}`;
      out.push({ text: t, tokens: estimateTokens(t) });
    }
    cur = [];
    curTokens = headerTokens;
  };
  for (const row of rows) {
    const t = estimateTokens(row);
    if (headerTokens + t > max) {
      flush();
      out.push(...ensureFits([row], max));
      continue;
    }
    if (curTokens + t > Math.min(budget, max) && cur.length) flush();
    cur.push(row);
    curTokens += t;
  }
  flush();
  return out;
}

/** Sub-pieces of a block that is too big to stay whole. */
function splitBlock(block: Block, target: number, max: number): { subs: Sub[]; sep: string } {
  switch (block.kind) {
    case "table":
      return { subs: splitTable(block.text, target, max), sep: "\n\n" };
    case "list":
    case "code": {
      // Keep lines together up to target, then start a new piece (lines are the natural unit).
      const lines = ensureFits(block.text.split("\n").filter((l) => l.trim()), max);
      const subs: Sub[] = [];
      let cur: Sub[] = [];
      let tok = 0;
      const flush = () => {
        if (cur.length) {
          const t = cur.map((s) => s.text).join("\n");
          subs.push({ text: t, tokens: estimateTokens(t) });
        }
        cur = [];
        tok = 0;
      };
      for (const l of lines) {
        if (tok + l.tokens > target && cur.length) flush();
        cur.push(l);
        tok += l.tokens;
      }
      flush();
      return { subs, sep: "\n" };
    }
    default:
      return { subs: ensureFits(splitSentences(block.text), max), sep: " " };
  }
}

function blockPieceKind(block: Block): PieceKind {
  if (block.kind === "heading") return "heading";
  if (block.kind === "table") return "table";
  if (block.kind === "code") return "code";
  return "prose";
}

interface Draft {
  pieces: Piece[];
  tokens: number;
}

function renderPieces(pieces: Piece[]): string {
  let out = "";
  let prev: Piece | undefined;
  for (const p of pieces) {
    if (prev) out += prev.blockId === p.blockId ? p.sep : "\n\n";
    out += p.text;
    prev = p;
  }
  return out.trim();
}

/** Last whole sentences of the draft's trailing prose, within overlapTokens. */
function overlapFrom(draft: Draft, overlapTokens: number): Piece | undefined {
  if (overlapTokens <= 0) return undefined;
  const last = draft.pieces[draft.pieces.length - 1];
  if (!last || last.kind !== "prose") return undefined;
  const sentences = splitSentences(last.text);
  const picked: string[] = [];
  let tokens = 0;
  for (let i = sentences.length - 1; i >= 0; i--) {
    const t = estimateTokens(sentences[i]!);
    if (tokens + t > overlapTokens) break;
    picked.unshift(sentences[i]!);
    tokens += t;
  }
  if (picked.length === 0) return undefined;
  const text = picked.join(last.sep === "\n" ? "\n" : " ");
  return { text, tokens: estimateTokens(text), page: last.page, kind: "overlap", blockId: last.blockId, sep: last.sep };
}

function packGroup(group: Section[], o: Required<ChunkOptions>): { text: string; pageStart: number; pageEnd: number }[] {
  const out: { text: string; pageStart: number; pageEnd: number }[] = [];
  let draft: Draft = { pieces: [], tokens: 0 };
  let pendingOverlap: Piece | undefined;

  const contentOf = (d: Draft) => d.pieces.filter((p) => p.kind !== "overlap" && p.kind !== "heading");
  const emit = (d: Draft) => {
    if (d.pieces.length === 0 || d.pieces.every((p) => p.kind === "overlap")) return;
    const text = renderPieces(d.pieces);
    if (!text) return;
    const pages = d.pieces.map((p) => p.page);
    out.push({ text, pageStart: Math.min(...pages), pageEnd: Math.max(...pages) });
  };
  /** Close the current chunk; trailing headings move to the next one. */
  const flush = () => {
    const trailing: Piece[] = [];
    while (draft.pieces.length && draft.pieces[draft.pieces.length - 1]!.kind === "heading") trailing.unshift(draft.pieces.pop()!);
    if (contentOf(draft).length === 0) {
      // nothing but headings/overlap: keep them for the next chunk
      draft = { pieces: [...draft.pieces.filter((p) => p.kind === "heading"), ...trailing], tokens: 0 };
      draft.tokens = draft.pieces.reduce((n, p) => n + p.tokens, 0);
      return;
    }
    pendingOverlap = trailing.length ? undefined : overlapFrom(draft, o.overlapTokens);
    emit(draft);
    draft = { pieces: trailing, tokens: trailing.reduce((n, p) => n + p.tokens, 0) };
  };
  const add = (p: Piece) => {
    if (pendingOverlap) {
      const ov = pendingOverlap;
      pendingOverlap = undefined;
      if (p.kind === "prose" && draft.pieces.length === 0 && ov.tokens + p.tokens <= o.maxTokens) {
        draft.pieces.push(ov);
        draft.tokens += ov.tokens;
      }
    }
    draft.pieces.push(p);
    draft.tokens += p.tokens;
  };
  /** Add a piece that is ≤ max: starts a new chunk when it does not fit within target. */
  const place = (p: Piece) => {
    if (draft.tokens + p.tokens > o.targetTokens && contentOf(draft).length > 0) flush();
    // overlap + headings + piece could exceed max: drop the overlap then
    if (draft.tokens + p.tokens > o.maxTokens) {
      draft.pieces = draft.pieces.filter((x) => x.kind !== "overlap");
      draft.tokens = draft.pieces.reduce((n, x) => n + x.tokens, 0);
      if (draft.tokens + p.tokens > o.maxTokens && draft.pieces.length) {
        // headings + piece too big: emit the headings as their own chunk
        emit(draft);
        draft = { pieces: [], tokens: 0 };
      }
    }
    add(p);
  };

  let blockId = 0;
  for (const section of group) {
    const blocks = section.heading ? [section.heading, ...section.blocks] : section.blocks;
    for (const { block, page } of blocks) {
      blockId++;
      const text = block.text.trim();
      if (!text) continue;
      const tokens = estimateTokens(text);
      const kind = blockPieceKind(block);
      const whole: Piece = { text, tokens, page, kind, blockId, sep: "\n\n" };
      if (kind === "heading" && tokens <= o.maxTokens) {
        if (draft.tokens + tokens > o.maxTokens) {
          if (contentOf(draft).length > 0) flush();
          // still too big (a run of headings): emit them on their own
          if (draft.tokens + tokens > o.maxTokens) {
            draft.pieces = draft.pieces.filter((x) => x.kind !== "overlap");
            emit(draft);
            draft = { pieces: [], tokens: 0 };
          }
        }
        add(whole);
        continue;
      }
      const curContent = contentOf(draft).length > 0 ? draft.tokens : 0;
      if (tokens <= o.maxTokens) {
        if (draft.tokens + tokens <= o.targetTokens) {
          add(whole);
          continue;
        }
        if (kind === "table" || kind === "code" || curContent >= o.targetTokens / 2) {
          // Tables and code stay whole; a well-filled chunk ends at this paragraph boundary.
          if (curContent > 0) flush();
          place(whole);
          continue;
        }
        if (draft.tokens + tokens <= o.maxTokens) {
          add(whole); // keep the paragraph whole rather than leave a small chunk behind
          continue;
        }
      }
      // Split the block and place its pieces one by one.
      const { subs, sep } = splitBlock(block, o.targetTokens, o.maxTokens);
      for (const s of subs) place({ text: s.text, tokens: s.tokens, page, kind: kind === "heading" ? "prose" : kind, blockId, sep });
    }
  }
  if (contentOf(draft).length > 0 || draft.pieces.some((p) => p.kind === "heading")) emit(draft);
  return out;
}

function resolveOptions(options: ChunkOptions): Required<ChunkOptions> {
  const maxTokens = Math.max(1, Math.floor(options.maxTokens ?? DEFAULT_CHUNK_OPTIONS.maxTokens));
  const targetTokens = Math.max(1, Math.min(maxTokens, Math.floor(options.targetTokens ?? Math.min(DEFAULT_CHUNK_OPTIONS.targetTokens, maxTokens))));
  const overlapTokens = Math.max(0, Math.min(Math.floor(targetTokens / 2), Math.floor(options.overlapTokens ?? DEFAULT_CHUNK_OPTIONS.overlapTokens)));
  const minSectionTokens = Math.max(0, Math.floor(options.minSectionTokens ?? Math.min(DEFAULT_CHUNK_OPTIONS.minSectionTokens, targetTokens)));
  return { maxTokens, targetTokens, overlapTokens, minSectionTokens };
}

/** Chunk a normalized document. Deterministic; never returns empty chunks. */
export function chunkDocument(doc: ExtractedDocument, options: ChunkOptions = {}): ChunkDraft[] {
  const o = resolveOptions(options);
  const chunks: ChunkDraft[] = [];
  for (const group of groupSections(buildSections(doc), o)) {
    const contentPaths = group.filter((s) => s.blocks.length > 0).map((s) => s.path);
    const headings = commonPrefix(contentPaths.length ? contentPaths : group.map((s) => s.path));
    for (const c of packGroup(group, o)) {
      chunks.push({ ordinal: chunks.length, text: c.text, pageStart: c.pageStart, pageEnd: c.pageEnd, headings: [...headings] });
    }
  }
  return chunks;
}
