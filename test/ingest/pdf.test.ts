import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { PDFParse } from "pdf-parse";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  assessPageText,
  createPdfExtractor,
  pdfExtractor,
  pdfjsAssets,
  pdfPageToBlocks,
  readPdfTextLayer,
  sensiblePdfTitle,
  type PdfOcrFallback,
} from "../../ingest/extractors/pdf.ts";
import { normalizeDocument } from "../../ingest/normalize.ts";
import { IngestError, type ExtractedDocument, type SourceFile } from "../../ingest/types.ts";
import { buildPdf, haveShared, pseudoRandomBytes, sharedPath } from "./fixtures.ts";

const PDF_TYPE = { mime: "application/pdf", kind: "pdf" };
const file = (bytes: Uint8Array, source = "doc.pdf", password?: string): SourceFile => ({ source, bytes, ...(password ? { password } : {}) });
const textOf = (doc: ExtractedDocument) => doc.pages.flatMap((p) => p.blocks.map((b) => b.text)).join("\n");

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(IngestError);
    return (err as IngestError).code;
  }
}

afterEach(() => vi.restoreAllMocks());

describe("pdfjs assets", () => {
  it("points at the cmaps / standard_fonts of the pdfjs-dist copy pdf-parse loads, with trailing separators", () => {
    const a = pdfjsAssets();
    for (const dir of [a.cMapUrl, a.standardFontDataUrl]) {
      expect(dir.endsWith(path.sep)).toBe(true);
      expect(existsSync(dir)).toBe(true);
    }
    expect(existsSync(`${a.cMapUrl}UniKS-UCS2-H.bcmap`)).toBe(true);
    expect(existsSync(`${a.cMapUrl}Adobe-Korea1-UCS2.bcmap`)).toBe(true);
    expect(readdirSync(a.standardFontDataUrl).length).toBeGreaterThan(5);
  });
});

describe("readPdfTextLayer", () => {
  it("reads per-page text and the info title", async () => {
    const bytes = buildPdf({ pages: [["Hello world from page one.", "Second line (with parens)."], ["Page two has its own text here."]], title: "Quarterly Report" });
    const layer = await readPdfTextLayer(bytes);
    expect(layer.numPages).toBe(2);
    expect(layer.title).toBe("Quarterly Report");
    expect(layer.truncated).toBe(false);
    expect(layer.pages.map((p) => p.page)).toEqual([1, 2]);
    expect(layer.pages[0]!.text).toBe("Hello world from page one.\nSecond line (with parens).");
    expect(layer.pages.every((p) => p.quality.ok)).toBe(true);
    // the caller's bytes are not detached / consumed
    expect(bytes.byteLength).toBeGreaterThan(0);
    expect((await readPdfTextLayer(bytes)).numPages).toBe(2);
  });

  it("reads Korean text set in a non-embedded CID font (needs the predefined CMaps)", async () => {
    const bytes = buildPdf({ pages: [["연차 휴가는 입사 1년 후 15일이 주어집니다.", "사용하지 않은 연차는 수당으로 지급합니다."]], font: "korean" });
    const layer = await readPdfTextLayer(bytes);
    expect(layer.pages[0]!.text).toBe("연차 휴가는 입사 1년 후 15일이 주어집니다.\n사용하지 않은 연차는 수당으로 지급합니다.");
    expect(layer.pages[0]!.quality).toMatchObject({ ok: true, hangulSyllables: 34 });
    // Without cMapUrl, pdfjs silently returns no text for this font: the reason the option is mandatory.
    const bare = new PDFParse({ data: new Uint8Array(bytes), verbosity: 0 });
    try {
      const t = await bare.getText();
      expect(t.pages[0]!.text.trim()).toBe("");
    } finally {
      await bare.destroy();
    }
  });

  it("maps encryption and corruption to IngestError codes", async () => {
    const enc = buildPdf({ pages: [["Confidential salary table."]], encrypt: { userPassword: "s3cret" } });
    expect(await codeOf(readPdfTextLayer(enc))).toBe("encrypted_pdf");
    expect(await codeOf(readPdfTextLayer(enc, { password: "wrong" }))).toBe("wrong_password");
    expect((await readPdfTextLayer(enc, { password: "s3cret" })).pages[0]!.text).toBe("Confidential salary table.");

    const good = buildPdf({ pages: [["Some text that will be cut off."]] });
    for (const cut of [0.2, 0.5, 0.8]) {
      expect(await codeOf(readPdfTextLayer(good.slice(0, Math.floor(good.length * cut))))).toBe("corrupt_pdf");
    }
    expect(await codeOf(readPdfTextLayer(new Uint8Array(Buffer.from("%PDF-1.7\n"))))).toBe("corrupt_pdf");
    expect(await codeOf(readPdfTextLayer(pseudoRandomBytes(5000, 7)))).toBe("corrupt_pdf");
  });

  it("guards the page count and honours an abort signal", async () => {
    const bytes = buildPdf({ pages: [["one"], ["two"], ["three"]] });
    expect(await codeOf(readPdfTextLayer(bytes, { maxPages: 2 }))).toBe("too_many_pages");
    const ac = new AbortController();
    ac.abort();
    expect(await codeOf(readPdfTextLayer(bytes, { signal: ac.signal }))).toBe("aborted");
  });

  it("destroys every pdf-parse instance, on success and on failure", async () => {
    const spy = vi.spyOn(PDFParse.prototype, "destroy");
    await readPdfTextLayer(buildPdf({ pages: [["ok text"]] }));
    await codeOf(readPdfTextLayer(buildPdf({ pages: [["x"]], encrypt: { userPassword: "p" } })));
    await codeOf(readPdfTextLayer(pseudoRandomBytes(300, 3)));
    await codeOf(readPdfTextLayer(buildPdf({ pages: [["a"], ["b"]] }), { maxPages: 1 }));
    expect(spy).toHaveBeenCalledTimes(4);
  });
});

describe("assessPageText (OCR seam)", () => {
  it("gives a verdict per page", () => {
    expect(assessPageText("")).toMatchObject({ ok: false, reason: "empty", chars: 0 });
    expect(assessPageText("  12  ")).toMatchObject({ ok: false, reason: "too_few_chars" });
    expect(assessPageText("정상적인 한국어 문장이 충분히 길게 들어 있는 페이지입니다.")).toMatchObject({ ok: true });
    expect(assessPageText("보험 \ufffd\ufffd\ufffd\ufffd 약관 \ufffd\ufffd\ufffd 조항 \ufffd\ufffd\ufffd\ufffd\ufffd").reason).toBe("replacement_chars");
    expect(assessPageText("\ue000\ue001\ue002\ue003\ue004 글자 \ue005\ue006\ue007\ue008\ue009").reason).toBe("private_use_chars");
    expect(assessPageText("ㅂㅗㅎㅓㅁ ㄱㅖㅇㅑㄱ ㅈㅗㅎㅏㅇ ㅇㅣㅂㄴㅣㄷㅏ").reason).toBe("broken_hangul");
    // decomposed (NFD) Hangul is fine: it composes under NFC
    expect(assessPageText("연차 휴가는 입사 1년 후 15일이 주어집니다.".normalize("NFD"))).toMatchObject({ ok: true, loneJamo: 0 });
    expect(assessPageText("short", { minChars: 3 }).ok).toBe(true);
  });
});

describe("pdf extractor", () => {
  it("extracts pages → paragraph blocks, title from info or file name", async () => {
    const bytes = buildPdf({
      pages: [["This paragraph is broken across", "two lines by the layout."], ["Second page."]],
      title: "Employee Handbook",
    });
    const doc = await pdfExtractor.extract(file(bytes, "handbook.pdf"), PDF_TYPE, {});
    expect(doc.title).toBe("Employee Handbook");
    expect(doc.mime).toBe("application/pdf");
    expect(doc.pages.map((p) => p.page)).toEqual([1, 2]);
    expect(normalizeDocument(doc).pages[0]!.blocks).toEqual([{ kind: "paragraph", text: "This paragraph is broken across two lines by the layout." }]);
    const untitled = await pdfExtractor.extract(file(buildPdf({ pages: [["text"]], title: "Microsoft Word - draft_v2.docx" }), "/x/연차규정.pdf"), PDF_TYPE, {});
    expect(untitled.title).toBe("연차규정");
  });

  it("uses the password from the file or the options", async () => {
    const bytes = buildPdf({ pages: [["Secret plans."]], encrypt: { userPassword: "pw" } });
    expect(await codeOf(pdfExtractor.extract(file(bytes), PDF_TYPE, {}))).toBe("encrypted_pdf");
    expect(await codeOf(pdfExtractor.extract(file(bytes, "a.pdf", "nope"), PDF_TYPE, {}))).toBe("wrong_password");
    expect(textOf(await pdfExtractor.extract(file(bytes, "a.pdf", "pw"), PDF_TYPE, {}))).toBe("Secret plans.");
    expect(textOf(await pdfExtractor.extract(file(bytes), PDF_TYPE, { password: "pw" }))).toBe("Secret plans.");
  });

  it("rejects a PDF without any text layer, and warns about single empty pages", async () => {
    expect(await codeOf(pdfExtractor.extract(file(buildPdf({ pages: [[], []] })), PDF_TYPE, {}))).toBe("no_text_layer");
    const doc = await pdfExtractor.extract(file(buildPdf({ pages: [["Page one has text."], [], ["Page three too."]] })), PDF_TYPE, {});
    expect(doc.pages.map((p) => p.page)).toEqual([1, 3]);
    expect(doc.warnings.join(" ")).toMatch(/pages 2 have no text layer; they need OCR/);
  });

  it("honours maxPages from the options (default 5000)", async () => {
    const bytes = buildPdf({ pages: [["a"], ["b"], ["c"]] });
    expect(await codeOf(pdfExtractor.extract(file(bytes), PDF_TYPE, { maxPages: 2 } as never))).toBe("too_many_pages");
    expect(await codeOf(createPdfExtractor({ maxPages: 1 }).extract(file(bytes), PDF_TYPE, {}))).toBe("too_many_pages");
  });

  it("hands failing pages to an OCR fallback and keeps good pages from the text layer", async () => {
    const bytes = buildPdf({ pages: [["The first page has a proper text layer."], [], ["Third page with text as well."]] });
    const seen: number[][] = [];
    const ocrFallback: PdfOcrFallback = async ({ pages, file: f }) => {
      expect(f.bytes.byteLength).toBe(bytes.byteLength);
      seen.push(pages.map((p) => p.page));
      expect(pages[0]!.quality.reason).toBe("empty");
      return [{ page: 2, text: "스캔된 둘째 페이지의 OCR 결과입니다.", confidence: 87.5 }];
    };
    const doc = await createPdfExtractor({ ocrFallback }).extract(file(bytes), PDF_TYPE, {});
    expect(seen).toEqual([[2]]);
    expect(doc.pages.map((p) => [p.page, p.ocrConfidence])).toEqual([[1, undefined], [2, 87.5], [3, undefined]]);
    expect(doc.pages[1]!.blocks[0]!.text).toBe("스캔된 둘째 페이지의 OCR 결과입니다.");
    expect(doc.warnings).toContain("page 2 read by OCR (confidence 88)");
  });

  it("does not call the OCR fallback when every page is fine, and survives a failing fallback", async () => {
    const ok = buildPdf({ pages: [["A page with plenty of extractable text."]] });
    const fallback = vi.fn<PdfOcrFallback>(async () => []);
    await createPdfExtractor({ ocrFallback: fallback }).extract(file(ok), PDF_TYPE, {});
    expect(fallback).not.toHaveBeenCalled();
    const broken: PdfOcrFallback = async () => {
      throw new Error("tesseract crashed");
    };
    const mixed = buildPdf({ pages: [["A page with plenty of extractable text."], []] });
    const doc = await createPdfExtractor({ ocrFallback: broken }).extract(file(mixed), PDF_TYPE, {});
    expect(doc.warnings.join(" ")).toMatch(/OCR fallback failed: tesseract crashed/);
    expect(doc.pages).toHaveLength(1);
  });

  it("keeps blank-line separated blocks of a page apart", () => {
    expect(pdfPageToBlocks("a\nb\n\n  \nc\t d  \n")).toEqual([
      { kind: "paragraph", text: "a\nb" },
      { kind: "paragraph", text: "c\t d" },
    ]);
  });

  it("judges info titles", () => {
    expect(sensiblePdfTitle("Employee Handbook 2024")).toBe("Employee Handbook 2024");
    expect(sensiblePdfTitle("2024_리그규정.pdf")).toBe("2024_리그규정");
    expect(sensiblePdfTitle("insurance_biz")).toBeUndefined();
    expect(sensiblePdfTitle("report_final.docx")).toBeUndefined();
    expect(sensiblePdfTitle("Untitled")).toBeUndefined();
    expect(sensiblePdfTitle("제목 없음")).toBeUndefined();
    expect(sensiblePdfTitle("Microsoft Word - 연차 규정.doc")).toBe("연차 규정");
    expect(sensiblePdfTitle("---")).toBeUndefined();
    expect(sensiblePdfTitle("baseball_rule_split 복사본")).toBeUndefined();
    expect(sensiblePdfTitle("휴가 규정 복사본")).toBe("휴가 규정");
    expect(sensiblePdfTitle(42)).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------
// Real Korean PDFs vs pdftotext ground truth

const OCR_KO = sharedPath("ocr_korean");
const hangulCount = (s: string) => (s.match(/[가-힣]/g) ?? []).length;
/** Multiset recall of non-whitespace, non-control characters of `truth` in `ours`. */
function charRecall(ours: string, truth: string): number {
  const count = (s: string) => {
    const m = new Map<string, number>();
    for (const c of s.replace(/[\s\u0000-\u001f]/g, "")) m.set(c, (m.get(c) ?? 0) + 1);
    return m;
  };
  const a = count(ours);
  const b = count(truth);
  let hit = 0;
  let total = 0;
  for (const [c, n] of b) {
    total += n;
    hit += Math.min(n, a.get(c) ?? 0);
  }
  return total ? hit / total : 1;
}

describe.skipIf(!haveShared(OCR_KO, "Korean PDF ground truth"))("shared data: Korean born-digital PDFs", () => {
  const names = ["autorag_korean_texts_two_page", "autorag_kbo_table_text", "autorag_kbo_only_table", "unstructured_korean-text-with-tables"];
  it.each(names)("%s: every character of the ground truth is extracted", async (name) => {
    const bytes = new Uint8Array(readFileSync(`${OCR_KO}/born_digital_pdf/${name}.pdf`));
    const truth = readFileSync(`${OCR_KO}/ground_truth_txt/${name}.raw.txt`, "utf8");
    const doc = normalizeDocument(await pdfExtractor.extract(file(bytes, `${name}.pdf`), PDF_TYPE, {}));
    const ours = textOf(doc);
    expect(hangulCount(ours)).toBe(hangulCount(truth));
    expect(charRecall(ours, truth)).toBeGreaterThanOrEqual(0.999);
    expect(charRecall(truth, ours)).toBeGreaterThanOrEqual(0.999);
    expect(doc.warnings).toEqual([]);
  });

  it("per-page text matches the per-page ground truth of the two-page document", async () => {
    const bytes = new Uint8Array(readFileSync(`${OCR_KO}/born_digital_pdf/autorag_korean_texts_two_page.pdf`));
    const layer = await readPdfTextLayer(bytes);
    for (const p of layer.pages) {
      const truth = readFileSync(`${OCR_KO}/ground_truth_txt/autorag_korean_texts_two_page.p${p.page}.layout.txt`, "utf8");
      expect(hangulCount(p.text)).toBe(hangulCount(truth));
      expect(p.quality.ok).toBe(true);
    }
  });

  it("scanned (image-only) PDFs are rejected as needing OCR", async () => {
    const bytes = new Uint8Array(readFileSync(`${OCR_KO}/scanned_pdf_200dpi/autorag_korean_texts_two_page.scanned.pdf`));
    expect(await codeOf(pdfExtractor.extract(file(bytes), PDF_TYPE, {}))).toBe("no_text_layer");
    const layer = await readPdfTextLayer(bytes);
    expect(layer.pages.map((p) => p.quality.reason)).toEqual(["empty", "empty"]);
  });
});

const AUTORAG_PDF = sharedPath("autorag_ko_test_resources", "pdf", "korean_texts_two_page.pdf");
describe.skipIf(!haveShared(AUTORAG_PDF, "AutoRAG Korean PDF"))("shared data: autorag korean_texts_two_page.pdf", () => {
  it("extracts both pages of Korean text with a heading structure", async () => {
    const doc = normalizeDocument(await pdfExtractor.extract(file(new Uint8Array(readFileSync(AUTORAG_PDF)), "korean_texts_two_page.pdf"), PDF_TYPE, {}));
    expect(doc.pages.map((p) => p.page)).toEqual([1, 2]);
    expect(hangulCount(textOf(doc))).toBeGreaterThan(2500);
    const headings = doc.pages.flatMap((p) => p.blocks.filter((b) => b.kind === "heading").map((b) => b.text));
    expect(headings).toEqual(["【보통약관】", "제1관 목적 및 용어의 정의", "제2관 보험금의 지급"]);
    expect(textOf(doc)).toContain("제3자는 의료법 제3조(의료기관)에 규정한 종합병원");
  });
});

const PDF_DIR = sharedPath("multiformat_unstructured", "pdf");
describe.skipIf(!haveShared(PDF_DIR, "PDF samples"))("shared data: encrypted / odd PDFs", () => {
  const read = (n: string) => new Uint8Array(readFileSync(`${PDF_DIR}/${n}`));
  it("password.pdf needs a password", async () => {
    expect(await codeOf(pdfExtractor.extract(file(read("password.pdf")), PDF_TYPE, {}))).toBe("encrypted_pdf");
    expect(await codeOf(pdfExtractor.extract(file(read("password.pdf"), "p.pdf", "not-it"), PDF_TYPE, {}))).toBe("wrong_password");
  });
  it("copy-protected.pdf (owner password only) is readable", async () => {
    expect(textOf(await pdfExtractor.extract(file(read("copy-protected.pdf")), PDF_TYPE, {})).length).toBeGreaterThan(100);
  });
  it("layout-parser-paper-with-empty-pages.pdf warns about the empty pages", async () => {
    const doc = await pdfExtractor.extract(file(read("layout-parser-paper-with-empty-pages.pdf")), PDF_TYPE, {});
    expect(doc.warnings.join(" ")).toMatch(/no text layer; they need OCR/);
  });
  it("loremipsum-flat.pdf has no text layer", async () => {
    expect(await codeOf(pdfExtractor.extract(file(read("loremipsum-flat.pdf")), PDF_TYPE, {}))).toBe("no_text_layer");
  });
  it("a truncated real PDF is corrupt", async () => {
    const b = read("fake-memo.pdf");
    expect(await codeOf(pdfExtractor.extract(file(b.slice(0, Math.floor(b.length / 3))), PDF_TYPE, {}))).toBe("corrupt_pdf");
  });
});
