/**
 * Document context in every chunk (issue 16): what identifies a document (its cover's lines,
 * a real title, dates, folder words) is indexed with each of its chunks and never quoted, so a
 * question that names one of several look-alike documents finds that document's page.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { contextText, documentContext, EMBEDDING_CONTEXT_MAX_CHARS, embeddingContext, folderWords, spelledDates } from "../ingest/context.ts";
import { analyzeChunks, embeddingTextOf, prepareDocument } from "../ingest/pipeline.ts";
import type { ExtractedDocument } from "../ingest/types.ts";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { passageTerms } from "../src/domain/analysis/index.ts";
import type { ChunkRow } from "../src/stores/lance/chunk-store.ts";
import { ingestNow, openTestKb, writeFiles, type TestKb } from "./helpers/kb.ts";
import { buildPdf } from "./ingest/fixtures.ts";

const page = (n: number, ...texts: string[]) => ({ page: n, blocks: texts.map((text) => ({ kind: "paragraph" as const, text })) });

describe("documentContext", () => {
  it("takes a Korean cover's identifying lines, spells its dates, and adds the folder words", () => {
    const doc: ExtractedDocument = {
      mime: "application/pdf",
      title: "scan-0012",
      pages: [page(1, "한빛전자 주식회사", "2023년 3분기 분기보고서", "문서번호: HB-2023-Q3-014\n작성일: 2023-10-27"), page(2, "본문 ".repeat(300))],
      warnings: [],
    };
    const c = documentContext(doc, "/srv/공유/재무팀/분기보고/scan-0012.pdf", "scan-0012");
    expect(c.title).toBeUndefined(); // the PDF's "title" is its file name
    expect(c.lines).toEqual(["한빛전자 주식회사", "2023년 3분기 분기보고서", "문서번호: HB-2023-Q3-014", "작성일: 2023-10-27"]);
    expect(c.dates).toEqual(["2023년 10월", "October 2023"]);
    expect(c.folders).toEqual(["공유", "재무팀", "분기보고"]);
    expect(contextText(c).split("\n")).toEqual([...c.lines, ...c.dates, "공유 재무팀 분기보고"]);
  });

  it("takes an English cover, a metadata title that is not the file name, and a first heading when there is no metadata title", () => {
    const cover = page(1, "Kestrel Bank, Busan branch", "Annual report for FY2021", "Date: 2022.03.20");
    const body = page(2, "The branch opened two new offices. ".repeat(40));
    const withMeta = documentContext({ mime: "application/pdf", title: "Kestrel Bank Busan 2021", pages: [cover, body], warnings: [] }, "reports/x.pdf", "Kestrel Bank Busan 2021");
    expect(withMeta.title).toBeUndefined(); // already the shown title (indexed with the text)
    expect(withMeta.lines).toEqual(["Kestrel Bank, Busan branch", "Annual report for FY2021", "Date: 2022.03.20"]);
    expect(withMeta.dates).toEqual(["2022년 3월", "March 2022"]);
    const metaOnly = documentContext({ mime: "application/pdf", title: "Kestrel Bank Busan 2021", pages: [cover, body], warnings: [] }, "reports/x.pdf", "x");
    expect(metaOnly.title).toBe("Kestrel Bank Busan 2021");
    const heading = documentContext(
      { mime: "text/markdown", pages: [{ page: 1, blocks: [{ kind: "heading", level: 1, text: "Travel expense policy" }, { kind: "paragraph", text: "Employees book economy class. ".repeat(30) }] }], warnings: [] },
      "policies/travel.md",
      "travel",
    );
    expect(heading.title).toBe("Travel expense policy");
  });

  it("finds no cover in a one-page document or a long first page; a long first line is not a title line", () => {
    const long = "The committee met on Monday and agreed on the budget for the next year. ".repeat(20);
    expect(documentContext({ mime: "text/plain", pages: [page(1, long)], warnings: [] }, "a.txt", "a").lines).toEqual([]);
    expect(documentContext({ mime: "application/pdf", pages: [page(1, long), page(2, long)], warnings: [] }, "a.pdf", "a").lines).toEqual([]);
    expect(documentContext({ mime: "text/plain", pages: [page(1, "Minutes of the board, May 2022", long)], warnings: [] }, "a.txt", "a").lines).toEqual(["Minutes of the board, May 2022"]);
  });

  it("takes the opening lines of a filing's long first page, up to its table of contents; a name ending in Corp. is not a sentence", () => {
    // A 10-K-like page 1: naming lines, an address, a table of contents, a legal notice.
    const notice = "Certain statements in this report are forward-looking statements that involve risks and uncertainties. ".repeat(6);
    const toc = ["TABLE OF CONTENTS", "Item 1. Business ..... 2", "Item 7. Management's discussion and analysis ..... 8"];
    const first = page(1, "Harbor Point Energy Corp.", "Quarterly report for Q4 2020", "Document no. REF-2021-935", "Principal executive offices: 220 Riverside Avenue", ...toc, notice);
    const doc: ExtractedDocument = { mime: "application/pdf", pages: [first, page(2, "Revenue rose by four percent. ".repeat(40))], warnings: [] };
    expect(documentContext(doc, "en/scan-1080.pdf", "scan-1080").lines).toEqual([
      "Harbor Point Energy Corp.",
      "Quarterly report for Q4 2020",
      "Document no. REF-2021-935",
      "Principal executive offices: 220 Riverside Avenue",
    ]);
    // Korean: 목차 ends the identifying lines; its entries are never taken, also on a short cover.
    const korean: ExtractedDocument = {
      mime: "application/pdf",
      pages: [page(1, "새솔물산 주식회사", "2021년 1분기 분기보고서", "목 차", "I. 회사의 개요 ..... 2", "II. 사업의 내용 ..... 3"), page(2, "본문 ".repeat(300))],
      warnings: [],
    };
    expect(documentContext(korean, "ko/scan-1000.pdf", "scan-1000").lines).toEqual(["새솔물산 주식회사", "2021년 1분기 분기보고서"]);
    // A one-page document whose first line is a company name ending in an abbreviation: a title line.
    expect(documentContext({ mime: "text/plain", pages: [page(1, "Northwind Logistics Co., Ltd.", notice)], warnings: [] }, "a.txt", "a").lines).toEqual(["Northwind Logistics Co., Ltd."]);
    expect(documentContext({ mime: "text/plain", pages: [page(1, "The board approved it.", notice)], warnings: [] }, "a.txt", "a").lines).toEqual([]);
  });

  it("spells dates written with dashes, dots and 년/월, and ignores what is not a date", () => {
    expect(spelledDates(["2019.7.1", "2020년 12월 31일", "no. 2023-13-01", "tel 02-1234-5678"])).toEqual(["2019년 7월", "July 2019", "2020년 12월", "December 2020"]);
    expect(folderWords("C:\\data\\2023\\01\\x.pdf")).toEqual(["data", "2023"]);
  });

  it("is indexed with every chunk below the chunk's own words, and never put in its text", () => {
    const [chunk] = analyzeChunks("x", [{ ordinal: 0, text: "연차 휴가는 15일이다.", pageStart: 2, pageEnd: 2, headings: [] }], "한빛전자 주식회사");
    const terms = chunk!.analyzed.split(" ");
    const count = (t: string) => terms.filter((x) => x === t).length;
    for (const t of passageTerms("한빛전자")) expect(count(t)).toBe(1);
    for (const t of passageTerms("연차 휴가")) expect(count(t)).toBe(2);
    expect(chunk!.text).toBe("연차 휴가는 15일이다.");
  });

  it("is what the embedding model sees first, in short: title, cover lines and folders, whole lines within the cap, no spelled dates", () => {
    const c = { title: "분기보고서", lines: ["한빛전자 주식회사", "2023년 3분기", "x".repeat(150), "문서번호: HB-014"], dates: ["2023년 10월", "October 2023"], folders: ["재무팀", "2023"] };
    expect(embeddingContext(c)).toBe("분기보고서\n한빛전자 주식회사\n2023년 3분기\n문서번호: HB-014\n재무팀 2023");
    expect(embeddingContext({ lines: ["y".repeat(EMBEDDING_CONTEXT_MAX_CHARS + 1)], dates: [], folders: [] })).toBe("");
    const row = { context: "한빛전자 주식회사\n2023년 3분기", title: "보고서", headings: "1. 개요 > 물류", text: "평택에 준공되었다." };
    expect(embeddingTextOf(row)).toBe("한빛전자 주식회사\n2023년 3분기\n보고서 > 1. 개요 > 물류\n평택에 준공되었다.");
    // A row of an older table (no context column): embedded as before, title > headings, text.
    expect(embeddingTextOf({ ...row, context: null })).toBe("보고서 > 1. 개요 > 물류\n평택에 준공되었다.");
  });
});

/**
 * Look-alike documents: the same body under covers of two organisations × two periods, in Korean
 * and in English. The answer stands on page 3, two pages after the cover, so only the context
 * links it to the organisation and period the question names.
 */
const BODY_2 = Array.from({ length: 30 }, (_, i) => `이 문서는 정기 보고를 위하여 작성되었으며 각 부서의 의견 ${i + 1}건을 모아 정리하였다.`);
const BODY_3 = ["해당 기간의 신규 물류센터는 경기도 평택시에 준공되었다.", "물류센터의 연면적은 약 4만 제곱미터이다."];
const EN_2 = Array.from({ length: 30 }, (_, i) => `This document was prepared for the regular reporting cycle and collects ${i + 1} views of departments.`);
const EN_3 = ["During the period the new distribution centre opened in Pyeongtaek.", "Its floor area is about forty thousand square metres."];
const FAMILY = [
  { lang: "ko", org: "한빛전자 주식회사", short: "한빛전자", period: "2023년 2분기", type: "분기보고서" },
  { lang: "ko", org: "한빛전자 주식회사", short: "한빛전자", period: "2023년 3분기", type: "분기보고서" },
  { lang: "ko", org: "새솔물산 주식회사", short: "새솔물산", period: "2023년 2분기", type: "분기보고서" },
  { lang: "ko", org: "새솔물산 주식회사", short: "새솔물산", period: "2023년 3분기", type: "분기보고서" },
  { lang: "en", org: "Kestrel Bank, Busan branch", short: "Kestrel Bank Busan branch", period: "FY2021", type: "annual report" },
  { lang: "en", org: "Kestrel Bank, Busan branch", short: "Kestrel Bank Busan branch", period: "FY2022", type: "annual report" },
  { lang: "en", org: "Northwind Logistics Ltd.", short: "Northwind Logistics", period: "FY2021", type: "annual report" },
  { lang: "en", org: "Northwind Logistics Ltd.", short: "Northwind Logistics", period: "FY2022", type: "annual report" },
] as const;

function lookalikePdf(d: (typeof FAMILY)[number], i: number): Uint8Array {
  const cover = [d.org, "", `${d.period} ${d.type}`, "", `No. DOC-${100 + i}`];
  return d.lang === "ko"
    ? buildPdf({ font: "korean", pages: [cover, BODY_2, BODY_3] })
    : buildPdf({ pages: [cover, EN_2, EN_3] });
}

const question = (d: (typeof FAMILY)[number]) =>
  d.lang === "ko" ? `${d.period} ${d.short} ${d.type}에서 신규 물류센터는 어디에 준공되었나?` : `In the ${d.period} ${d.type} of ${d.short}, where did the new distribution centre open?`;

describe("look-alike documents through ingest, retrieval and reindex", () => {
  let t: TestKb;
  let ids: string[];
  const asked = async () => {
    const found: { top: string | undefined; page: number[]; text: string }[] = [];
    for (const d of FAMILY) {
      const { chunks } = await t.kb.retriever.retrieve(SYSTEM_ACTOR, question(d), { topK: 5 });
      found.push({ top: chunks[0]?.documentId, page: chunks[0] ? [chunks[0].pageStart, chunks[0].pageEnd] : [], text: chunks.filter((c) => c.pageStart > 1).map((c) => `${c.title}\n${c.headings}\n${c.text}`).join("\n") });
    }
    return found;
  };

  beforeAll(async () => {
    t = await openTestKb();
    const files = writeFiles(
      path.join(t.dir, "in"),
      Object.fromEntries(FAMILY.map((d, i) => [`archive/scan-${i}.pdf`, lookalikePdf(d, i)])),
    );
    const { job, documents } = await ingestNow(t.kb, files.map((f) => ({ source: f, path: f })));
    expect(job.status).toBe("succeeded");
    ids = documents.map((d) => d.id);
  });
  afterAll(async () => {
    await t?.close();
  });

  it("a question naming one of them finds that document's answering page, and quotes no cover text from it", async () => {
    const found = await asked();
    expect(found.map((f) => f.top)).toEqual(ids);
    // The chunk that holds page 3's answer, not the cover's.
    for (const f of found) expect(f.page[0]! > 1 && f.page[1]! >= 3).toBe(true);
    // The context is in the index only: what retrieval returns of the body chunks (title,
    // headings, text: what answers quote and cite) holds none of the cover's names or periods.
    for (const f of found) {
      for (const d of FAMILY) {
        expect(f.text).not.toContain(d.short.split(" ")[0]);
        expect(f.text).not.toContain(d.period);
      }
    }
  });

  it("a reindex job adds the context to chunks written without it (an older data folder)", async () => {
    // The rows as the previous version wrote them: title, headings and text only.
    const rows = await t.kb.chunks.rowsOf(ids, false);
    const old = (r: ChunkRow): ChunkRow => ({
      ...r,
      analyzed: analyzeChunks(r.title, [{ ordinal: r.ordinal, text: r.text, pageStart: r.pageStart, pageEnd: r.pageEnd, headings: r.headings ? r.headings.split(" > ") : [] }])[0]!.analyzed,
    });
    await t.kb.chunks.replaceDocuments(ids.map((id) => ({ documentId: id, rows: rows.filter((r) => r.documentId === id).map(old) })));
    await t.kb.jobs.optimizeNow();
    const body = (await t.kb.chunks.rowsOf([ids[0]!], false)).find((r) => r.text.includes("평택"))!;
    expect(body.analyzed.split(" ")).not.toContain(passageTerms("한빛전자")[0]);
    const without = await asked();
    expect(without.map((f) => f.top)).not.toEqual(ids);

    const { jobId } = await t.kb.jobs.submitReindex(SYSTEM_ACTOR);
    const job = await t.kb.jobs.runHere(jobId);
    expect(job?.status).toBe("succeeded");
    expect(job?.counts).toEqual({ succeeded: FAMILY.length });
    await t.kb.jobs.optimizeNow();
    const again = (await t.kb.chunks.rowsOf([ids[0]!], false)).find((r) => r.text.includes("평택"))!;
    expect(again.analyzed.split(" ")).toContain(passageTerms("한빛전자")[0]);
    expect(again.text).toBe(body.text);
    expect((await asked()).map((f) => f.top)).toEqual(ids);
  });

  it("prepares the same context in this process as the extraction processes do", async () => {
    const prepared = await prepareDocument({ source: "/x/archive/scan-1.pdf", bytes: lookalikePdf(FAMILY[1], 1) });
    expect(prepared.context).toContain("한빛전자 주식회사\n2023년 3분기 분기보고서");
    expect(prepared.context.endsWith("\nx archive")).toBe(true);
    expect(prepared.embeddingContext).toBe("한빛전자 주식회사\n2023년 3분기 분기보고서 No. DOC-101\nx archive");
    const stored = (await t.kb.chunks.rowsOf([ids[1]!], false)).find((r) => r.text.includes("평택"))!;
    // Ingested from <tmp>/in/archive/: the same lines, other folder words.
    expect(stored.context).toMatch(/^한빛전자 주식회사\n2023년 3분기 분기보고서 No\. DOC-101\n.* in archive$/);
    expect(prepared.chunks.length).toBeGreaterThan(1);
    for (const c of prepared.chunks.filter((c) => c.pageStart > 1)) expect(c.text).not.toContain("한빛전자");
  });
});

/** The fixture embedding model (test/global-setup.ts): random weights, so this checks what is embedded, not how well. */
describe.skipIf(!process.env.KB_TEST_EMBED_MODEL)("document context in the embedding text (with an embedding model)", () => {
  let t: TestKb;
  let ids: string[];
  const cosine = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let i = 0; i < a.length; i++) {
      dot += a[i]! * b[i]!;
      na += a[i]! ** 2;
      nb += b[i]! ** 2;
    }
    return dot / Math.sqrt(na * nb);
  };
  const bodyRow = async (id: string) => (await t.kb.chunks.rowsOf([id], true)).find((r) => r.text.includes("평택"))!;
  const embed = async (text: string) => (await (await t.kb.index.writeTarget()).embedder!.embedPassages([text]))[0]!;

  beforeAll(async () => {
    t = await openTestKb({ modelsDir: process.env.KB_TEST_EMBED_MODELS_DIR!, embedModel: process.env.KB_TEST_EMBED_MODEL! });
    const files = writeFiles(path.join(t.dir, "in"), { "a/scan-0.pdf": lookalikePdf(FAMILY[0]!, 0), "a/scan-1.pdf": lookalikePdf(FAMILY[2]!, 2) });
    const { job, documents } = await ingestNow(t.kb, files.map((f) => ({ source: f, path: f })));
    expect(job.status).toBe("succeeded");
    ids = documents.map((d) => d.id);
  });
  afterAll(async () => {
    await t?.close();
  });

  it("embeds each chunk with its document's cover lines before it: the same body under two covers gets two vectors", async () => {
    const [a, b] = [await bodyRow(ids[0]!), await bodyRow(ids[1]!)];
    expect(a.text).toBe(b.text);
    expect(a.context).toContain("2023년 2분기");
    expect(b.context).toContain("새솔물산");
    expect(cosine(a.vector!, await embed(embeddingTextOf(a)))).toBeGreaterThan(0.9999);
    expect(cosine(a.vector!, await embed(embeddingTextOf({ ...a, context: null })))).toBeLessThan(0.9999);
    expect(cosine(a.vector!, b.vector!)).toBeLessThan(0.9999);
  });

  it("a reindex re-embeds a document written without the context (chunk layout 3), a re-embed keeps it", async () => {
    // As layout 3 wrote it: no context, vectors of title > headings and text.
    const rows = await t.kb.chunks.rowsOf([ids[0]!], false);
    const old = await Promise.all(rows.map(async (r) => ({ ...r, context: null, vector: await embed(embeddingTextOf({ ...r, context: null })) })));
    await t.kb.chunks.replaceDocuments([{ documentId: ids[0]!, rows: old }]);
    const before = await bodyRow(ids[0]!);
    expect(before.context).toBeNull();

    const { jobId } = await t.kb.jobs.submitReindex(SYSTEM_ACTOR);
    const job = await t.kb.jobs.runHere(jobId);
    // Only the document whose rows lacked the context is rewritten.
    expect(job?.counts).toEqual({ succeeded: 1, unchanged: 1 });
    const after = await bodyRow(ids[0]!);
    expect(after.context).toContain("2023년 2분기");
    expect(cosine(after.vector!, await embed(embeddingTextOf(after)))).toBeGreaterThan(0.9999);
    expect(cosine(after.vector!, before.vector!)).toBeLessThan(0.9999);

    // A re-embed (another table, the same model: --force) rebuilds the same text from the columns.
    const table = t.kb.chunks.name;
    const reembed = await t.kb.jobs.submitReembed(SYSTEM_ACTOR, { force: true });
    expect((await t.kb.jobs.runHere(reembed.jobId))?.status).toBe("succeeded");
    expect(t.kb.chunks.name).not.toBe(table);
    const copied = await bodyRow(ids[0]!);
    expect(copied.context).toBe(after.context);
    expect(cosine(copied.vector!, after.vector!)).toBeGreaterThan(0.9999);
  });
});
