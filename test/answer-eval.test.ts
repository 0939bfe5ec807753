/**
 * The answer evaluation (bench:answers) on a small dataset through a real knowledge base:
 * ingest, ACL-filtered retrieval and the extractive answerer, as `/api/v1/ask`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { QaDataset } from "../src/eval/qa-formats.ts";
import { normalizeForMatch, runAnswerEval } from "../src/eval/run-answer-eval.ts";
import { openTestKb, type TestKb } from "./helpers/kb.ts";

const dataset: QaDataset = {
  documents: [
    { id: "a", title: "연차", text: "연차 휴가는 입사 1년 후 15일이 주어진다. 사용하지 않은 연차는 다음 해로 이월되지 않는다." },
    { id: "b", title: "재택", text: "재택근무는 일주일에 이틀까지 허용된다. 재택근무 중에도 코어타임은 오전 10시부터 오후 4시까지이다." },
    { id: "c", title: "Expenses", text: "Travel expenses are reimbursed within 30 days. Receipts must be uploaded to the finance portal." },
    { id: "d", title: "Parking", text: "The visitor car park closes at 9 pm. Employees park on level minus two." },
  ],
  questions: [
    { id: "q1", question: "입사 1년 후 연차 휴가는 며칠인가?", relevantDocumentIds: ["a"], answers: ["15일"] },
    { id: "q2", question: "재택근무는 일주일에 며칠까지 허용되나?", relevantDocumentIds: ["b"], answers: ["이틀"] },
    { id: "q3", question: "How soon are travel expenses reimbursed?", relevantDocumentIds: ["c"], answers: ["within 30 days"] },
    // "Parking" is the held-out article (every 4th title): nothing in the index supports an answer.
    { id: "q4", question: "When does the visitor car park close?", relevantDocumentIds: ["d"], answers: ["9 pm"] },
  ],
};

describe("answer evaluation", () => {
  let t: TestKb;
  beforeAll(async () => {
    t = await openTestKb();
  });
  afterAll(async () => {
    await t.close();
  });

  it("asks through the real ask path: answerable questions answered from the reference, held-out ones declined", async () => {
    const r = await runAnswerEval(t.kb, dataset, { holdOutEvery: 4 });
    expect(r.documents).toBe(3);
    expect(r.answerable).toBe(3);
    expect(r.heldOut).toBe(1);
    expect(r.answered).toBe(3);
    expect(r.containsAnswer).toBe(3);
    expect(r.firstSentenceContainsAnswer).toBe(3);
    expect(r.citesReference).toBe(3);
    expect(r.abstained).toBe(1);
    expect(r.mode).toBe("lexical retrieval, extractive answers");
  });

  it("matches reference answers ignoring whitespace, case and width", () => {
    expect(normalizeForMatch("Within  30 Days")).toBe("within30days");
    expect(normalizeForMatch("１５ 일")).toBe("15일");
  });
});
