/**
 * Near-duplicate documents (the same report saved as `final.docx`, `final_v2.docx` and a PDF
 * export): a MinHash fingerprint of a document's whole extracted text, as word 3-shingles after
 * NFKC, lower case and dropping everything but letters and digits. Chunk boundaries, line breaks,
 * punctuation and layout do not matter (a DOCX and its PDF export chunk differently); a changed
 * word costs three shingles; a page number or running header in a PDF export costs a few per page.
 *
 * Two documents are copies when the estimated Jaccard similarity of their shingle sets is at least
 * NEAR_DUPLICATE_JACCARD. Documents that merely share a paragraph stay apart unless that paragraph
 * is most of both of them.
 */

/** Hash functions per fingerprint: the estimate's standard error is about √(J(1−J)/128) (±0.04 at 0.7). */
export const MINHASH_SIZE = 128;
/** Estimated shingle Jaccard at or above which two documents are copies of each other. */
export const NEAR_DUPLICATE_JACCARD = 0.7;
const SHINGLE = 3;

export interface Fingerprint {
  /** MinHash signature (MINHASH_SIZE minima); empty for a text without words. */
  minhash: Uint32Array;
  /** Number of distinct shingles (a one-word text is one shingle). */
  shingles: number;
}

/** The words of `text` for comparison: NFKC, lower case, letters and digits only. */
export function comparisonWords(text: string): string[] {
  return text
    .normalize("NFKC")
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);
}

/** FNV-1a over UTF-16 code units, 32 bits. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** murmur3's finalizer: a cheap 32-bit mixer (each seed below makes one hash function). */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const SEEDS = Uint32Array.from({ length: MINHASH_SIZE }, (_v, i) => mix(0x9e3779b9 + Math.imul(i + 1, 0x7f4a7c15)));

export function fingerprint(text: string): Fingerprint {
  const words = comparisonWords(text);
  const shingles = new Set<number>();
  if (words.length > 0 && words.length < SHINGLE) shingles.add(fnv1a(words.join(" ")));
  for (let i = 0; i + SHINGLE <= words.length; i++) shingles.add(fnv1a(words.slice(i, i + SHINGLE).join(" ")));
  if (shingles.size === 0) return { minhash: new Uint32Array(0), shingles: 0 };
  const minhash = new Uint32Array(MINHASH_SIZE).fill(0xffffffff);
  for (const s of shingles) {
    for (let k = 0; k < MINHASH_SIZE; k++) {
      const v = mix(s ^ SEEDS[k]!);
      if (v < minhash[k]!) minhash[k] = v;
    }
  }
  return { minhash, shingles: shingles.size };
}

/** Estimated Jaccard similarity of the two documents' shingle sets (0 when either has no words). */
export function similarity(a: Fingerprint, b: Fingerprint): number {
  if (a.minhash.length === 0 || b.minhash.length === 0) return 0;
  let same = 0;
  for (let k = 0; k < MINHASH_SIZE; k++) if (a.minhash[k] === b.minhash[k]) same++;
  return same / MINHASH_SIZE;
}

export function areNearDuplicates(a: Fingerprint, b: Fingerprint): boolean {
  return similarity(a, b) >= NEAR_DUPLICATE_JACCARD;
}
