/**
 * The look-alike set's builder (bench/lookalike/build.ts), filings variant: the same input gives
 * the same files, documents are 8–12 pages long, the naming lines stand on the cover only and
 * once, and every question's gold page holds its answer. Built from small generated articles, so
 * it needs no shared data and runs in well under a second.
 */
import { describe, expect, it } from "vitest";
import { buildLookalikeSet } from "../bench/lookalike/build.ts";

function article(lang: "ko" | "en", a: number) {
  const word = lang === "ko" ? "문단" : "paragraph";
  return {
    title: `article ${a}`,
    paragraphs: Array.from({ length: 8 }, (_, p) => {
      const answer = lang === "ko" ? `답${a}x${p}` : `answer${a}x${p}`;
      return {
        context: `${word} ${a}.${p}: ${`${word} text `.repeat(20)} ${answer} ${`${word} more `.repeat(10)}`,
        qas: [{ id: `q${a}-${p}`, question: lang === "ko" ? `문단 ${p}의 답은?` : `What is the answer of paragraph ${p}?`, answers: [{ text: answer }] }],
      };
    }),
  };
}

const sources = { ko: [0, 1, 2].map((a) => article("ko", a)), en: [0, 1, 2].map((a) => article("en", a)) };

describe("look-alike set, filings variant", () => {
  const built = buildLookalikeSet(sources, { variant: "filings", families: 2 });

  it("is deterministic: the same input gives the same files and questions", () => {
    const again = buildLookalikeSet(sources, { variant: "filings", families: 2 });
    expect(again.set).toEqual(built.set);
    expect(again.files.map((f) => Buffer.from(f.bytes).toString("base64"))).toEqual(built.files.map((f) => Buffer.from(f.bytes).toString("base64")));
    expect(built.set.variant).toBe("filings");
  });

  it("documents are 8-12 pages; the cover names the document once, with a table of contents and a notice, and no other page does", () => {
    expect(built.set.documents).toHaveLength(2 * 2 * 12);
    for (const d of built.set.documents) {
      const { pages } = built.files.find((f) => f.file === d.file)!;
      expect(pages.length).toBe(d.pageCount);
      expect(d.pageCount).toBeGreaterThanOrEqual(8);
      expect(d.pageCount).toBeLessThanOrEqual(12);
      const cover = pages[0]!.join("\n");
      const occurrences = (text: string, s: string) => text.split(s).length - 1;
      expect(occurrences(cover, d.organisation)).toBe(1);
      expect(occurrences(cover, `${d.period} ${d.reportType}`) + occurrences(cover, `for ${d.period}`)).toBe(1);
      expect(cover).toMatch(d.lang === "ko" ? /목 차/ : /TABLE OF CONTENTS/);
      // The naming lines are a small part of the cover (the held-out filings' first page is mostly other text).
      expect(cover.length).toBeGreaterThan(d.lang === "ko" ? 500 : 1000);
      for (const page of pages.slice(1)) expect(page.join("\n")).not.toContain(d.organisation);
    }
  });

  it("every question names its document and its gold page holds the answer", () => {
    expect(built.set.questions.length).toBeGreaterThan(0);
    for (const q of built.set.questions) {
      const d = built.set.documents.find((x) => x.id === q.documentId)!;
      expect(q.question).toContain(d.lang === "ko" ? d.organisation.replace(" 주식회사", "") : d.organisation);
      const page = built.files.find((f) => f.file === d.file)!.pages[q.page - 1]!.join(" ");
      expect(q.answers.some((a) => page.includes(a))).toBe(true);
    }
  });
});
