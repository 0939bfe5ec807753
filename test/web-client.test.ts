/**
 * The web app's pure helpers (src/web/src/lib): the SSE parser the ask stream runs on, the quote
 * finder that highlights a citation on its page, and the `[n]` → citation-link rewrite.
 * The browser tests (test/web) check them again end to end.
 */
import { describe, expect, it } from "vitest";
import { SseParser } from "../src/web/src/lib/sse.ts";
import { findQuote, linkCitations, snippet } from "../src/web/src/lib/text.ts";

describe("SSE parser", () => {
  const stream = 'event: sources\ndata: {"n":1}\n\nevent: delta\ndata: {"text":"연차"}\n\n: keep-alive\n\nevent: delta\ndata: line one\ndata: line two\n\nevent: done\ndata: {}\n\n';
  const expected = [
    { event: "sources", data: '{"n":1}' },
    { event: "delta", data: '{"text":"연차"}' },
    { event: "delta", data: "line one\nline two" },
    { event: "done", data: "{}" },
  ];

  it("reads events however the stream is cut into pieces", () => {
    for (const size of [1, 2, 3, 7, 16, stream.length]) {
      const p = new SseParser();
      const out = [];
      for (let i = 0; i < stream.length; i += size) out.push(...p.push(stream.slice(i, i + size)));
      expect(out, `pieces of ${size}`).toEqual(expected);
    }
  });

  it("accepts CRLF and CR line ends, also when a CRLF is split between pieces", () => {
    const crlf = stream.replace(/\n/g, "\r\n");
    for (const size of [1, 5, crlf.length]) {
      const p = new SseParser();
      const out = [];
      for (let i = 0; i < crlf.length; i += size) out.push(...p.push(crlf.slice(i, i + size)));
      expect(out, `CRLF pieces of ${size}`).toEqual(expected);
    }
    // A last "\r" may be the first half of a CRLF: the event completes with the next piece or the end.
    const p = new SseParser();
    expect(p.push("event: x\rdata: y\r\r")).toEqual([]);
    expect(p.end()).toEqual([{ event: "x", data: "y" }]);
  });

  it("holds an unfinished event until its blank line", () => {
    const p = new SseParser();
    expect(p.push("event: delta\ndata: {}")).toEqual([]);
    expect(p.push("\n")).toEqual([]);
    expect(p.push("\n")).toEqual([{ event: "delta", data: "{}" }]);
    expect(p.push("event: done\ndata: 1")).toEqual([]);
    expect(p.end()).toEqual([{ event: "done", data: "1" }]);
  });
});

describe("quote highlighting", () => {
  const page = "연차 휴가\n\n1년 이상 근무한 직원에게는\n매년 15일의 연차 휴가가 부여됩니다. 3년 이상 근속한 직원은";

  it("finds a quote exactly, or across different whitespace", () => {
    const q = "1년 이상 근무한 직원에게는\n매년 15일의 연차 휴가가 부여됩니다.";
    const [a, b] = findQuote(page, q)!;
    expect(page.slice(a, b)).toBe(q);
    const spaced = "1년 이상 근무한 직원에게는 매년 15일의 연차 휴가가 부여됩니다.";
    const [c, d] = findQuote(page, spaced)!;
    expect(page.slice(c, d)).toBe(q);
  });

  it("falls back to the quote's first words, and finds nothing that is not there", () => {
    const [a, b] = findQuote(page, "매년 15일의 연차 휴가가 부여됩니다. 그리고 여기에 없는 말이 이어집니다 하나 둘 셋 넷")!;
    expect(page.slice(a, b)).toBe("매년 15일의 연차 휴가가 부여됩니다.");
    expect(findQuote(page, "육아 휴직은 1년입니다")).toBeNull();
    expect(findQuote(page, "   ")).toBeNull();
    expect(findQuote("a (b) [c]", "(b) [c]")).toEqual([2, 9]);
  });
});

describe("citation links", () => {
  it("links only citations that exist, and leaves Markdown links alone", () => {
    expect(linkCitations("15일입니다 [1][2] [7]", new Set([1, 2]))).toBe("15일입니다 [\\[1\\]](#cite-1)[\\[2\\]](#cite-2) [7]");
    expect(linkCitations("[1](http://evil.example)", new Set([1]))).toBe("[1](http://evil.example)");
  });

  it("shortens a result around the first query term", () => {
    const text = "가".repeat(500) + " 연차 휴가 " + "나".repeat(500);
    const s = snippet(text, "연차");
    expect(s.length).toBeLessThan(300);
    expect(s).toContain("연차 휴가");
    expect(snippet("짧은 글", "연차")).toBe("짧은 글");
  });
});
