/**
 * OCR quality metrics used by bench/ocr.ts and the OCR tests.
 *
 * - wordRecall: share of ground-truth words of 2+ characters found in the OCR text, as a bag of
 *   words (each OCR word can match one ground-truth occurrence). Words are whitespace-separated
 *   tokens, NFC-normalised, with leading/trailing punctuation and symbols removed. Order-free, so
 *   layout/reading-order differences do not count, but a word must be read exactly.
 * - cer: character error rate = Levenshtein distance / ground-truth length, after NFC and collapsing
 *   all whitespace runs to one space.
 */

export function ocrWords(text: string, minLength = 2): string[] {
  return text
    .normalize("NFC")
    .split(/\s+/)
    .map((w) => w.replace(/^[\p{P}\p{S}]+|[\p{P}\p{S}]+$/gu, ""))
    .filter((w) => [...w].length >= minLength);
}

export interface RecallResult {
  recall: number;
  found: number;
  total: number;
  missed: string[];
}

export function wordRecall(groundTruth: string, ocrText: string, minLength = 2): RecallResult {
  const bag = new Map<string, number>();
  for (const w of ocrWords(ocrText, minLength)) bag.set(w, (bag.get(w) ?? 0) + 1);
  let found = 0;
  const missed: string[] = [];
  const gt = ocrWords(groundTruth, minLength);
  for (const w of gt) {
    const c = bag.get(w) ?? 0;
    if (c > 0) {
      found++;
      bag.set(w, c - 1);
    } else missed.push(w);
  }
  return { recall: gt.length ? found / gt.length : 1, found, total: gt.length, missed };
}

function normalizeForCer(s: string): string[] {
  return [...s.normalize("NFC").replace(/\s+/g, " ").trim()];
}

/** Levenshtein distance over code-point arrays (O(n·m) time, O(m) memory). */
export function levenshtein(a: readonly string[], b: readonly string[]): number {
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  let prev = new Uint32Array(b.length + 1);
  let cur = new Uint32Array(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    const ai = a[i - 1];
    for (let j = 1; j <= b.length; j++) {
      const sub = prev[j - 1]! + (ai === b[j - 1] ? 0 : 1);
      const del = prev[j]! + 1;
      const ins = cur[j - 1]! + 1;
      cur[j] = sub < del ? (sub < ins ? sub : ins) : del < ins ? del : ins;
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length]!;
}

export function cer(groundTruth: string, ocrText: string): number {
  const g = normalizeForCer(groundTruth);
  const o = normalizeForCer(ocrText);
  return g.length ? levenshtein(g, o) / g.length : o.length ? 1 : 0;
}
