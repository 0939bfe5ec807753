/**
 * Tokens of a text, estimated on the high side, for a model whose tokenizer is not here (a model
 * server on the network; the grounded prompt without a counter): a Hangul/CJK character is about
 * one token in common multilingual vocabularies (often less), other text about 3.3 characters per token.
 */
export function estimateTokens(text: string): number {
  let wide = 0;
  let other = 0;
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if ((c >= 0xac00 && c <= 0xd7a3) || (c >= 0x1100 && c <= 0x11ff) || (c >= 0x3040 && c <= 0x30ff) || (c >= 0x4e00 && c <= 0x9fff)) wide++;
    else other++;
  }
  return Math.ceil(wide * 1.1 + other * 0.3);
}
