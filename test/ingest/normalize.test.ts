import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { koreanHeadingLevel, looksHardWrapped, normalizeChars, normalizeDocument, reflowParagraph } from "../../ingest/normalize.ts";
import type { Block, ExtractedDocument } from "../../ingest/types.ts";

const doc = (mime: string, blocks: Block[][], title?: string): ExtractedDocument => ({
  mime,
  title,
  pages: blocks.map((b, i) => ({ page: i + 1, blocks: b })),
  warnings: ["kept"],
});
const para = (text: string): Block => ({ kind: "paragraph", text });
const blocksOf = (d: ExtractedDocument) => d.pages.flatMap((p) => p.blocks);

describe("normalizeChars", () => {
  it("composes Hangul (NFC) and unifies whitespace and control characters", () => {
    const nfd = "한글".normalize("NFD");
    expect(nfd.length).toBe(6);
    expect(normalizeChars(nfd)).toBe("한글");
    expect(normalizeChars("a\u00a0b\u3000c\u2009d\te")).toBe("a b c d e");
    expect(normalizeChars("zero\u200bwidth\ufeff soft\u00adhyphen")).toBe("zerowidth softhyphen");
    expect(normalizeChars("bell\u0007 nul\u0000 c1\u0085x\r\ny\u2028z")).toBe("bell nul c1\nx\ny\nz");
    expect(normalizeChars("keep\ttab", true)).toBe("keep\ttab");
  });
});

describe("normalizeDocument", () => {
  it("collapses spaces, trims lines, drops empty blocks and pages, keeps warnings and title", () => {
    const out = normalizeDocument(
      doc("text/html", [[para("  여러   칸의    공백  "), para(" \u200b "), { kind: "heading", level: 2, text: "제목\n 둘째 줄" }], [para("\u00a0")]], " 문서\u00a0 제목 "),
    );
    expect(out.pages).toHaveLength(1);
    expect(out.pages[0]!.blocks).toEqual([para("여러 칸의 공백"), { kind: "heading", level: 2, text: "제목 둘째 줄" }]);
    expect(out.title).toBe("문서 제목");
    expect(out.warnings).toEqual(["kept"]);
  });

  it("does not mutate its input", () => {
    const input = doc("application/pdf", [[para("a  b\nc")]]);
    const copy = structuredClone(input);
    normalizeDocument(input);
    expect(input).toEqual(copy);
  });

  it("keeps code indentation and tabs, list nesting, table lines", () => {
    const out = normalizeDocument(
      doc("text/markdown", [
        [
          { kind: "code", text: "\n\nfunction f() {\n\treturn  1;   \n}\n\n\n\nf();\n" },
          { kind: "list", text: "- a\n  - nested   item\n- b" },
          { kind: "table", text: "| a  | b |\n|---|---|\n| 1 | 2 |" },
        ],
      ]),
    );
    expect(blocksOf(out)).toEqual([
      { kind: "code", text: "function f() {\n\treturn  1;\n}\n\nf();" },
      { kind: "list", text: "- a\n  - nested item\n- b" },
      { kind: "table", text: "| a | b |\n|---|---|\n| 1 | 2 |" },
    ]);
  });

  it("reflows PDF paragraphs: joins mid-sentence breaks, keeps paragraph breaks", () => {
    const page = [
      "제2조(용어의 정의) 이 계약에서 사용되는 용어의 정의는, 이 계약의 다른 조항에서 달리 정의되지 않는",
      "한 다음과 같습니다.",
      "1. 계약관계 관련 용어",
      "가. 계약자: 회사와 계약을 체결하고 보험료를 납입할 의무를 지는 사람을 말합니다.",
      "⑤ 보험수익자와 회사가 제3조(보험금의 지급사유)의 보험금 지급사유에 대해 합의하지 못할 때는 보험",
      "수익자와 회사가 함께 제3자를 정하고 그 제3자의 의견에 따를 수 있습니다. 제3자는 의료법",
      "제3조(의료기관)에 규정한 종합병원 소속 전문의 중에 정합니다.",
      "The quick brown fox jumps over the lazy dog and keeps on running through the hyphen-",
      "ated words of a long English line that wraps around.",
    ].join("\n");
    const out = normalizeDocument(doc("application/pdf", [[para(page)]]));
    expect(blocksOf(out).map((b) => b.text)).toEqual([
      "제2조(용어의 정의) 이 계약에서 사용되는 용어의 정의는, 이 계약의 다른 조항에서 달리 정의되지 않는 한 다음과 같습니다.",
      "1. 계약관계 관련 용어",
      "가. 계약자: 회사와 계약을 체결하고 보험료를 납입할 의무를 지는 사람을 말합니다.",
      "⑤ 보험수익자와 회사가 제3조(보험금의 지급사유)의 보험금 지급사유에 대해 합의하지 못할 때는 보험 수익자와 회사가 함께 제3자를 정하고 그 제3자의 의견에 따를 수 있습니다. 제3자는 의료법 제3조(의료기관)에 규정한 종합병원 소속 전문의 중에 정합니다.",
      "The quick brown fox jumps over the lazy dog and keeps on running through the hyphenated words of a long English line that wraps around.",
    ]);
  });

  it("recognises Korean structure headings in PDF text", () => {
    const out = normalizeDocument(doc("application/pdf", [[para("【보통약관】\n제1관 목적 및 용어의 정의\n제1조(목적) 이 계약은 보험계약자와 보험회사 사이에 체결됩니다.")]]));
    expect(blocksOf(out)).toEqual([
      { kind: "heading", level: 1, text: "【보통약관】" },
      { kind: "heading", level: 3, text: "제1관 목적 및 용어의 정의" },
      para("제1조(목적) 이 계약은 보험계약자와 보험회사 사이에 체결됩니다."),
    ]);
    expect(koreanHeadingLevel("제2장 근로시간")).toBe(2);
    expect(koreanHeadingLevel("제1편 총칙")).toBe(1);
    expect(koreanHeadingLevel("제3조(목적) 이 규정은 적용된다.")).toBeUndefined();
  });

  it("reflows hard-wrapped plain text but keeps deliberate line breaks", () => {
    const wrapped = [
      '"Well, Prince, so Genoa and Lucca are now just family estates of the',
      "Buonapartes. But I warn you, if you don't tell me that this means war,",
      "if you still try to defend the infamies and horrors perpetrated by that",
      "Antichrist--I really believe he is Antichrist--I will have nothing more",
    ].join("\n");
    expect(looksHardWrapped(wrapped)).toBe(true);
    const fields = "정의: 임베딩은 텍스트를 벡터로 변환하는 과정입니다. 이를 통해 컴퓨터가 이해합니다.\n예시: 사과를 벡터로 표현합니다.\n연관키워드: 자연어 처리, 벡터화";
    expect(looksHardWrapped(fields)).toBe(false);
    // decided per document: a two-line paragraph of a hard-wrapped text is reflowed too
    const twoLines = "All her invitations without exception, written in French, and delivered\nby a scarlet-liveried footman that morning, ran as follows:";
    const out = normalizeDocument(doc("text/plain", [[para(wrapped), para(twoLines)]]));
    expect(blocksOf(out).map((b) => b.text.includes("\n"))).toEqual([false, false]);
    const kept = normalizeDocument(doc("text/plain", [[para(fields), para(fields.replace("임베딩", "토큰"))]]));
    expect(blocksOf(kept)[0]!.text).toBe(fields);
  });

  it("reflowParagraph splits at bullets and after short finished lines", () => {
    expect(reflowParagraph("• 첫 항목\n• 둘째 항목이 조금 더 깁니다\n이어지는 내용", 40)).toEqual(["• 첫 항목", "• 둘째 항목이 조금 더 깁니다", "이어지는 내용"]);
    expect(reflowParagraph("A full line of text that runs to the margin,\ncontinues here.\nShort end.\nNew paragraph.", 44)).toEqual([
      "A full line of text that runs to the margin, continues here.",
      "Short end.",
      "New paragraph.",
    ]);
  });

  it("is idempotent", () => {
    const block = fc.record({
      kind: fc.constantFrom("paragraph", "list", "table", "code", "caption", "heading") as fc.Arbitrary<Block["kind"]>,
      text: fc.string({ unit: fc.constantFrom(..."가나다 abc.\n\t\u00a0\u200b-①1제조관【】".split("")), maxLength: 120 }),
      level: fc.integer({ min: 1, max: 6 }),
    });
    fc.assert(
      fc.property(fc.constantFrom("application/pdf", "text/plain", "text/html"), fc.array(fc.array(block, { maxLength: 5 }), { maxLength: 3 }), (mime, pages) => {
        const once = normalizeDocument(doc(mime, pages as Block[][]));
        expect(normalizeDocument(once)).toEqual(once);
      }),
      { numRuns: 300 },
    );
  });
});
