import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { chunkDocument, DEFAULT_CHUNK_OPTIONS, estimateTokens, hardSplit, type ChunkOptions } from "../../ingest/chunk.ts";
import { splitSentences } from "../../src/domain/analysis/sentences.ts";
import type { Block, ChunkDraft, ExtractedDocument } from "../../ingest/types.ts";

const doc = (...pages: Block[][]): ExtractedDocument => ({
  mime: "text/plain",
  pages: pages.map((blocks, i) => ({ page: i + 1, blocks })),
  warnings: [],
});
const h = (level: number, text: string): Block => ({ kind: "heading", level, text });
const p = (text: string): Block => ({ kind: "paragraph", text });
const squash = (s: string) => s.replace(/\s+/g, " ").trim();

const KO = [
  "연차 휴가는 입사 후 1년이 지나면 15일이 주어집니다.",
  "사용하지 않은 연차는 다음 해로 이월되지 않습니다.",
  "병가는 의사의 진단서를 제출하면 최대 60일까지 사용할 수 있습니다.",
  "반차는 오전과 오후로 나누어 신청할 수 있어요.",
  "휴가 신청은 최소 3일 전에 인사 포털에서 해야 합니다.",
];
const EN = [
  "Employees receive fifteen days of annual leave after their first year.",
  "Unused leave does not carry over to the next calendar year.",
  "Sick leave requires a note from a doctor after three consecutive days.",
  "Dr. Kim approved the U.S. travel policy at 3.5 p.m. yesterday.",
];
const sentences = (n: number, seed = 0) => Array.from({ length: n }, (_v, i) => [...KO, ...EN][(i + seed) % (KO.length + EN.length)]!);

describe("estimateTokens", () => {
  it("is reasonable for Korean and English", () => {
    expect(estimateTokens("")).toBe(0);
    expect(estimateTokens("   \n ")).toBe(0);
    // 10 English words → ~13 tokens
    const en = "the quick brown fox jumps over the lazy dog today";
    expect(estimateTokens(en)).toBe(13);
    // 100 Hangul syllables → 80 tokens
    expect(estimateTokens("가".repeat(100))).toBe(80);
    const ko = "연차 휴가는 입사 후 1년이 지나면 15일이 주어집니다.";
    expect(estimateTokens(ko)).toBeGreaterThanOrEqual(15);
    expect(estimateTokens(ko)).toBeLessThanOrEqual(25);
    // long words and numbers cost more than short ones
    expect(estimateTokens("internationalization")).toBeGreaterThan(estimateTokens("cat"));
    expect(estimateTokens("123456789")).toBe(3);
    expect(estimateTokens("|---|---|")).toBe(5);
  });

  it("never under-counts a whitespace-joined text relative to its parts", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 30 }), { maxLength: 10 }), (parts) => {
        const sum = parts.reduce((n, s) => n + estimateTokens(s), 0);
        expect(estimateTokens(parts.join(" "))).toBeLessThanOrEqual(sum);
      }),
    );
  });
});

describe("chunkDocument: structure", () => {
  it("returns nothing for an empty document and one chunk for a small one", () => {
    expect(chunkDocument(doc())).toEqual([]);
    expect(chunkDocument(doc([p("   ")]))).toEqual([]);
    const chunks = chunkDocument(doc([h(1, "휴가 규정"), h(2, "연차"), p(KO[0]!)]));
    expect(chunks).toEqual([{ ordinal: 0, text: `휴가 규정\n\n연차\n\n${KO[0]}`, pageStart: 1, pageEnd: 1, headings: ["휴가 규정", "연차"] }]);
  });

  it("never mixes normal-sized sections across a heading boundary", () => {
    const a = sentences(8).join(" ");
    const b = sentences(8, 3).join(" ");
    const chunks = chunkDocument(doc([h(1, "휴가 규정"), h(2, "연차"), p(a), h(2, "병가"), p(b)]));
    expect(chunks.map((c) => c.headings)).toEqual([
      ["휴가 규정", "연차"],
      ["휴가 규정", "병가"],
    ]);
    expect(chunks[0]!.text).not.toContain("\n\n병가\n\n");
    expect(chunks[1]!.text.startsWith("병가\n\n")).toBe(true);
  });

  it("merges tiny sections, using the common heading prefix", () => {
    const chunks = chunkDocument(doc([h(1, "FAQ"), h(2, "Q1"), p("짧은 답 하나."), h(2, "Q2"), p("짧은 답 둘."), h(2, "Q3"), p("짧은 답 셋.")]));
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.headings).toEqual(["FAQ"]);
    expect(chunks[0]!.text).toBe("FAQ\n\nQ1\n\n짧은 답 하나.\n\nQ2\n\n짧은 답 둘.\n\nQ3\n\n짧은 답 셋.");
  });

  it("keeps a chapter heading with its first section", () => {
    const chunks = chunkDocument(doc([h(1, "제1장 총칙"), h(2, "제1조 목적"), p(sentences(30).join(" "))]));
    expect(chunks[0]!.text.startsWith("제1장 총칙\n\n제1조 목적\n\n")).toBe(true);
    expect(chunks.every((c) => c.headings.join("/") === "제1장 총칙/제1조 목적")).toBe(true);
    expect(chunks.length).toBeGreaterThan(1);
  });

  it("splits long paragraphs at sentence boundaries with whole-sentence overlap", () => {
    const text = sentences(60).join(" ");
    const chunks = chunkDocument(doc([p(text)]), { targetTokens: 100, maxTokens: 150, overlapTokens: 30 });
    expect(chunks.length).toBeGreaterThan(5);
    const all = new Set(splitSentences(text));
    for (const [i, c] of chunks.entries()) {
      expect(estimateTokens(c.text)).toBeLessThanOrEqual(150);
      // chunks consist of whole sentences
      for (const s of splitSentences(c.text)) expect(all.has(s)).toBe(true);
      if (i > 0) {
        const prev = splitSentences(chunks[i - 1]!.text);
        const first = splitSentences(c.text)[0]!;
        expect(prev).toContain(first); // overlap: starts with a sentence from the previous chunk
        expect(estimateTokens(first)).toBeLessThanOrEqual(30);
      }
    }
  });

  it("does not overlap when overlapTokens is 0", () => {
    const text = sentences(40).join(" ");
    const chunks = chunkDocument(doc([p(text)]), { targetTokens: 100, maxTokens: 150, overlapTokens: 0 });
    expect(chunks.map((c) => c.text).join(" ")).toBe(text);
  });

  it("prefers paragraph boundaries when a chunk is well filled", () => {
    const paras = [sentences(6).join(" "), sentences(6, 1).join(" "), sentences(6, 2).join(" "), sentences(6, 3).join(" ")];
    const chunks = chunkDocument(doc(paras.map(p)), { targetTokens: 250, maxTokens: 400, overlapTokens: 0 });
    for (const c of chunks) {
      for (const part of c.text.split("\n\n")) expect(paras).toContain(part);
    }
  });

  it("keeps a table whole when it fits, in a chunk of its own if needed", () => {
    const table = ["| 유형 | 일수 | 비고 |", "| --- | --- | --- |", ...Array.from({ length: 12 }, (_v, i) => `| 휴가${i} | ${i + 1} | 설명 ${i} |`)].join("\n");
    const before = sentences(10).join(" ");
    const chunks = chunkDocument(doc([p(before), { kind: "table", text: table }, p("표 다음 문장입니다.")]), { targetTokens: 200, maxTokens: 400 });
    const withTable = chunks.filter((c) => c.text.includes("| 유형 |"));
    expect(withTable).toHaveLength(1);
    expect(withTable[0]!.text).toContain(table);
  });

  it("splits a table that does not fit by rows, repeating the header", () => {
    const header = "| 이름 | 부서 | 연차 |\n| --- | --- | --- |";
    const rows = Array.from({ length: 80 }, (_v, i) => `| 직원${i} | 개발팀 ${i % 7} | ${i % 25} |`);
    const chunks = chunkDocument(doc([{ kind: "table", text: `${header}\n${rows.join("\n")}` }]), { targetTokens: 120, maxTokens: 200 });
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks) {
      expect(c.text.startsWith(header)).toBe(true);
      expect(estimateTokens(c.text)).toBeLessThanOrEqual(200);
    }
    const seen = chunks.flatMap((c) => c.text.split("\n").slice(2));
    expect(seen).toEqual(rows);
  });

  it("records first and last page", () => {
    const chunks = chunkDocument(doc([h(1, "장"), p(KO[0]!)], [p(KO[1]!)], [p(KO[2]!)]));
    expect(chunks).toHaveLength(1);
    expect([chunks[0]!.pageStart, chunks[0]!.pageEnd]).toEqual([1, 3]);
    const many = chunkDocument(doc(...Array.from({ length: 6 }, (_v, i) => [p(sentences(12, i).join(" "))])), { targetTokens: 150, maxTokens: 250 });
    for (const c of many) expect(c.pageStart).toBeLessThanOrEqual(c.pageEnd);
    expect(many[0]!.pageStart).toBe(1);
    expect(many.at(-1)!.pageEnd).toBe(6);
  });

  it("splits an unsplittable giant token at characters", () => {
    const giant = "가".repeat(3000);
    const chunks = chunkDocument(doc([p(`앞 문장. ${giant} 뒤 문장.`)]), { targetTokens: 300, maxTokens: 512 });
    for (const c of chunks) expect(estimateTokens(c.text)).toBeLessThanOrEqual(512);
    expect(chunks.map((c) => c.text).join("").replace(/[^가]/g, "").length).toBeGreaterThanOrEqual(3000);
    expect(hardSplit("x".repeat(100), 5).every((s) => estimateTokens(s) <= 5)).toBe(true);
  });

  it("uses sensible defaults", () => {
    expect(DEFAULT_CHUNK_OPTIONS).toEqual({ targetTokens: 350, maxTokens: 512, overlapTokens: 50, minSectionTokens: 64 });
    const chunks = chunkDocument(doc([p(sentences(200).join(" "))]));
    for (const c of chunks) expect(estimateTokens(c.text)).toBeLessThanOrEqual(512);
    const avg = chunks.reduce((n, c) => n + estimateTokens(c.text), 0) / chunks.length;
    expect(avg).toBeGreaterThan(250);
    expect(avg).toBeLessThanOrEqual(400);
  });
});

// ---------------------------------------------------------------------------------------------
// properties

const word = fc.constantFrom("연차", "휴가는", "15일", "지급합니다", "policy", "leave", "Dr.", "3.14", "U.S.", "보험금을", "(이하", "‘계약’)", "a", "the");
const sentenceArb = fc
  .tuple(fc.array(word, { minLength: 1, maxLength: 25 }), fc.constantFrom(".", "?", "!", "다.", "요.", ""))
  .map(([ws, end]) => ws.join(" ") + end);
const giantArb = fc.integer({ min: 50, max: 1500 }).map((n) => "큰".repeat(n));
const paragraphArb = fc.array(fc.oneof({ weight: 20, arbitrary: sentenceArb }, { weight: 1, arbitrary: giantArb }), { minLength: 1, maxLength: 12 }).map((s) => s.join(" "));
const blockArb: fc.Arbitrary<Block> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("heading" as const), level: fc.integer({ min: 1, max: 4 }), text: fc.array(word, { minLength: 1, maxLength: 4 }).map((w) => w.join(" ")) }) },
  { weight: 8, arbitrary: paragraphArb.map((text) => ({ kind: "paragraph" as const, text })) },
  { weight: 2, arbitrary: fc.array(sentenceArb, { minLength: 1, maxLength: 15 }).map((items) => ({ kind: "list" as const, text: items.map((i) => `- ${i}`).join("\n") })) },
  {
    weight: 2,
    arbitrary: fc.array(fc.array(word, { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 40 }).map((rows) => ({
      kind: "table" as const,
      text: ["| a | b | c |", "| --- | --- | --- |", ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n"),
    })),
  },
  { weight: 1, arbitrary: fc.array(sentenceArb, { minLength: 1, maxLength: 20 }).map((lines) => ({ kind: "code" as const, text: lines.join("\n") })) },
);
const docArb: fc.Arbitrary<ExtractedDocument> = fc.array(fc.array(blockArb, { maxLength: 8 }), { minLength: 1, maxLength: 4 }).map((pages) => doc(...pages));
const optionsArb: fc.Arbitrary<ChunkOptions> = fc
  .record({ target: fc.integer({ min: 20, max: 400 }), extra: fc.integer({ min: 0, max: 300 }), overlap: fc.integer({ min: 0, max: 80 }) })
  .map(({ target, extra, overlap }) => ({ targetTokens: target, maxTokens: target + extra, overlapTokens: overlap }));

/** The units the chunker promises to keep intact: sentences of prose, lines of lists/tables/code. */
function atoms(block: Block): string[] {
  if (block.kind === "table" || block.kind === "code" || block.kind === "list") return block.text.split("\n").filter((l) => l.trim());
  return splitSentences(block.text);
}

function checkInvariants(d: ExtractedDocument, o: ChunkOptions, chunks: ChunkDraft[]) {
  const max = o.maxTokens!;
  const texts = chunks.map((c) => squash(c.text));
  chunks.forEach((c, i) => {
    expect(c.ordinal).toBe(i);
    expect(c.text.trim().length).toBeGreaterThan(0);
    expect(estimateTokens(c.text)).toBeLessThanOrEqual(max);
    expect(c.pageStart).toBeLessThanOrEqual(c.pageEnd);
  });
  for (const page of d.pages) {
    for (const block of page.blocks) {
      for (const atom of atoms(block)) {
        if (estimateTokens(atom) > max) continue; // hard-split: checked by the character test
        const a = squash(atom);
        if (!a) continue;
        expect(texts.some((t) => t.includes(a))).toBe(true);
      }
    }
  }
  // every non-whitespace character of the input appears in the output
  const inChars = d.pages.flatMap((pg) => pg.blocks).map((b) => b.text).join("").replace(/\s/g, "").length;
  const outChars = chunks.map((c) => c.text).join("").replace(/\s/g, "").length;
  expect(outChars).toBeGreaterThanOrEqual(inChars);
}

describe("chunkDocument: properties", () => {
  it("covers every sentence, respects maxTokens, never emits empty chunks", () => {
    fc.assert(
      fc.property(docArb, optionsArb, (d, o) => {
        checkInvariants(d, o, chunkDocument(d, o));
      }),
      { numRuns: 150 },
    );
  });

  it("is deterministic", () => {
    fc.assert(
      fc.property(docArb, optionsArb, (d, o) => {
        expect(chunkDocument(structuredClone(d), o)).toEqual(chunkDocument(d, o));
      }),
      { numRuns: 60 },
    );
  });

  it("keeps chunks within one section unless sections were merged small", () => {
    fc.assert(
      fc.property(docArb, (d) => {
        const o = { targetTokens: 200, maxTokens: 300, overlapTokens: 30 };
        for (const c of chunkDocument(d, o)) {
          // A chunk holding the content of several sections must be small (a merge of tiny sections).
          // Headings without content of their own (chapter titles) always travel with the next section.
          const headingLines = new Set(d.pages.flatMap((pg) => pg.blocks).filter((b) => b.kind === "heading").map((b) => b.text));
          const parts = c.text.split("\n\n");
          const sectionsWithContent = parts.filter((part, i) => headingLines.has(part) && i + 1 < parts.length && !headingLines.has(parts[i + 1]!)).length;
          if (sectionsWithContent > 1) expect(estimateTokens(c.text)).toBeLessThanOrEqual(o.targetTokens);
        }
      }),
      { numRuns: 80 },
    );
  });
});
