/**
 * Near-duplicate documents (the same report saved as `final.docx`, `final_v2.docx` and a PDF
 * export): a MinHash fingerprint of a document's whole extracted text, as word 3-shingles after
 * NFKC, lower case and dropping everything but letters and digits. Chunk boundaries, line breaks,
 * punctuation and layout do not matter (a DOCX and its PDF export chunk differently); a changed
 * word costs three shingles; a page number or running header in a PDF export costs a few per page.
 *
 * Two documents are copies when the estimated Jaccard similarity of their shingle sets is at least
 * NEAR_DUPLICATE_JACCARD and they name the same document: look-alikes (the quarterly report of
 * another company, the same audit for another year) share most of their text and differ on the
 * cover, in the few words that identify them. So a document with a cover (its identifying lines,
 * passed in by the caller) is a copy only of a document that holds every word of that cover
 * among its own first words (its cover, or the opening of a copy saved without one, such as a
 * DOCX whose PDF export has a cover page). Documents that merely share a paragraph stay apart
 * unless that paragraph is most of both of them.
 */

/**
 * A bottom-k MinHash: the MINHASH_SIZE smallest shingle hashes (one hash function, so a
 * 100,000-word document takes one hash per shingle and a sort). The similarity estimate's standard
 * error is about √(J(1−J)/k) (±0.03 at 0.7).
 */
export const MINHASH_SIZE = 256;
/** Estimated shingle Jaccard at or above which two documents are copies of each other. */
export const NEAR_DUPLICATE_JACCARD = 0.7;
const SHINGLE = 3;

/** Words of a document's opening kept to compare with another's cover (a cover is at most 600 characters). */
export const OPENING_WORDS = 160;

export interface Fingerprint {
  /** The smallest shingle hashes, ascending, at most MINHASH_SIZE; empty for a text without words. */
  minhash: Uint32Array;
  /** Number of distinct shingles (a text of one or two words is one shingle). */
  shingles: number;
  /** The words of the document's cover lines (distinct), when it has a cover. */
  cover?: string[];
  /** The document's first OPENING_WORDS words (distinct). */
  opening: string[];
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

/** The fingerprint of a document's whole text; `cover`: its cover's identifying lines, if it has a cover. */
export function fingerprint(text: string, cover: readonly string[] = []): Fingerprint {
  const words = comparisonWords(text);
  const coverWords = [...new Set(comparisonWords(cover.join("\n")))];
  const identity = { ...(coverWords.length ? { cover: coverWords } : {}), opening: [...new Set(words.slice(0, OPENING_WORDS))] };
  const hashes = new Uint32Array(Math.max(words.length - SHINGLE + 1, words.length > 0 ? 1 : 0));
  if (words.length > 0 && words.length < SHINGLE) hashes[0] = mix(fnv1a(words.join(" ")));
  for (let i = 0; i + SHINGLE <= words.length; i++) hashes[i] = mix(fnv1a(`${words[i]} ${words[i + 1]} ${words[i + 2]}`));
  hashes.sort();
  const distinct: number[] = [];
  let shingles = 0;
  for (let i = 0; i < hashes.length; i++) {
    if (i > 0 && hashes[i] === hashes[i - 1]) continue;
    shingles++;
    if (distinct.length < MINHASH_SIZE) distinct.push(hashes[i]!);
  }
  return { minhash: Uint32Array.from(distinct), shingles, ...identity };
}

/**
 * Estimated Jaccard similarity of the two documents' shingle sets (0 when either has no words):
 * of the k smallest hashes of the union, the share found in both (exact while both documents have
 * at most MINHASH_SIZE shingles).
 */
export function similarity(a: Fingerprint, b: Fingerprint): number {
  const x = a.minhash;
  const y = b.minhash;
  if (x.length === 0 || y.length === 0) return 0;
  const k = MINHASH_SIZE;
  let i = 0;
  let j = 0;
  let taken = 0;
  let both = 0;
  // The k smallest hashes of the union are the k smallest of the two lists merged; each of them
  // is at most both lists' largest when both are full, so "in both lists" means "in both
  // documents". A list that ends before k is the document's whole set.
  while (taken < k && (i < x.length || j < y.length)) {
    if (i < x.length && j < y.length && x[i] === y[j]) {
      both++;
      i++;
      j++;
    } else if (j >= y.length || (i < x.length && x[i]! < y[j]!)) i++;
    else j++;
    taken++;
  }
  return both / taken;
}
/** Whether each document's cover words (if it has a cover) all stand at the other's opening. */
export function sameNaming(a: Fingerprint, b: Fingerprint): boolean {
  const within = (cover: string[] | undefined, other: Fingerprint) => {
    if (!cover) return true;
    const opening = new Set([...other.opening, ...(other.cover ?? [])]);
    return cover.every((w) => opening.has(w));
  };
  return within(a.cover, b) && within(b.cover, a);
}

export function areNearDuplicates(a: Fingerprint, b: Fingerprint): boolean {
  return similarity(a, b) >= NEAR_DUPLICATE_JACCARD && sameNaming(a, b);
}
