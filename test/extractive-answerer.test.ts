/** The extractive answerer alone: which sentences it quotes, and when it says it found nothing. */
import { describe, expect, it } from "vitest";
import { ExtractiveAnswerer, NO_ANSWER, selectSentences } from "../src/services/answer/extractive.ts";
import type { AnswerEvent, AnswerRequest, AnswerSource } from "../src/services/answer/types.ts";

const source = (n: number, title: string, text: string): AnswerSource => ({ n, documentId: `doc${n}`, chunkId: `c${n}`, title, source: `${title}.md`, page: 1, text });

async function answer(request: Omit<AnswerRequest, "language"> & { language?: "ko" | "en" }) {
  const events: AnswerEvent[] = [];
  for await (const e of new ExtractiveAnswerer().answer({ language: "en", ...request })) events.push(e);
  const done = events.at(-1);
  if (done?.type !== "done") throw new Error("no done event");
  return done;
}

const parking = source(1, "Parking", "The visitor car park closes at 9 pm. Employees park on level minus two with their badge.");
const travel = source(2, "Travel policy", "Travel expenses are reimbursed within 30 days. Receipts must be uploaded to the finance portal.");

describe("extractive answerer", () => {
  it("quotes the sentence that answers, with its citation", async () => {
    const done = await answer({ question: "When are travel expenses reimbursed?", sources: [parking, travel] });
    expect(done.found).toBe(true);
    expect(done.answer).toContain("Travel expenses are reimbursed within 30 days. [2]");
    expect(done.citations.map((c) => c.n)).toEqual([2]);
  });

  it("says it found nothing when the passage does not cover the question, even if a sentence shares a word", async () => {
    // "park" matches, but nothing about a night shift, a canteen or its opening hours.
    const done = await answer({ question: "When does the night shift canteen near the park open?", sources: [parking, travel] });
    expect(done.found).toBe(false);
    expect(done.answer).toBe(NO_ANSWER.en);
    expect(done.citations).toEqual([]);
  });

  it("does not count the labels of an attached image's text and description as asked words", () => {
    const printer = source(1, "Printer codes", "The code ZORBLAX on the badge printer means its ribbon cartridge is empty.");
    const plain = selectSentences("What does this error mean? Badge printer Error ZORBLAX", [printer, parking, travel], "en")[0]!;
    const labelled = selectSentences("What does this error mean?\n\n[image] a printer on a desk\n[image text] Badge printer Error ZORBLAX", [printer, parking, travel], "en")[0]!;
    expect(labelled.sentence).toBe(plain.sentence);
    // The description's own words ("desk") are asked words; the labels "image" and "text" are not.
    const described = selectSentences("What does this error mean? a printer on a desk Badge printer Error ZORBLAX", [printer, parking, travel], "en")[0]!;
    expect(labelled.questionTerms).toBe(described.questionTerms);
    expect(labelled.passageCoverage).toBeCloseTo(described.passageCoverage, 10);
  });

  it("judges a two-term question on the sentence alone", async () => {
    const sick = source(1, "병가", "# 병가\n\n병가는 연간 최대 10일까지 사용할 수 있으며 진단서를 제출해야 합니다.");
    const done = await answer({ question: "병가는 며칠까지 쓸 수 있나요?", language: "ko", sources: [sick] });
    expect(done.found).toBe(true);
    expect(done.answer).toContain("10일");
  });

  it("matches a follow-up through its standalone retrieval query", async () => {
    const leave = source(1, "연차 휴가", "# 연차 휴가\n\n1년 이상 근무한 직원에게는 매년 15일의 연차 휴가가 부여됩니다. 연차 휴가는 인사 시스템에서 신청합니다.");
    // Alone, "그럼 그건 어디서?" has no term to match (fillers and question words).
    expect((await answer({ question: "그럼 그건 어디서?", language: "ko", sources: [leave] })).found).toBe(false);
    const done = await answer({ question: "그럼 그건 어디서?", retrievalQuery: "연차 휴가는 며칠인가요? 그럼 그건 어디서?", language: "ko", sources: [leave] });
    expect(done.found).toBe(true);
    expect(done.answer).toContain("연차 휴가는 인사 시스템에서 신청합니다. [1]");
  });

  it("once the gate passes, quotes the best-scoring sentence even when that sentence alone is below the gate", async () => {
    // "Regional trucks use the northern depot" covers more of the question (and passes the gate);
    // the sentence that answers "when" repeats only "dock" and "opened", but holds the date and
    // stands in the best-ranked passage.
    const dock = source(1, "Northern depot loading dock", "The dock opened in March 2019.");
    const trucks = source(2, "Loading regional trucks", "Regional trucks use the northern depot every day.");
    const done = await answer({ question: "When did the northern depot open its new loading dock for the regional trucks?", sources: [dock, trucks] });
    expect(done.found).toBe(true);
    expect(done.answer.split("\n")[1]).toBe("The dock opened in March 2019. [1]");
    // Without a sentence over the gate it still says it found nothing.
    const alone = await answer({ question: "When did the northern depot open its new loading dock for the regional trucks?", sources: [dock] });
    expect(alone.found).toBe(false);
  });

  it("lets a passage through on less of the question when three of the sources come from its document", async () => {
    // The dock's passage covers about 0.6 of the question, its sentence under 0.3: alone (or beside
    // unrelated documents) that is "I don't know"; as one of three passages of the same document it answers.
    const question = "When did the northern depot open its new loading dock for the regional trucks?";
    const dock = source(1, "Northern depot loading dock", "The dock opened in March 2019.");
    const sameDocument = [source(2, "Northern depot loading dock", "It has four bays for vans."), source(3, "Northern depot loading dock", "Forklifts are charged overnight.")];
    const unrelated = [source(4, "Canteen", "The canteen serves lunch from noon."), source(5, "Parking", "Visitors park on level one.")];
    expect((await answer({ question, sources: [dock, ...unrelated] })).found).toBe(false);
    const done = await answer({ question, sources: [dock, ...sameDocument, ...unrelated] });
    expect(done.found).toBe(true);
    expect(done.answer.split("\n")[1]).toBe("The dock opened in March 2019. [1]");
  });

  it("asks more of a passage that is the only one of its document among five scattered sources", async () => {
    // The passage covers a little over half of the question: enough beside another passage of its
    // document, not when every source comes from a different document (retrieval scattered: the
    // documents probably do not hold the answer).
    const question = "How many parking spaces are reserved for visitors of the eastern warehouse during the night shift?";
    const lot = source(1, "Eastern warehouse", "The eastern warehouse reserves twelve parking spaces for visitors.");
    const scattered = [source(2, "Canteen", "The canteen opens at noon for the night shift."), source(3, "Badges", "Visitors collect a badge at reception."), source(4, "Fire drills", "Fire drills take place every spring."), source(5, "Printers", "Printers are on every floor.")];
    expect((await answer({ question, sources: [lot, ...scattered] })).found).toBe(false);
    const sibling = source(6, "Eastern warehouse", "Deliveries arrive at the loading bay.");
    const done = await answer({ question, sources: [lot, sibling, ...scattered.slice(0, 3)] });
    expect(done.found).toBe(true);
    expect(done.answer).toContain("The eastern warehouse reserves twelve parking spaces for visitors. [1]");
  });
});
