import fs from "node:fs";
import path from "node:path";
import { AutoTokenizer, type PreTrainedTokenizer } from "@huggingface/transformers";
import { describe, expect, inject, it } from "vitest";
import { memoizeWordPiece } from "../src/models/tokenizer-memo.ts";

const MODEL_DIR = inject("KB_TEST_EMBED_MODEL_DIR");
const SHARED_BERT = path.resolve("../shared/models/tiny-random-bert-ko");

const TEXTS = [
  "제3조(정보보호) 회사는 개인정보를 암호화하여 저장한다. 2023년 3분기 보고서의 매출은 1,234억 원이다.",
  "The Board approved the 2021 annual report of the Busan branch; revenue rose 12.5% year-on-year.",
  "unaffable unaffable UNAFFABLE naïve café — résumé, e-mail, co-operate; https://intra.example/kb?q=보안",
  "반복되는 단어 반복되는 단어 반복되는 단어 repeated words repeated words",
  "",
  "  \t\n 공백만 앞뒤에  ",
  "一二三 漢字와 한글이 섞인 문장, and 中文 characters",
  "x".repeat(150) + " 초장문단어".repeat(30),
];

function idsOf(tok: PreTrainedTokenizer, texts: string[], pairs = false): number[][] {
  const enc = (pairs ? tok(texts, { text_pair: texts.map((t) => t.slice(0, 20)), padding: false, truncation: false, return_tensor: false }) : tok(texts, { padding: false, truncation: false, return_tensor: false })) as unknown as { input_ids: number[][] };
  return enc.input_ids;
}

async function pair(dir: string): Promise<{ plain: PreTrainedTokenizer; memo: PreTrainedTokenizer }> {
  const plain = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  const memo = await AutoTokenizer.from_pretrained(dir, { local_files_only: true });
  // The memo must take effect: if a transformers.js upgrade moves the model, this fails rather
  // than the memo silently doing nothing.
  expect(memoizeWordPiece(memo)).toBe(true);
  return { plain, memo };
}

describe("WordPiece memo", () => {
  it("gives the library's own ids, first time and remembered, single texts and pairs", async () => {
    const { plain, memo } = await pair(MODEL_DIR);
    for (let round = 0; round < 2; round++) {
      expect(idsOf(memo, TEXTS)).toEqual(idsOf(plain, TEXTS));
      expect(idsOf(memo, TEXTS, true)).toEqual(idsOf(plain, TEXTS, true));
    }
  });

  it("stays exact when its bound makes it start afresh", async () => {
    const plain = await AutoTokenizer.from_pretrained(MODEL_DIR, { local_files_only: true });
    const memo = await AutoTokenizer.from_pretrained(MODEL_DIR, { local_files_only: true });
    expect(memoizeWordPiece(memo, 3)).toBe(true);
    expect(memoizeWordPiece(memo, 3)).toBe(true); // a second call does not wrap it twice
    for (let round = 0; round < 3; round++) expect(idsOf(memo, TEXTS)).toEqual(idsOf(plain, TEXTS));
  });

  it.skipIf(!fs.existsSync(SHARED_BERT))("matches on a real Korean BERT vocabulary and KorQuAD text (../shared)", async () => {
    const { plain, memo } = await pair(SHARED_BERT);
    const korquad = path.resolve("../shared/data/korquad1_dev/KorQuAD_v1.0_dev.json");
    const contexts = fs.existsSync(korquad)
      ? (JSON.parse(fs.readFileSync(korquad, "utf8")) as { data: { paragraphs: { context: string }[] }[] }).data.flatMap((a) => a.paragraphs.map((p) => p.context)).slice(0, 300)
      : TEXTS;
    const texts = [...TEXTS, ...contexts];
    expect(idsOf(memo, texts)).toEqual(idsOf(plain, texts));
    expect(idsOf(memo, texts)).toEqual(idsOf(plain, texts));
  });

  it("leaves a tokenizer that is not WordPiece alone", async () => {
    const tok = await AutoTokenizer.from_pretrained(MODEL_DIR, { local_files_only: true });
    const inner = (tok as unknown as { _tokenizer: { model: { config: { type: string } } } })._tokenizer.model;
    inner.config = { ...inner.config, type: "BPE" };
    expect(memoizeWordPiece(tok)).toBe(false);
  });
});
