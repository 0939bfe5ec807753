import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as lancedb from "@lancedb/lancedb";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  Analyzer,
  analyzeForIndex,
  analyzeForQuery,
  detectLanguage,
  MAX_TERM_BYTES,
  passageTerms,
  passageTokens,
  queryTerms,
  queryTokens,
} from "../src/domain/analysis/index.ts";
import { stripKoreanSuffix } from "../src/domain/analysis/korean.ts";

const q = (text: string) => analyzeForQuery(text).split(" ").filter(Boolean);
const utf8 = (s: string) => Buffer.byteLength(s, "utf8");

describe("Korean", () => {
  it("strips particles and endings before making bigrams", () => {
    expect(q("서울에서는")).toEqual(["서울"]);
    expect(q("서울의")).toEqual(["서울"]);
    expect(q("학생들에게")).toEqual(["학생"]);
    expect(q("발표했다")).toEqual(["발표"]);
    expect(q("설립되었으며")).toEqual(["설립"]);
    expect(q("대한민국의 수도이다")).toEqual(["대한", "한민", "민국", "수도"]);
  });

  it("indexes syllable bigrams of the stem", () => {
    expect(q("평양축전에")).toEqual(["평양", "양축", "축전"]);
    expect(q("우루과이가")).toEqual(["우루", "루과", "과이"]);
  });

  it("keeps short nouns whose last syllable looks like a particle", () => {
    for (const w of ["사이", "회의", "정도", "국가", "도로", "효과", "대한"]) expect(q(w)).toEqual([w]);
    expect(stripKoreanSuffix("곳은")).toBe("곳");
    expect(stripKoreanSuffix("사이")).toBe("사이");
  });

  it("drops a particle glued to a foreign word, and stop words", () => {
    expect(q("iPhone을 출시했다")).toEqual(["iphon", "출시"]);
    expect(q("그리고 및 등 것")).toEqual([]);
  });

  it("drops question words from queries but not from passages", () => {
    expect(q("히데코가 도피한 곳은 어디인가?")).toEqual(["히데", "데코", "도피", "곳"]);
    expect(q("누가 몇 명을 보냈나?")).not.toContain("누가");
    expect(q("경기에서 몇골을 넣었나")).toEqual(["경기", "넣"]);
    expect(passageTerms("어디 무엇")).toEqual(["어디", "무엇"]);
    expect(q("과점주주로 간주됩니까?")).toEqual(["과점", "점주", "주주", "간주"]);
    expect(q("어떤 사항에 유의해야 합니까?")).toEqual(["사항", "유의"]);
    expect(q("신청 자격은 어떻게 되나요?")).toEqual(["신청", "자격"]);
  });

  it("keeps digits and splits them from Korean units", () => {
    expect(q("1989년 6월 30일")).toEqual(["1989", "년", "6", "월", "30", "일"]);
    expect(q("1,000,000명")).toEqual(["1000000", "명"]);
  });
});

describe("English and other scripts", () => {
  it("lowercases, removes stop words and Porter-stems", () => {
    expect(q("The cats are running quickly")).toEqual(["cat", "run", "quickli"]);
    expect(q("What is the capital of France?")).toEqual(["capit", "franc"]);
  });

  it("handles possessives, apostrophes, full-width forms and diacritics", () => {
    expect(q("Obama's")).toEqual(["obama"]);
    expect(q("don't stop")).toEqual(["stop"]);
    expect(q("ＡＢＣ１２３")).toEqual(["abc123"]);
    expect(q("Pérez Señor")).toEqual(q("Perez Senor"));
  });

  it("also indexes a hyphenated pair joined", () => {
    expect(q("e-mail")).toEqual(["email", "e", "mail"]);
    const [joined] = passageTokens("an anti-Jewish text");
    expect(joined).toEqual({ term: "antijewish", start: 3, end: 14 });
  });

  it("mixes Korean and English in one text", () => {
    expect(q("COVID-19 백신의 효과는 Pfizer가 발표했다")).toEqual(["covid", "19", "백신", "효과", "pfizer", "발표"]);
  });

  it("makes unigrams and bigrams of Han and kana", () => {
    expect(q("大韓民國")).toEqual(["大", "大韓", "韓", "韓民", "民", "民國", "國"]);
    expect(q("ポケモン").length).toBeGreaterThan(0);
  });
});

describe("edge cases", () => {
  it("returns nothing for empty or unsearchable input", () => {
    for (const s of ["", "   ", "\n\t", "?!…", "— · —", "😀🎉", "\u0000\u200b"]) {
      expect(analyzeForIndex(s)).toBe("");
      expect(analyzeForQuery(s)).toBe("");
      expect(queryTerms(s)).toEqual([]);
      expect(passageTerms(s)).toEqual([]);
    }
  });

  it("caps every term below LanceDB's 40-byte token limit", () => {
    const terms = passageTerms(`${"x".repeat(100)} supercalifragilisticexpialidocious${"y".repeat(40)} ${"가".repeat(30)}`);
    expect(terms.length).toBeGreaterThan(0);
    for (const t of terms) expect(utf8(t)).toBeLessThanOrEqual(MAX_TERM_BYTES);
  });

  it("gives offsets of the source word", () => {
    const text = "Obama's 서울에서는  ＡＢＣ!";
    const tokens = passageTokens(text);
    expect(tokens.map((t) => t.term)).toEqual(["obama", "서울", "abc"]);
    expect(text.slice(tokens[0]!.start, tokens[0]!.end)).toContain("Obama");
    expect(text.slice(tokens[1]!.start, tokens[1]!.end)).toBe("서울에서는");
    expect(text.slice(tokens[2]!.start, tokens[2]!.end)).toContain("ＡＢＣ");
    expect(queryTokens("서울의 인구는?").map((t) => t.term)).toEqual(["서울", "인구"]);
  });
});

describe("query/passage symmetry and the index string", () => {
  const samples = [
    "임종석은 1989년 평양축전에 임수경을 대표로 파견하였다.",
    "The Broncos defeated the Panthers in Super Bowl 50.",
    "서울특별시(Seoul)는 대한민국의 수도이며 인구는 약 1,000만 명이다.",
  ];

  it("analyzes a question-free text the same way for queries and passages", () => {
    for (const s of samples) expect(new Set(queryTerms(s))).toEqual(new Set(passageTerms(s)));
  });

  it("writes the passage terms twice into the index string (BM25 k1 = 0.6 in LanceDB)", () => {
    for (const s of samples) {
      const terms = passageTerms(s);
      expect(analyzeForIndex(s)).toBe([...terms, ...terms].join(" "));
    }
  });

  it("lists query terms once, in order of appearance", () => {
    expect(queryTerms("서울 서울의 서울에서")).toEqual(["서울"]);
    expect(analyzeForQuery("서울 서울의")).toBe("서울 서울");
  });
});

describe("properties", () => {
  const hangul = fc.integer({ min: 0xac00, max: 0xd7a3 }).map((c) => String.fromCharCode(c));
  const pieces = fc.oneof(
    fc.string({ unit: "binary" }),
    fc.string({ unit: "grapheme" }),
    fc.array(hangul, { maxLength: 20 }).map((a) => a.join("")),
    fc.constantFrom("은", "는", "에서", "'s", "’", ",000", "  ", "\n", "ＡＢ", "é", "İ", "ß", "大韓", "ー", "\u0301", "\uD800"),
  );
  const texts = fc.array(pieces, { maxLength: 12 }).map((a) => a.join(""));

  it("never throws and never emits empty terms or terms with spaces", () => {
    fc.assert(
      fc.property(texts, (text) => {
        for (const terms of [passageTerms(text), queryTerms(text)]) {
          for (const t of terms) {
            expect(t.length).toBeGreaterThan(0);
            expect(/\s/u.test(t)).toBe(false);
            expect(utf8(t)).toBeLessThanOrEqual(MAX_TERM_BYTES);
          }
        }
        for (const s of [analyzeForIndex(text), analyzeForQuery(text)]) {
          expect(s).toBe(s.trim());
          expect(s.includes("  ")).toBe(false);
        }
        expect(["ko", "en"]).toContain(detectLanguage(text));
      }),
      { numRuns: 500 },
    );
  });

  it("is deterministic and query terms are passage terms minus question words", () => {
    fc.assert(
      fc.property(texts, (text) => {
        expect(analyzeForIndex(text)).toBe(analyzeForIndex(text));
        const passage = new Set(passageTerms(text));
        for (const t of queryTerms(text)) expect(passage.has(t)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});

describe("detectLanguage", () => {
  it("says ko for mostly-Hangul text and en otherwise", () => {
    expect(detectLanguage("대한민국의 수도는 어디인가?")).toBe("ko");
    expect(detectLanguage("BTS의 멤버는 누구인가?")).toBe("ko");
    expect(detectLanguage("What is the capital of Korea?")).toBe("en");
    expect(detectLanguage("What does 김치 mean in English?")).toBe("en");
    expect(detectLanguage("")).toBe("en");
    expect(detectLanguage("12345 !!")).toBe("en");
  });
});

describe("speed", () => {
  it("analyzes half a megabyte of mixed text in well under two seconds", () => {
    const para =
      "1989년 3월 12일 서울지방검찰청 공안부는 임종석의 사전구속영장을 발부받았다. The Panthers finished the regular season with a 15–1 record. ";
    const text = para.repeat(Math.ceil(500_000 / para.length));
    const t0 = performance.now();
    const terms = new Analyzer().terms(text, "index");
    expect(terms.length).toBeGreaterThan(10_000);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

describe("through LanceDB FTS", () => {
  it("finds Korean and English passages with a MatchQuery on the analyzed column, with where + limit", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kb-analysis-test-"));
    try {
      const db = await lancedb.connect(dir);
      const docs = [
        { id: "seoul", lang: "ko", text: "서울특별시는 대한민국의 수도이며 최대 도시이다." },
        { id: "busan", lang: "ko", text: "부산광역시는 대한민국 제2의 도시이자 최대의 항구 도시이다." },
        { id: "bowl", lang: "en", text: "The Denver Broncos defeated the Carolina Panthers to win Super Bowl 50." },
        { id: "odd", lang: "en", text: 'Symbols like "quotes" (parens) a:b +c -d * AND OR NOT ~2 ^3 stay literal.' },
      ];
      const table = await db.createTable(
        "chunks",
        docs.map((d) => ({ id: d.id, lang: d.lang, analyzed: analyzeForIndex(d.text) })),
      );
      await table.createIndex("analyzed", {
        config: lancedb.Index.fts({
          baseTokenizer: "whitespace", lowercase: false, stem: false, removeStopWords: false, asciiFolding: false, withPosition: false,
        }),
      });
      const search = async (question: string, where?: string, limit = 3) => {
        let query = table
          .query()
          .fullTextSearch(new lancedb.MatchQuery(analyzeForQuery(question), "analyzed"))
          .select(["id", "_score"])
          .limit(limit);
        if (where) query = query.where(where);
        return (await query.toArray()).map((r) => ({ id: String(r.id), score: Number(r._score) }));
      };

      const seoul = await search("대한민국의 수도는 어디인가?");
      expect(seoul[0]?.id).toBe("seoul");
      expect(seoul[0]!.score).toBeGreaterThan(0);
      expect((await search("Who won Super Bowl 50?"))[0]?.id).toBe("bowl");
      // Prefilter: the best match is filtered out, the next one still comes back.
      expect((await search("대한민국의 수도", "id != 'seoul'", 1)).map((h) => h.id)).toEqual(["busan"]);
      expect(await search("대한민국의 수도", "lang = 'en'")).toEqual([]);
      // Query-syntax characters are not interpreted.
      expect((await search('"quotes" (parens) a:b +c -d * AND OR NOT ~2 ^3'))[0]?.id).toBe("odd");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
