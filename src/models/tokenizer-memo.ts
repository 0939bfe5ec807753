/**
 * A memo of WordPiece's per-word work for a transformers.js tokenizer.
 *
 * transformers.js's WordPiece model finds each word's sub-words by greedy longest match, building
 * and joining a character array for every candidate substring: on a long document this is about
 * half of all tokenising time (measured: 1.6 of 3.1 s for the 1.8 M characters of a 619-page PDF),
 * and the same words come back on every page. A word's sub-words depend on that word alone (the
 * model encodes the pre-tokenised words one by one), so they are remembered per word; the ids are
 * the library's own, byte for byte (test/tokenizer-memo.test.ts compares them on Korean and
 * English text). Only a WordPiece model is memoised (BPE has its own cache in the library;
 * Unigram's cost is elsewhere); any other shape of tokenizer is left as it is.
 */
import type { PreTrainedTokenizer } from "@huggingface/transformers";

/** Words remembered per tokenizer before the memo starts afresh (bounds its memory: ~10 MB). */
export const WORDPIECE_MEMO_WORDS = 100_000;

interface WordPieceModel {
  config?: { type?: string };
  encode: (tokens: string[]) => string[];
  __kbMemo?: true;
}

/** Memoises the tokenizer's WordPiece model in place; returns whether it did. */
export function memoizeWordPiece(tokenizer: PreTrainedTokenizer, maxWords = WORDPIECE_MEMO_WORDS): boolean {
  // transformers.js 4 keeps the tokenizers-library pipeline in `_tokenizer` (3.x had it on the tokenizer itself).
  const inner = tokenizer as unknown as { _tokenizer?: { model?: WordPieceModel }; model?: WordPieceModel };
  const model = inner._tokenizer?.model ?? inner.model;
  if (!model || typeof model.encode !== "function" || model.config?.type !== "WordPiece") return false;
  if (model.__kbMemo) return true;
  const encodeWords = model.encode.bind(model);
  let memo = new Map<string, string[]>();
  model.encode = (tokens: string[]): string[] => {
    const out: string[] = [];
    for (const token of tokens) {
      let pieces = memo.get(token);
      if (pieces === undefined) {
        pieces = encodeWords([token]);
        if (memo.size >= maxWords) memo = new Map();
        memo.set(token, pieces);
      }
      for (const p of pieces) out.push(p);
    }
    return out;
  };
  model.__kbMemo = true;
  return true;
}
