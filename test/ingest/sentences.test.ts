import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { splitSentences } from "../../src/domain/analysis/sentences.ts";

describe("splitSentences: Korean", () => {
  it("splits at Korean sentence endings", () => {
    expect(splitSentences("연차는 15일입니다. 병가는 60일이다. 반차도 가능해요. 신청했나요? 그렇죠. 승인 완료함. 처리 완료됨. 확인 필요음.")).toEqual([
      "연차는 15일입니다.",
      "병가는 60일이다.",
      "반차도 가능해요.",
      "신청했나요?",
      "그렇죠.",
      "승인 완료함.",
      "처리 완료됨.",
      "확인 필요음.",
    ]);
  });

  it("splits sentences glued without a space", () => {
    expect(splitSentences("그는 떠났다.그러나 돌아왔다.")).toEqual(["그는 떠났다.", "그러나 돌아왔다."]);
    expect(splitSentences("할까?그러면 좋겠다.")).toEqual(["할까?", "그러면 좋겠다."]);
  });

  it("treats a line break as the end of a Korean sentence without a final period", () => {
    expect(splitSentences("첫째 줄 마침표 없음\n둘째 줄도 없음\n셋째 줄.")).toEqual(["첫째 줄 마침표 없음", "둘째 줄도 없음", "셋째 줄."]);
  });

  it("does not split inside quotes followed by a particle", () => {
    expect(splitSentences('그는 "안녕."이라고 말했다. 그리고 떠났다.')).toEqual(['그는 "안녕."이라고 말했다.', "그리고 떠났다."]);
    expect(splitSentences("그는 “좋다.”고 했다. 끝.")).toEqual(["그는 “좋다.”고 했다.", "끝."]);
  });

  it("keeps list markers with their item and splits items apart", () => {
    expect(splitSentences("1. 계약관계 관련 용어\n가. 계약자: 회사와 계약을 체결하는 사람을 말합니다.\n- 항목 하나\n- 항목 둘")).toEqual([
      "1. 계약관계 관련 용어",
      "가. 계약자: 회사와 계약을 체결하는 사람을 말합니다.",
      "- 항목 하나",
      "- 항목 둘",
    ]);
    expect(splitSentences("①회사는 지급합니다. ② 다만 예외가 있습니다.")).toEqual(["①회사는 지급합니다.", "② 다만 예외가 있습니다."]);
  });

  it("does not split inside parentheses", () => {
    expect(splitSentences("보험금(이하 ‘보험금’이라 합니다. 단, 예외 있음)을 지급합니다. 다음 문장.")).toEqual([
      "보험금(이하 ‘보험금’이라 합니다. 단, 예외 있음)을 지급합니다.",
      "다음 문장.",
    ]);
  });
});

describe("splitSentences: English", () => {
  it("handles abbreviations, initials and decimals", () => {
    expect(splitSentences("Mr. Smith met Dr. Kim at 3.14 p.m. in the U.S. Army base. It was late. See e.g. the report.")).toEqual([
      "Mr. Smith met Dr. Kim at 3.14 p.m. in the U.S. Army base.",
      "It was late.",
      "See e.g. the report.",
    ]);
    expect(splitSentences("J. R. R. Tolkien wrote books. They sold well.")).toEqual(["J. R. R. Tolkien wrote books.", "They sold well."]);
    expect(splitSentences("The value is 1.5 million. Version 2.0.1 was released.")).toEqual(["The value is 1.5 million.", "Version 2.0.1 was released."]);
    expect(splitSentences("Apples, pears, etc. are fruit. Use etc. Then stop.")).toEqual(["Apples, pears, etc. are fruit.", "Use etc.", "Then stop."]);
    expect(splitSentences("Visit www.example.com. It is great.")).toEqual(["Visit www.example.com.", "It is great."]);
  });

  it("handles quotes, brackets, ellipses and ?!", () => {
    expect(splitSentences('He said "Stop." Then he left. (This is a note. It has two sentences.) Next one!')).toEqual([
      'He said "Stop."',
      "Then he left.",
      "(This is a note. It has two sentences.)",
      "Next one!",
    ]);
    expect(splitSentences("Wait... what? Really?! Yes.")).toEqual(["Wait... what?", "Really?!", "Yes."]);
  });

  it("joins an English sentence wrapped onto the next line", () => {
    expect(splitSentences("This line continues\non the next line. And ends.")).toEqual(["This line continues on the next line.", "And ends."]);
  });

  it("handles mixed Korean/English and empty input", () => {
    expect(splitSentences("RAG는 검색 증강 생성입니다. It retrieves passages first. 그 다음 답합니다.")).toEqual([
      "RAG는 검색 증강 생성입니다.",
      "It retrieves passages first.",
      "그 다음 답합니다.",
    ]);
    expect(splitSentences("")).toEqual([]);
    expect(splitSentences(" \n\n ")).toEqual([]);
  });
});

describe("splitSentences: properties", () => {
  const alphabet = fc.constantFrom(..."가나다라마바사 한국어문장입니다요죠음함 abcXYZ 0123 .,!?…()[]“”\"'\n\n-•①".split(""));
  const text = fc.array(alphabet, { maxLength: 300 }).map((a) => a.join(""));

  it("is lossless: every non-whitespace character survives, in order", () => {
    fc.assert(
      fc.property(text, (t) => {
        const out = splitSentences(t);
        expect(out.join("").replace(/\s/g, "")).toBe(t.replace(/\s/g, ""));
        for (const s of out) {
          expect(s.trim()).toBe(s);
          expect(s.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 400 },
    );
  });

  it("is deterministic", () => {
    fc.assert(
      fc.property(text, (t) => {
        expect(splitSentences(t)).toEqual(splitSentences(t));
      }),
      { numRuns: 100 },
    );
  });
});
