import { readFileSync } from "node:fs";
import iconv from "iconv-lite";
import JSZip from "jszip";
import { afterEach, describe, expect, it } from "vitest";
import { chunkDocument } from "../../ingest/chunk.ts";
import { extractFile } from "../../ingest/extract.ts";
import { extractorFor, overrideExtractor, supportedKinds } from "../../ingest/formats.ts";
import { configureExtraction } from "../../ingest/extraction-settings.ts";
import { pdfExtractor } from "../../ingest/extractors/pdf.ts";
import { loadConfig } from "../../src/config.ts";
import { IngestError, type Extractor, type SourceFile } from "../../ingest/types.ts";
import { buildPdf, bytesOf, haveShared, pseudoRandomBytes, sharedPath } from "./fixtures.ts";

const file = (source: string, bytes: Uint8Array, password?: string): SourceFile => ({ source, bytes, ...(password ? { password } : {}) });

async function failure(p: Promise<unknown>): Promise<IngestError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(IngestError);
    return err as IngestError;
  }
  throw new Error("expected an IngestError");
}

/** Restores the format table after a test that overrode an extractor. */
const restores: (() => void)[] = [];
afterEach(() => {
  for (const restore of restores.splice(0).reverse()) restore();
});

/** Run with the given kinds unsupported, then restore the table. */
async function withoutExtractors<T>(kinds: string[], fn: () => Promise<T>): Promise<T> {
  const restore = overrideExtractor(null, kinds);
  try {
    return await fn();
  } finally {
    restore();
  }
}

describe("format table", () => {
  it("has the built-in extractors", async () => {
    expect(supportedKinds()).toEqual(expect.arrayContaining(["html", "markdown", "pdf", "text"]));
    expect((await extractorFor("pdf"))?.kinds).toEqual(["pdf"]);
    expect(await extractorFor("no-such-kind")).toBeUndefined();
  });

  it("lets tests replace an extractor, and restores the table", async () => {
    const csv: Extractor = {
      kinds: ["csv"],
      async extract(f, type) {
        return { mime: type.mime, title: f.source, pages: [{ page: 1, blocks: [{ kind: "table", text: "| a | b |\n| --- | --- |\n| 1 | 2 |" }] }], warnings: [] };
      },
    };
    const restore = overrideExtractor(csv);
    expect(await extractorFor("csv")).toBe(csv);
    const { type, document } = await extractFile(file("t.csv", bytesOf("a,b\n1,2\n")));
    expect(type).toEqual({ mime: "text/csv", kind: "csv" });
    expect(document.pages[0]!.blocks[0]!.kind).toBe("table");
    expect(() => overrideExtractor({ kinds: [], extract: csv.extract })).toThrow();
    restore();
    expect(await extractorFor("csv")).not.toBe(csv);
    expect((await extractFile(file("t.csv", bytesOf("a,b\n1,2\n")))).document.warnings).toEqual([]);
  });
});

describe("extractFile", () => {
  it("runs detect → extract → normalize for each text format", async () => {
    const txt = await extractFile(file("notes/연차 안내.txt", new Uint8Array(iconv.encode("연차\u3000안내\r\n\r\n연차는  15일입니다.\r\n", "cp949"))));
    expect(txt.type).toEqual({ mime: "text/plain", kind: "text" });
    expect(txt.document.title).toBe("연차 안내");
    expect(txt.document.pages[0]!.blocks.map((b) => b.text)).toEqual(["연차 안내", "연차는 15일입니다."]);

    const md = await extractFile(file("a.md", bytesOf("# 제목\n\n본문\u200b 입니다.")));
    expect(md.type.kind).toBe("markdown");
    expect(md.document.pages[0]!.blocks).toEqual([
      { kind: "heading", level: 1, text: "제목" },
      { kind: "paragraph", text: "본문 입니다." },
    ]);

    const html = await extractFile(file("page", bytesOf("<!doctype html><title>연차 안내</title><body><nav>menu</nav><h2>H</h2><p>P&nbsp;text</p></body>")));
    expect(html.type.kind).toBe("html");
    expect(html.document.title).toBe("연차 안내");
    expect(html.document.pages[0]!.blocks.map((b) => b.text)).toEqual(["H", "P text"]);

    const pdf = await extractFile(file("a.pdf", buildPdf({ pages: [["Line one of a paragraph that", "continues on line two."]] })));
    expect(pdf.type).toEqual({ mime: "application/pdf", kind: "pdf" });
    expect(pdf.document.pages[0]!.blocks.map((b) => b.text)).toEqual(["Line one of a paragraph that continues on line two."]);
  });

  it("passes the password through", async () => {
    const bytes = buildPdf({ pages: [["Encrypted content here."]], encrypt: { userPassword: "k" } });
    expect((await failure(extractFile(file("e.pdf", bytes)))).code).toBe("encrypted_pdf");
    expect((await failure(extractFile(file("e.pdf", bytes, "x")))).code).toBe("wrong_password");
    expect((await extractFile(file("e.pdf", bytes, "k"))).document.pages).toHaveLength(1);
    expect((await extractFile(file("e.pdf", bytes), { password: "k" })).document.pages).toHaveLength(1);
  });

  it("only ever throws IngestError", async () => {
    expect((await failure(extractFile(file("empty.txt", new Uint8Array())))).code).toBe("empty_file");
    expect((await failure(extractFile(file("random.txt", pseudoRandomBytes(3000, 11))))).code).toBe("binary_content");
    expect((await failure(extractFile(file("blank.txt", bytesOf(" \n\t\n\u00a0\u200b"))))).code).toBe("no_content");
    expect((await failure(extractFile(file("page.html", bytesOf("<html><body><nav>only navigation</nav><script>x()</script></body></html>"))))).code).toBe("no_content");
    const pdf = buildPdf({ pages: [["Some text for truncation."]] });
    expect((await failure(extractFile(file("cut.pdf", pdf.slice(0, pdf.length >> 1))))).code).toBe("corrupt_pdf");
    expect((await failure(extractFile(file("scan.pdf", buildPdf({ pages: [[]] }))))).code).toBe("no_text_layer");
    expect((await failure(extractFile(file("many.pdf", buildPdf({ pages: [["a"], ["b"]] })), { maxPages: 1 }))).code).toBe("too_many_pages");
    const ac = new AbortController();
    ac.abort();
    expect((await failure(extractFile(file("a.txt", bytesOf("x")), { signal: ac.signal }))).code).toBe("aborted");
  });

  it("reports binary kinds without an extractor as unsupported", () => withoutExtractors(["docx"], async () => {
    const zip = new JSZip();
    zip.file("[Content_Types].xml", "<Types/>");
    zip.file("word/document.xml", "<w:document/>");
    const err = await failure(extractFile(file("a.docx", new Uint8Array(await zip.generateAsync({ type: "uint8array" })))));
    expect(err.code).toBe("unsupported_type");
    expect(err.message).toMatch(/docx/);
  }));

  it("indexes XML (no dedicated extractor) as plain text, with a warning", async () => {
    const { type, document } = await extractFile(file("data.xml", bytesOf('<?xml version="1.0"?>\n<note>body text</note>\n')));
    expect(type).toEqual({ mime: "application/xml", kind: "xml" });
    expect(document.warnings).toEqual(["no xml extractor is registered; indexed as plain text"]);
    expect(document.pages[0]!.blocks.at(-1)!.text).toContain("body text");
  });

  it("maps unexpected extractor exceptions to extract_failed", async () => {
    restores.push(overrideExtractor({
      kinds: ["html"],
      async extract() {
        throw new TypeError("cannot read properties of undefined");
      },
    }));
    const err = await failure(extractFile(file("a.html", bytesOf("<html><body><p>x</p></body></html>"))));
    expect(err.code).toBe("extract_failed");
    expect(err.message).toMatch(/TypeError: cannot read properties of undefined/);
  });

  it("is deterministic end to end (same bytes → same chunks)", async () => {
    const bytes = buildPdf({ pages: [["First page sentence one. Sentence two."], ["Second page text."]] });
    const a = chunkDocument((await extractFile(file("a.pdf", bytes))).document);
    const b = chunkDocument((await extractFile(file("a.pdf", bytes))).document);
    expect(a).toEqual(b);
    expect(a[0]).toMatchObject({ pageStart: 1, pageEnd: 2 });
  });
});

const K = sharedPath("multiformat_korean");
const O = sharedPath("ocr_korean", "born_digital_pdf");
describe.skipIf(!haveShared(K, "Korean samples") || !haveShared(O, "Korean PDFs"))("shared data: end to end", () => {
  it("the same Korean text in three encodings gives identical chunks", async () => {
    const chunksOf = async (name: string) => chunkDocument((await extractFile(file("appendix-keywords.txt", new Uint8Array(readFileSync(`${K}/${name}`))))).document);
    const utf8 = await chunksOf("appendix-keywords-utf8.txt");
    expect(utf8.length).toBeGreaterThan(3);
    expect(await chunksOf("appendix-keywords-CP949.txt")).toEqual(utf8);
    expect(await chunksOf("appendix-keywords-EUCKR.txt")).toEqual(utf8);
  });

  it("Korean PDF chunks carry heading paths and pages", async () => {
    const { document } = await extractFile(file("autorag_korean_texts_two_page.pdf", new Uint8Array(readFileSync(`${O}/autorag_korean_texts_two_page.pdf`))));
    const chunks = chunkDocument(document);
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks[0]!.headings).toEqual(["【보통약관】", "제1관 목적 및 용어의 정의"]);
    expect(chunks.at(-1)!.headings).toEqual(["【보통약관】", "제2관 보험금의 지급"]);
    expect(chunks.at(-1)!.pageEnd).toBe(2);
  });
});

describe("KB_OCR_PDF", () => {
  it("off: the PDF extractor is the text-layer-only one (no OCR fallback); on by default", async () => {
    expect(loadConfig({}).ocrPdf).toBe(true);
    expect(loadConfig({ KB_OCR_PDF: "off" }).ocrPdf).toBe(false);
    expect(await extractorFor("pdf")).not.toBe(pdfExtractor);
    try {
      configureExtraction({ ocrPdf: loadConfig({ KB_OCR_PDF: "off" }).ocrPdf });
      expect(await extractorFor("pdf")).toBe(pdfExtractor);
      const image = buildPdf({ pages: [[]] });
      await expect(extractFile({ source: "scan.pdf", bytes: image })).rejects.toMatchObject({ code: "no_text_layer" });
    } finally {
      configureExtraction({ ocrPdf: true });
    }
    expect(await extractorFor("pdf")).not.toBe(pdfExtractor);
  });
});
