/** Answer-type cues of the extractive answerer: what a question asks for, and which sentence holds it. */
import { describe, expect, it } from "vitest";
import { expectedAnswerType, holdsAnswerOfType } from "../src/domain/grounding/answer-type.ts";
import { ExtractiveAnswerer, selectSentences } from "../src/services/answer/extractive.ts";
import type { AnswerSource } from "../src/services/answer/types.ts";

describe("expected answer type", () => {
  it.each([
    ["포켓몬스터 금은이 유럽에서 발매된 해는?", "ko", "date"],
    ["아이케 장군이 전사한 때는 언제인가?", "ko", "date"],
    ["북미에서 금은의 예약 판매된 수량은 몇 장인가?", "ko", "number"],
    ["생활이 어려워 무예를 중단한 임세영은 누구의 밑에서 다시 시작했는가?", "ko", "person"],
    ["정도전이 유배당한 곳은 어디인가?", "ko", "place"],
    ["연차 휴가는 며칠인가요?", "ko", "number"],
    ["금강산의 가을 이름은?", "ko", "other"],
    ["When did the Broncos last win the Super Bowl?", "en", "date"],
    ["How many touchdowns did Newton throw?", "en", "number"],
    ["Who was the MVP of Super Bowl 50?", "en", "person"],
    ["Where was Super Bowl 50 held?", "en", "place"],
    ["What color was used to emphasize the anniversary?", "en", "other"],
  ] as const)("%s → %s", (question, lang, type) => {
    expect(expectedAnswerType(question, lang)).toBe(type);
  });

  it("counts only values the question does not already hold", () => {
    const q = "1999년 개최지 선정방식에 큰 변화를 가져다준 사건은 언제 일어났는가?";
    expect(holdsAnswerOfType("1999년에 올림픽 개최지 선정 방식에 큰 변화가 일어났다.", q, "date", "ko")).toBe(false);
    expect(holdsAnswerOfType("솔트레이크 뇌물 파동은 1998년 12월에 드러났다.", q, "date", "ko")).toBe(true);
    expect(holdsAnswerOfType("Denver beat Carolina 24–10.", "How many points did Denver score?", "number", "en")).toBe(true);
    expect(holdsAnswerOfType("The game was played at Levi's Stadium.", "Who won the game?", "person", "en")).toBe(true);
    expect(holdsAnswerOfType("the game was played at the stadium.", "Who won the game?", "person", "en")).toBe(false);
  });
});

describe("sentence choice", () => {
  const source = (n: number, text: string): AnswerSource => ({ n, documentId: `d${n}`, chunkId: `c${n}`, title: "포켓몬스터 금·은", source: "p.md", page: 1, text });
  const passage = source(
    1,
    // Both sentences hold every term of the question; only the second says when.
    "포켓몬스터 금·은은 유럽에서 발매되어 큰 인기를 얻었다. 포켓몬스터 금·은은 유럽에서 2001년 4월에 발매되었다.",
  );

  it("prefers the sentence holding the asked-for kind of value over one that only repeats the question", () => {
    const [best] = selectSentences("포켓몬스터 금은이 유럽에서 발매된 해는?", [passage], "ko");
    expect(best?.sentence).toContain("2001년");
    expect(best?.features.answerType).toBe(1);
  });

  it("quotes the answering sentence first, and still declines an unrelated question", async () => {
    const run = async (question: string) => {
      let done;
      for await (const e of new ExtractiveAnswerer().answer({ question, language: "ko", sources: [passage] })) if (e.type === "done") done = e;
      return done!;
    };
    const found = await run("포켓몬스터 금은이 유럽에서 발매된 해는?");
    expect(found.found).toBe(true);
    expect(found.answer.split("\n")[1]).toContain("2001년");
    const none = await run("사내 식당의 야간 운영 시간과 메뉴 가격은 얼마인가?");
    expect(none.found).toBe(false);
  });
});

describe("a question that names its document", () => {
  const cover = "한빛전자 주식회사 2021년 2분기 분기보고서 문서번호: DOC-2021-187 작성일: 2021-07-28";
  const src = (n: number, documentId: string, text: string, naming?: string): AnswerSource => ({ n, documentId, chunkId: `c${n}`, title: "scan-1012", source: "archive/scan-1012.pdf", page: n, text, ...(naming ? { naming } : {}) });
  const question = "2021년 2분기 한빛전자 분기보고서에서, 반기문이 참여정부에서 맡은 직위는?";
  const body = "반기문은 참여정부에서 외교안보보좌관을 맡았다.";

  it("quotes the body, not the cover that repeats the document's name", () => {
    const [best] = selectSentences(question, [src(1, "d1", cover, cover), src(2, "d1", body, cover)], "ko");
    expect(best?.sentence).toBe(body);
  });

  it("without the cover's naming words the cover wins (what the naming fixes)", () => {
    const [best] = selectSentences(question, [src(1, "d1", cover), src(2, "d1", body)], "ko");
    expect(best?.sentence).toContain("문서번호");
  });

  it("of two equal sentences, quotes the one from the document the question names", () => {
    const other = "미르에너지 주식회사 2021년 2분기 분기보고서 문서번호: DOC-2021-455";
    // The look-alike's chunk ranks first; the named document's identical sentence second.
    const [best] = selectSentences(question, [src(1, "d2", body, other), src(2, "d1", body, cover)], "ko");
    expect(best?.source.documentId).toBe("d1");
  });
});
