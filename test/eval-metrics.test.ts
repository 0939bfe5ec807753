import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { aggregateMetrics, mrrAtK, ndcgAtK, recallAtK } from "../src/eval/metrics.ts";
import { parseAutoRag, parseSquad, QaFormatError, readQaDataset } from "../src/eval/qa-formats.ts";

describe("ranking metrics", () => {
  const ranked = ["a", "b", "c", "d"];

  it("recall@k counts relevant documents in the top k", () => {
    expect(recallAtK(ranked, ["c"], 1)).toBe(0);
    expect(recallAtK(ranked, ["c"], 3)).toBe(1);
    expect(recallAtK(ranked, ["a", "c"], 1)).toBe(0.5);
    expect(recallAtK(ranked, ["a", "c", "z"], 5)).toBeCloseTo(2 / 3, 12);
    expect(recallAtK([], ["a"], 5)).toBe(0);
  });

  it("MRR@k is the reciprocal rank of the first relevant document within k", () => {
    expect(mrrAtK(ranked, ["c"], 10)).toBeCloseTo(1 / 3, 12);
    expect(mrrAtK(ranked, ["a", "c"], 10)).toBe(1);
    expect(mrrAtK(ranked, ["d"], 3)).toBe(0);
    expect(mrrAtK(ranked, ["z"], 10)).toBe(0);
  });

  it("nDCG@k with binary gains", () => {
    // one relevant at rank 3: (1/log2 4) / 1
    expect(ndcgAtK(ranked, ["c"], 10)).toBeCloseTo(0.5, 12);
    // relevant at ranks 1 and 3: (1 + 1/2) / (1 + 1/log2 3)
    expect(ndcgAtK(ranked, ["a", "c"], 10)).toBeCloseTo(1.5 / (1 + 1 / Math.log2(3)), 12);
    // ideal DCG is capped at k: one hit at rank 1 of 3 relevant, k = 1 → 1
    expect(ndcgAtK(ranked, ["a", "b", "c"], 1)).toBe(1);
    expect(ndcgAtK(ranked, ["z"], 10)).toBe(0);
  });

  it("counts a repeated document id once, at its first position", () => {
    const withRepeats = ["b", "b", "b", "a"];
    expect(recallAtK(withRepeats, ["a"], 2)).toBe(1);
    expect(mrrAtK(withRepeats, ["a"], 10)).toBe(0.5);
    expect(ndcgAtK(withRepeats, ["a"], 10)).toBeCloseTo(1 / Math.log2(3), 12);
  });

  it("rejects a k that is not a positive integer", () => {
    expect(() => recallAtK(ranked, ["a"], 0)).toThrow(RangeError);
    expect(() => mrrAtK(ranked, ["a"], 1.5)).toThrow(RangeError);
  });

  it("aggregates means and skips questions without relevant documents", () => {
    const m = aggregateMetrics([
      { ranked: ["a", "b"], relevant: ["a"] }, // hit at 1
      { ranked: ["x", "y", "z", "w", "v", "b"], relevant: new Set(["b"]) }, // hit at 6
      { ranked: ["a"], relevant: [] }, // not scored
    ]);
    expect(m.questions).toBe(2);
    expect(m.recall1).toBe(0.5);
    expect(m.recall5).toBe(0.5);
    expect(m.recall10).toBe(1);
    expect(m.mrr10).toBeCloseTo((1 + 1 / 6) / 2, 12);
    expect(m.ndcg10).toBeCloseTo((1 + 1 / Math.log2(7)) / 2, 12);
    expect(aggregateMetrics([])).toEqual({ recall1: 0, recall5: 0, recall10: 0, mrr10: 0, ndcg10: 0, questions: 0 });
  });
});

describe("QA format readers", () => {
  const dir = mkdtempSync(join(tmpdir(), "kb-qa-formats-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const squad = {
    version: "1.1",
    data: [
      {
        title: "서울",
        paragraphs: [
          {
            context: "서울은 대한민국의 수도이다.",
            qas: [{ id: "q1", question: "대한민국의 수도는?", answers: [{ text: "서울", answer_start: 0 }] }],
          },
          { context: "서울의 인구는 약 천만 명이다.", qas: [{ id: "q2", question: "서울의 인구는?", answers: [] }] },
        ],
      },
      {
        title: "Super Bowl 50",
        paragraphs: [
          {
            context: "Denver won Super Bowl 50.",
            qas: [
              { id: "q3", question: "Who won?", answers: [{ text: "Denver", answer_start: 0 }] },
              { id: "q4", question: "Unanswerable?", answers: [], is_impossible: true },
            ],
          },
        ],
      },
    ],
  };

  it("reads SQuAD/KorQuAD JSON: one document per paragraph, titled by its article", async () => {
    const path = join(dir, "squad.json");
    writeFileSync(path, JSON.stringify(squad));
    const ds = await readQaDataset(path);
    expect(ds.format).toBe("squad");
    expect(ds.documents).toEqual([
      { id: "0-0", title: "서울", text: "서울은 대한민국의 수도이다." },
      { id: "0-1", title: "서울", text: "서울의 인구는 약 천만 명이다." },
      { id: "1-0", title: "Super Bowl 50", text: "Denver won Super Bowl 50." },
    ]);
    expect(ds.questions.map((q) => [q.id, q.relevantDocumentIds])).toEqual([
      ["q1", ["0-0"]],
      ["q2", ["0-1"]],
      ["q3", ["1-0"]],
    ]);
    expect(ds.questions[0]!.answers).toEqual(["서울"]);
  });

  it("rejects malformed SQuAD content with a clear error", () => {
    expect(() => parseSquad({ data: [{ title: "x", paragraphs: [{ qas: [] }] }] })).toThrow(/context/);
    expect(() => parseSquad({ version: "1" })).toThrow(QaFormatError);
  });

  const corpus = [
    { doc_id: "d1", contents: "파일 제목: 공고.pdf\n 내용: 글로벌 팁스 모집", path: "/tmp/x/공고.pdf", metadata: { path: "/tmp/x/공고.pdf", page: -1 } },
    { doc_id: "d2", contents: "신청 자격", path: "/tmp/x/안내.pdf", metadata: { page: 2 } },
  ];
  const qa = [
    { qid: "a1", query: "모집하는 사업은?", retrieval_gt: [["d1"]], generation_gt: ["글로벌 팁스"] },
    { qid: "a2", query: "자격은?", retrieval_gt: [["d2", "d1"], ["d2"]], generation_gt: [] },
  ];
  const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";

  it("reads AutoRAG JSONL with the corpus beside the qa file (or the folder)", async () => {
    const folder = mkdtempSync(join(dir, "autorag-"));
    writeFileSync(join(folder, "qa.jsonl"), jsonl(qa));
    writeFileSync(join(folder, "corpus.jsonl"), jsonl(corpus));
    for (const path of [join(folder, "qa.jsonl"), folder]) {
      const ds = await readQaDataset(path);
      expect(ds.format).toBe("autorag");
      expect(ds.documents).toEqual([
        { id: "d1", title: "공고", text: corpus[0]!.contents },
        { id: "d2", title: "안내", text: "신청 자격" },
      ]);
      expect(ds.questions).toEqual([
        { id: "a1", question: "모집하는 사업은?", relevantDocumentIds: ["d1"], answers: ["글로벌 팁스"] },
        { id: "a2", question: "자격은?", relevantDocumentIds: ["d2", "d1"], answers: [] },
      ]);
    }
  });

  it("explains what is wrong with AutoRAG input", async () => {
    expect(() => parseAutoRag(jsonl([{ qid: "x", query: "q", retrieval_gt: [["nope"]] }]), jsonl(corpus))).toThrow(/unknown doc_id nope/);
    expect(() => parseAutoRag("{not json\n", jsonl(corpus))).toThrow(/line 1 is not valid JSON/);
    const lonely = mkdtempSync(join(dir, "lonely-"));
    writeFileSync(join(lonely, "qa.jsonl"), jsonl(qa));
    await expect(readQaDataset(join(lonely, "qa.jsonl"))).rejects.toThrow(/corpus.jsonl is missing/);
    const corpusOnly = join(lonely, "corpus-only.jsonl");
    writeFileSync(corpusOnly, jsonl(corpus));
    await expect(readQaDataset(corpusOnly)).rejects.toThrow(/pass the qa.jsonl/);
  });

  it("rejects unknown formats", async () => {
    const cases: [string, string][] = [
      ["other.json", JSON.stringify({ rows: [1, 2, 3] })],
      ["other.jsonl", jsonl([{ id: 1, text: "x" }])],
      ["notes.txt", "just some text"],
      ["empty.json", ""],
    ];
    for (const [name, content] of cases) {
      const path = join(dir, name);
      writeFileSync(path, content);
      await expect(readQaDataset(path)).rejects.toThrow(/unknown QA format/);
    }
    await expect(readQaDataset(join(dir, "missing.json"))).rejects.toThrow(/ENOENT/);
  });
});
