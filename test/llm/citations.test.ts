import { describe, expect, it } from "vitest";
import { checkCitations, findMarkers, isNoAnswer, parseMarkerNumbers, supportScore, SUPPORT_THRESHOLD } from "../../src/domain/grounding/citations.ts";
import { SOURCES_EN, SOURCES_KO } from "./fixtures.ts";

describe("citation markers", () => {
  it("parses single, grouped, adjacent and ranged markers", () => {
    const ms = findMarkers("a [1] b [1, 2] c [3][4] d [2-4] e [출처 5] f [source 6] g [2023] h");
    expect(ms.map((m) => m.numbers)).toEqual([[1], [1, 2], [3], [4], [2, 3, 4], [5], [6]]);
    expect(parseMarkerNumbers("1，2、3")).toEqual([1, 2, 3]);
    expect(parseMarkerNumbers("1-100")).toEqual([1, 100]); // absurd range: not expanded
  });
});

describe("checkCitations", () => {
  it("keeps supported citations and quotes the best-matching source sentence", () => {
    const r = checkCitations("Acme reported revenue of $5.2 billion in 2023 [1]. Staff get 15 days of annual leave [2].", SOURCES_EN);
    expect(r.flagged).toEqual([]);
    expect(r.citations.map((c) => c.n)).toEqual([1, 2]);
    expect(r.citations[0]).toMatchObject({ documentId: "doc-1", title: "Acme annual report 2023", page: 1 });
    expect(r.citations[0]!.quote).toBe("In fiscal 2023, Acme's revenue reached $5.2 billion, up 12% from the previous year.");
    expect(r.citations[1]!.quote).toBe("Employees receive 15 days of paid annual leave per year.");
    expect(r.cleanedAnswer).toBe("Acme reported revenue of $5.2 billion in 2023 [1]. Staff get 15 days of annual leave [2].");
  });

  it("drops citations of the wrong source and flags them", () => {
    const r = checkCitations("Acme reported revenue of $5.2 billion in 2023 [2]. Staff get 15 days of annual leave [1].", SOURCES_EN);
    expect(r.citations).toEqual([]);
    expect(r.flagged).toEqual([
      { n: 2, reason: "unsupported-claim" },
      { n: 1, reason: "unsupported-claim" },
    ]);
    expect(r.cleanedAnswer).toBe("Acme reported revenue of $5.2 billion in 2023. Staff get 15 days of annual leave.");
  });

  it("drops numbers that are not sources, keeping the rest of a group", () => {
    const r = checkCitations("Acme's revenue was $5.2 billion [1, 7] and unused leave can be carried over [2][9].", SOURCES_EN);
    expect(r.cleanedAnswer).toBe("Acme's revenue was $5.2 billion [1] and unused leave can be carried over [2].");
    expect(r.flagged).toEqual([
      { n: 7, reason: "nonexistent-source" },
      { n: 9, reason: "nonexistent-source" },
    ]);
    expect(r.citations.map((c) => c.n)).toEqual([1, 2]);
    expect(r.citations[1]!.quote).toBe("Unused leave can be carried over for one year.");
  });

  it("attaches a marker after the period to that sentence, and drops a made-up claim", () => {
    const r = checkCitations("Revenue grew 12% thanks to cloud services. [1] The CEO resigned in May [1].", SOURCES_EN);
    expect(r.cleanedAnswer).toBe("Revenue grew 12% thanks to cloud services. [1] The CEO resigned in May.");
    expect(r.citations.map((c) => c.n)).toEqual([1]);
    expect(r.citations[0]!.quote).toBe("The growth came from cloud services.");
    expect(r.flagged).toEqual([{ n: 1, reason: "unsupported-claim" }]);
  });

  it("checks Korean claims regardless of particles and endings", () => {
    const ok = checkCitations("2023년 매출은 5조 2천억 원이었습니다 [1]. 직원은 연차를 15일 받습니다[2].", SOURCES_KO);
    expect(ok.flagged).toEqual([]);
    expect(ok.citations.map((c) => [c.n, c.quote])).toEqual([
      [1, "2023년 회사의 매출은 5조 2천억 원으로 전년 대비 12% 증가했다."],
      [2, "직원은 매년 15일의 유급 연차 휴가를 받는다."],
    ]);
    const swapped = checkCitations("2023년 매출은 5조 2천억 원이었습니다 [2]. 직원은 연차를 15일 받습니다 [1].", SOURCES_KO);
    expect(swapped.citations).toEqual([]);
    expect(swapped.cleanedAnswer).toBe("2023년 매출은 5조 2천억 원이었습니다. 직원은 연차를 15일 받습니다.");
    const madeUp = checkCitations("클라우드 사업 덕분에 성장했습니다[1]. 사장은 5월에 사임했다[1].", SOURCES_KO);
    expect(madeUp.cleanedAnswer).toBe("클라우드 사업 덕분에 성장했습니다[1]. 사장은 5월에 사임했다.");
  });

  it("checks each clause of a sentence against its own citation", () => {
    const r = checkCitations("Acme's revenue reached $5.2 billion [1], and employees receive 15 days of paid leave [2].", SOURCES_EN);
    expect(r.flagged).toEqual([]);
    expect(r.citations.map((c) => c.n)).toEqual([1, 2]);
  });

  it("support scores separate grounded from unrelated sentences around the threshold", () => {
    expect(supportScore("Acme reported revenue of $5.2 billion in 2023", SOURCES_EN[0]!.text)).toBeGreaterThan(0.6);
    expect(supportScore("Staff get 15 days of annual leave", SOURCES_EN[0]!.text)).toBeLessThan(SUPPORT_THRESHOLD);
    expect(supportScore("The CEO resigned in May", SOURCES_EN[0]!.text)).toBeLessThan(SUPPORT_THRESHOLD);
    expect(supportScore("직원은 연차를 15일 받습니다", SOURCES_KO[1]!.text)).toBeGreaterThan(0.5);
  });

  it("leaves an answer without markers alone", () => {
    const r = checkCitations("Nothing cited here.", SOURCES_EN);
    expect(r).toEqual({ citations: [], flagged: [], cleanedAnswer: "Nothing cited here." });
  });
});

describe("isNoAnswer", () => {
  it("recognizes I-don't-know answers in English and Korean", () => {
    for (const t of [
      "I don't know; the provided documents do not contain the answer.",
      "I cannot find this in the sources.",
      "The sources do not mention the 2024 budget.",
      "There is no information about that in the documents.",
    ]) {
      expect(isNoAnswer(t, "en"), t).toBe(true);
    }
    for (const t of ["제공된 문서에서 답을 찾을 수 없습니다.", "문서에 해당 정보가 없습니다.", "출처에 언급되어 있지 않습니다.", "잘 모르겠습니다."]) {
      expect(isNoAnswer(t, "ko"), t).toBe(true);
    }
    expect(isNoAnswer("", "en")).toBe(true);
    expect(isNoAnswer("제공된 문서에서 답을 찾을 수 없습니다.", "en")).toBe(true); // model switched language
  });

  it("does not take real answers (or caveated ones) for no-answers", () => {
    expect(isNoAnswer("Revenue was $5.2 billion [1].", "en")).toBe(false);
    expect(isNoAnswer("매출은 5조 2천억 원입니다 [1].", "ko")).toBe(false);
    expect(isNoAnswer("The documents don't say for 2024, but revenue in 2023 was $5.2 billion [1].", "en")).toBe(false);
    expect(isNoAnswer("2024년 자료는 없지만, 2023년 매출은 5조 원입니다. 하지만 ...", "ko")).toBe(false);
  });
});
