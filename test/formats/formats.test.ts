/**
 * Office / HWP / HWPX / CSV / EML / Outlook .msg / EPUB extractors on files built in the test, plus the public samples
 * (skipped with a message when /work/shared/data is absent).
 */
import iconv from "iconv-lite";
import { readFileSync } from "node:fs";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { extractFile } from "../../ingest/extract.ts";
import { createCsvExtractor, csvExtractor, detectDelimiter, parseCsv } from "../../ingest/extractors/csv.ts";
import { markdownTable } from "../../ingest/extractors/tables.ts";
import { docxExtractor } from "../../ingest/extractors/docx.ts";
import { emlExtractor } from "../../ingest/extractors/eml.ts";
import { decodeParaText, hwpExtractor, parseRecords } from "../../ingest/extractors/hwp.ts";
import { hwpxExtractor } from "../../ingest/extractors/hwpx.ts";
import { chartBlocks } from "../../ingest/extractors/drawingml.ts";
import { createPptxExtractor, pptxExtractor } from "../../ingest/extractors/pptx.ts";
import { closeOcrEngine } from "../../ingest/ocr/engine.ts";
import { createXlsxExtractor, splitRegions, xlsxExtractor } from "../../ingest/extractors/xlsx.ts";
import type { Block, DetectedType, ExtractedDocument, Extractor } from "../../ingest/types.ts";
import { configureExtraction } from "../../ingest/extraction-settings.ts";
import { extractorFor, FORMATS, supportedKinds } from "../../ingest/formats.ts";
import { KNOWN_KINDS } from "../../ingest/detect.ts";
import { loadConfig } from "../../src/config.ts";
import { haveShared, sharedPath } from "../ingest/fixtures.ts";
import { createEpubExtractor } from "../../ingest/extractors/epub.ts";
import { createHwpExtractor } from "../../ingest/extractors/hwp.ts";
import { createHwpxExtractor } from "../../ingest/extractors/hwpx.ts";
import { msgExtractor } from "../../ingest/extractors/msg.ts";
import { buildDocx, buildEml, buildEpub, buildHwp, buildHwpx, buildMsg, buildPptx, buildXlsx, patchZipFlags, zipOf, zipWithCp949Names } from "./builders.ts";
import { createArchiveExtractor } from "../../ingest/extractors/archive.ts";

const T = (kind: string, mime = ""): DetectedType => ({ kind, mime });
const run = (ex: Extractor, source: string, bytes: Uint8Array, kind: string, mime = "") => ex.extract({ source, bytes }, T(kind, mime), {});
const blocks = (d: ExtractedDocument): Block[] => d.pages.flatMap((p) => p.blocks);
const allText = (d: ExtractedDocument) => blocks(d).map((b) => b.text).join("\n");

describe("format table", () => {
  it("has a row for every detected kind, and each row loads an extractor for its own kind", async () => {
    expect(FORMATS.map((f) => f.kind)).toEqual([...KNOWN_KINDS]);
    expect(supportedKinds()).toEqual(["csv", "doc", "docx", "eml", "epub", "html", "hwp", "hwpx", "image", "markdown", "msg", "odp", "ods", "odt", "pdf", "ppt", "pptx", "rtf", "text", "xls", "xlsx", "xml", "zip"]);
    for (const kind of supportedKinds()) expect((await extractorFor(kind))?.kinds).toContain(kind);
    expect(await extractorFor("audio")).toBeUndefined();
  });
});

describe("DOCX", () => {
  it("keeps headings and turns tables into Markdown tables; title from core.xml", async () => {
    const d = await run(docxExtractor, "규정.docx", await buildDocx({ title: "인사 규정 2024" }), "docx");
    expect(d.title).toBe("인사 규정 2024");
    const bs = blocks(d);
    expect(bs[0]).toEqual({ kind: "heading", level: 1, text: "휴가 규정" });
    expect(bs.find((b) => b.kind === "heading" && b.level === 2)?.text).toBe("연차");
    const table = bs.find((b) => b.kind === "table")!;
    expect(table.text.split("\n")).toEqual(["| 항목 | 값 |", "| --- | --- |", "| 연차 | 15일 |", "| 병가 | 30일 |"]);
  });

  it("goes through detect → registry → normalize", async () => {
    const { type, document } = await extractFile({ source: "a.docx", bytes: await buildDocx() });
    expect(type.kind).toBe("docx");
    expect(allText(document)).toContain("Annual leave must be approved");
  });
});

describe("pictures in Office documents (OCR)", () => {
  /** A picture of text, as a screenshot pasted into a document (SVG text needs a system font). */
  async function textPicture(text: string): Promise<Uint8Array | null> {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="900" height="140"><rect width="100%" height="100%" fill="white"/><text x="30" y="90" font-family="DejaVu Sans" font-size="44" fill="black">${text}</text></svg>`;
    const png = await sharp(Buffer.from(svg)).png().toBuffer();
    const { channels } = await sharp(png).grayscale().stats();
    if ((channels[0]?.min ?? 255) >= 128) {
      console.log("[skip] pictures in Office documents: no system font for SVG text (install fonts-dejavu-core)");
      return null;
    }
    return png;
  }
  afterAll(() => closeOcrEngine());

  it("DOCX: a picture's text stands where the picture stands", async () => {
    const picture = await textPicture("Revenue grew 12 percent");
    if (!picture) return;
    const d = await run(docxExtractor, "report.docx", await buildDocx({ picture }), "docx");
    const texts = blocks(d).map((b) => b.text);
    const at = texts.findIndex((t) => /Revenue grew 12 percent/.test(t));
    expect(at).toBeGreaterThan(texts.indexOf("The chart below shows the figures."));
    expect(at).toBeLessThan(texts.indexOf("Annual leave must be approved in advance."));
    expect(d.warnings).toContain("text of 1 picture(s) read by OCR");
  });

  it("PPTX: a picture's text is read on its slide; pictures can be turned off", async () => {
    const picture = await textPicture("Revenue grew 12 percent");
    if (!picture) return;
    const bytes = await buildPptx({ picture });
    const d = await run(pptxExtractor, "deck.pptx", bytes, "pptx");
    const slide = d.pages.find((p) => p.blocks.some((b) => b.text === "실적 요약"))!;
    const texts = slide.blocks.map((b) => b.text);
    expect(texts.findIndex((t) => /Revenue grew 12 percent/.test(t))).toBe(texts.indexOf("A free text box.") - 1);
    const off = await run(createPptxExtractor({ pictures: false }), "deck.pptx", bytes, "pptx");
    expect(allText(off)).not.toMatch(/12 percent/);
    expect(allText(off)).not.toContain("\u0000");
  });

  it("KB_OCR_PICTURES=off loads the Office extractors without picture OCR", async () => {
    expect(loadConfig({ KB_OCR_PICTURES: "off" }).ocrPictures).toBe(false);
    expect(loadConfig({}).ocrPictures).toBe(true);
    const picture = await textPicture("Revenue grew 12 percent");
    if (!picture) return;
    try {
      configureExtraction({ ocrPictures: loadConfig({ KB_OCR_PICTURES: "off" }).ocrPictures });
      const d = await run((await extractorFor("docx"))!, "report.docx", await buildDocx({ picture }), "docx");
      expect(allText(d)).toContain("The chart below shows the figures.");
      expect(allText(d)).not.toMatch(/12 percent/);
    } finally {
      configureExtraction({ ocrPictures: true });
    }
    expect(allText(await run((await extractorFor("docx"))!, "report.docx", await buildDocx({ picture }), "docx"))).toMatch(/12 percent/);
  });

  it("XLSX: a picture's text stands among the sheet's tables by its anchor row; pictures can be turned off", async () => {
    const picture = await textPicture("Revenue grew 12 percent");
    if (!picture) return;
    const bytes = await buildXlsx(0, picture);
    const d = await run(xlsxExtractor, "sales.xlsx", bytes, "xlsx");
    const texts = d.pages[0]!.blocks.map((b) => b.text);
    const at = texts.findIndex((t) => /Revenue grew 12 percent/.test(t));
    expect(at).toBeGreaterThan(texts.findIndex((t) => t.includes("서울")));
    expect(at).toBeLessThan(texts.findIndex((t) => t.includes("성장률")));
    expect(d.warnings).toContain("text of 1 picture(s) read by OCR");
    const off = await run(createXlsxExtractor({ pictures: false }), "sales.xlsx", bytes, "xlsx");
    expect(allText(off)).not.toMatch(/12 percent/);
    expect(allText(off)).toContain("성장률");
  });

  it("HWP: a picture's text stands where its drawing control is anchored; pictures can be turned off", async () => {
    const picture = await textPicture("Revenue grew 12 percent");
    if (!picture) return;
    const bytes = buildHwp({ picture });
    const d = await run(hwpExtractor, "plan.hwp", bytes, "hwp");
    const texts = blocks(d).map((b) => b.text);
    const at = texts.findIndex((t) => /Revenue grew 12 percent/.test(t));
    expect(at).toBeGreaterThan(texts.findIndex((t) => t.startsWith("| 이름")));
    expect(at).toBeLessThan(texts.findIndex((t) => t.startsWith("Mixed English")));
    expect(d.warnings).toContain("text of 1 picture(s) read by OCR");
    const off = await run(createHwpExtractor({ pictures: false }), "plan.hwp", bytes, "hwp");
    expect(allText(off)).not.toMatch(/12 percent/);
    expect(allText(off)).not.toContain("\u0000");
  });

  it("HWPX: a picture's text stands where the picture stands; pictures can be turned off", async () => {
    const picture = await textPicture("Revenue grew 12 percent");
    if (!picture) return;
    const bytes = await buildHwpx({ picture });
    const d = await run(hwpxExtractor, "plan.hwpx", bytes, "hwpx");
    const texts = blocks(d).map((b) => b.text);
    const at = texts.findIndex((t) => /Revenue grew 12 percent/.test(t));
    expect(at).toBeGreaterThan(texts.findIndex((t) => t.startsWith("첫 번째 문단")));
    expect(at).toBeLessThan(texts.findIndex((t) => t.startsWith("| 구분")));
    const off = await run(createHwpxExtractor({ pictures: false }), "plan.hwpx", bytes, "hwpx");
    expect(allText(off)).not.toMatch(/12 percent/);
    expect(allText(off)).not.toContain("\u0000");
  });

  it("KB_OCR_PICTURES=off also turns picture OCR off for XLSX, HWP and HWPX", async () => {
    const picture = await textPicture("Revenue grew 12 percent");
    if (!picture) return;
    const files = { xlsx: await buildXlsx(0, picture), hwp: buildHwp({ picture }), hwpx: await buildHwpx({ picture }) };
    try {
      configureExtraction({ ocrPictures: loadConfig({ KB_OCR_PICTURES: "off" }).ocrPictures });
      for (const [kind, bytes] of Object.entries(files)) {
        const d = await run((await extractorFor(kind))!, `f.${kind}`, bytes, kind);
        expect(allText(d), kind).not.toMatch(/12 percent/);
        expect(allText(d).length, kind).toBeGreaterThan(20);
      }
    } finally {
      configureExtraction({ ocrPictures: true });
    }
    for (const [kind, bytes] of Object.entries(files)) expect(allText(await run((await extractorFor(kind))!, `f.${kind}`, bytes, kind)), kind).toMatch(/12 percent/);
  });

  it("markitdown's OCR samples: the picture's text between the paragraphs around it", async () => {
    const file = sharedPath("multiformat_markitdown", "markitdown-ocr", "tests", "ocr_test_data", "docx_image_middle.docx");
    if (!haveShared(file, "markitdown OCR sample")) return;
    const d = await run(docxExtractor, "docx_image_middle.docx", readFileSync(file), "docx");
    expect(allText(d)).toMatch(/We will see an image below\.\s+FIGURE 1: System Architecture\s+Analysis/);
    const x = await run(xlsxExtractor, "xlsx_image_middle.xlsx", readFileSync(file.replace("docx_image_middle.docx", "xlsx_image_middle.xlsx")), "xlsx");
    expect(allText(x)).toMatch(/Revenue \$50,000\s+Growth Trend: \+15%\s+Profit Margin 40%/);
  });
});

describe("PPTX", () => {
  it("reads slides in presentation order with titles, bullets, tables and speaker notes", async () => {
    const d = await run(pptxExtractor, "deck.pptx", await buildPptx(), "pptx");
    expect(d.pages.map((p) => p.page)).toEqual([1, 2]);
    const [s1, s2] = d.pages;
    expect(s1!.blocks[0]).toEqual({ kind: "heading", level: 1, text: "Quarterly Review" });
    expect(s1!.blocks.find((b) => b.kind === "list")?.text).toBe("- Revenue grew\n- Costs fell\n- Hiring continues");
    expect(s1!.blocks.at(-1)?.text).toBe("Speaker notes: Mention the APAC numbers.");
    expect(allText(d)).not.toMatch(/^7$/m); // slide number placeholder skipped
    expect(s2!.blocks[0]).toEqual({ kind: "heading", level: 1, text: "실적 요약" });
    expect(s2!.blocks.find((b) => b.kind === "table")?.text).toBe("| 분기 | 매출 |\n| --- | --- |\n| 1Q | 100 |\n| 2Q | 120 |");
    expect(s2!.blocks.at(-1)).toEqual({ kind: "paragraph", text: "A free text box." });
  });
});

describe("charts (PPTX/DOCX/XLSX chart parts)", () => {
  it("turns a chart's cached data into a caption and a Markdown table", () => {
    const ser = (name: string, vals: string[]) =>
      `<c:ser><c:tx><c:strRef><c:strCache><c:pt idx="0"><c:v>${name}</c:v></c:pt></c:strCache></c:strRef></c:tx>` +
      `<c:cat><c:strRef><c:strCache>${["2023", "2024"].map((c, i) => `<c:pt idx="${i}"><c:v>${c}</c:v></c:pt>`).join("")}</c:strCache></c:strRef></c:cat>` +
      `<c:val><c:numRef><c:numCache>${vals.map((v, i) => `<c:pt idx="${i}"><c:v>${v}</c:v></c:pt>`).join("")}</c:numCache></c:numRef></c:val></c:ser>`;
    const xml = `<c:chartSpace xmlns:c="c" xmlns:a="a"><c:chart><c:title><c:tx><c:rich><a:p><a:r><a:t>연도별 매출</a:t></a:r></a:p></c:rich></c:tx></c:title><c:plotArea><c:barChart>${ser("국내", ["1.5", "4.4000000000000004"])}${ser("해외", ["2", "3"])}</c:barChart></c:plotArea></c:chart></c:chartSpace>`;
    expect(chartBlocks(xml)).toEqual([
      { kind: "caption", text: "연도별 매출" },
      { kind: "table", text: "|  | 국내 | 해외 |\n| --- | --- | --- |\n| 2023 | 1.5 | 2 |\n| 2024 | 4.4 | 3 |" },
    ]);
  });
});

describe("XLSX", () => {
  it("one page per sheet, Markdown tables split at empty columns, formulas/dates/percent/merged cells", async () => {
    const d = await run(xlsxExtractor, "sales.xlsx", await buildXlsx(), "xlsx");
    expect(d.pages).toHaveLength(2);
    const s1 = d.pages[0]!.blocks;
    expect(s1[0]).toEqual({ kind: "heading", level: 2, text: "매출" });
    const t1 = s1.filter((b) => b.kind === "table").map((b) => b.text);
    expect(t1[0]).toContain("| 지역 | 1월 | 2월 | 합계 |");
    expect(t1[0]).toContain("| 서울 | 100 | 200 | 300 |");
    expect(t1[0]).toContain("| 부산 | 50 | 25.5 | 75.5 |");
    expect(s1.some((b) => b.kind === "paragraph" && b.text === "성장률 12.5%")).toBe(true);
    expect(allText(d)).toContain("2024-03-01");
    // "메모 / top" is separated from the main table by an empty column
    expect(s1.some((b) => b.text.includes("메모") && !b.text.includes("지역"))).toBe(true);
    const s2 = d.pages[1]!.blocks.map((b) => b.text).join("\n");
    expect(s2).toContain("| Header | Header |");
    expect(s2).toContain("| rich text | link |");
  });

  it("caps rows per sheet with a warning", async () => {
    const ex = createXlsxExtractor({ maxRowsPerSheet: 50, rowsPerBlock: 20 });
    const d = await run(ex, "big.xlsx", await buildXlsx(500), "xlsx");
    expect(d.warnings.join(" ")).toMatch(/Big.*first 50 rows/);
    const big = d.pages.find((p) => p.blocks[0]?.text === "Big")!;
    const tables = big.blocks.filter((b) => b.kind === "table");
    expect(tables.length).toBe(3); // 49 data rows in blocks of 20, header repeated
    expect(tables.every((t) => t.text.startsWith("| n | square |"))).toBe(true);
  });

  it("splitRegions finds side-by-side tables", () => {
    const g = [
      ["a", "b", "", "x"],
      ["1", "2", "", "y"],
      [],
      ["c", "", "", ""],
    ];
    expect(splitRegions(g)).toEqual([[["a", "b"], ["1", "2"]], [["x"], ["y"]], [["c"]]]);
  });
});

describe("CSV", () => {
  it("detects delimiters and parses quoted fields with delimiters and line breaks", () => {
    expect(detectDelimiter("a;b;c\n1;2;3\n4;5;6")).toBe(";");
    expect(detectDelimiter("a\tb\n1\t2")).toBe("\t");
    expect(detectDelimiter('name,comment\n"Kim, C.","said ""hi""\nthen left"\n')).toBe(",");
    expect(parseCsv('name,comment\n"Kim, C.","said ""hi""\nthen left"\n', ",").rows).toEqual([
      ["name", "comment"],
      ["Kim, C.", 'said "hi"\nthen left'],
    ]);
  });

  it("decodes CP949 and emits Markdown table blocks with the header repeated", async () => {
    const lines = ["이름,부서,연차"];
    for (let i = 0; i < 25; i++) lines.push(`직원${i},개발|팀,${i}`);
    const bytes = iconv.encode(lines.join("\r\n"), "cp949");
    const ex = createCsvExtractor({ rowsPerBlock: 10 });
    const d = await run(ex, "직원.csv", bytes, "csv", "text/csv");
    const tables = blocks(d).filter((b) => b.kind === "table");
    expect(tables).toHaveLength(3);
    expect(tables.every((t) => t.text.startsWith("| 이름 | 부서 | 연차 |\n| --- | --- | --- |"))).toBe(true);
    expect(tables[0]!.text).toContain("| 직원0 | 개발\\|팀 | 0 |");
  });

  it("markdownTable pads ragged rows and drops empty columns", () => {
    expect(markdownTable([["a", "", "b"], ["1"], ["2", "", "3"]])).toBe("| a | b |\n| --- | --- |\n| 1 |  |\n| 2 | 3 |");
  });

  it("reads TSV by its mime type", async () => {
    const d = await run(csvExtractor, "x.tsv", Buffer.from("a\tb,c\n1\t2,3\n"), "csv", "text/tab-separated-values");
    expect(blocks(d)[0]!.text).toBe("| a | b,c |\n| --- | --- |\n| 1 | 2,3 |");
  });
});

describe("HWP 5.x", () => {
  it("decodes PARA_TEXT, skipping inline/extended controls by width", () => {
    const u16 = (...v: number[]) => Buffer.from(new Uint16Array(v).buffer);
    const data = Buffer.concat([Buffer.from("가", "utf16le"), u16(9, 1, 2, 3, 4, 5, 6, 9), Buffer.from("나", "utf16le"), u16(11, 1, 2, 3, 4, 5, 6, 11), Buffer.from("다", "utf16le"), u16(10), Buffer.from("라", "utf16le"), u16(13)]);
    expect(decodeParaText(data)).toBe("가\t나다\n라");
  });

  it("parses records with extended sizes and reports truncation", () => {
    const big = Buffer.alloc(5000, 1);
    const h = Buffer.alloc(8);
    h.writeUInt32LE((67 | (1 << 10) | (0xfff << 20)) >>> 0, 0);
    h.writeUInt32LE(big.length, 4);
    const { records, truncated } = parseRecords(Buffer.concat([h, big]));
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ tag: 67, level: 1 });
    expect(records[0]!.data.length).toBe(5000);
    expect(truncated).toBe(false);
    expect(parseRecords(Buffer.concat([h, big.subarray(0, 10)])).truncated).toBe(true);
  });

  it("extracts paragraphs, outline headings and tables; skips page headers", async () => {
    for (const compressed of [true, false]) {
      const d = await run(hwpExtractor, "계획.hwp", buildHwp({ compressed }), "hwp");
      const bs = blocks(d);
      expect(bs[0]).toEqual({ kind: "heading", level: 1, text: "추진 배경" });
      expect(bs[1]!.text).toBe("가나다\t라마바사".replace("\t", " "));
      expect(bs.find((b) => b.kind === "table")?.text).toBe("| 이름 | 나이 |\n| --- | --- |\n| 홍길동 | 30 |");
      expect(allText(d)).toContain("Mixed English 문장 (2019. 10.)\n둘째 줄");
      expect(allText(d)).not.toContain("머리말");
    }
  });

  it("rejects encrypted and distribution documents and HWP 3", async () => {
    await expect(run(hwpExtractor, "p.hwp", buildHwp({ flags: 2 }), "hwp")).rejects.toMatchObject({ code: "encrypted_document" });
    await expect(run(hwpExtractor, "d.hwp", buildHwp({ flags: 4 }), "hwp")).rejects.toMatchObject({ code: "encrypted_document" });
    const v3 = Buffer.concat([Buffer.from("HWP Document File V3.00 \x1a\x01\x02\x03\x04\x05", "latin1"), Buffer.alloc(100)]);
    await expect(run(hwpExtractor, "old.hwp", v3, "hwp")).rejects.toMatchObject({ code: "unsupported_version" });
  });

  const real = sharedPath("multiformat_korean", "디지털정부혁신추진계획.hwp");
  it.skipIf(!haveShared(real, "Korean HWP sample"))("extracts the Korean text of a real government HWP", async () => {
    const { document } = await extractFile({ source: "디지털정부혁신추진계획.hwp", bytes: readFileSync(real) });
    const text = allText(document);
    expect(text).toContain("디지털 정부혁신 추진계획");
    expect(text).toContain("공공부문 마이데이터 활성화");
    expect(text.length).toBeGreaterThan(10_000);
    expect(blocks(document).filter((b) => b.kind === "table").length).toBeGreaterThan(3);
    // Its eight pictures (BinData JPG/BMP) are found and OCR'd; some hold text.
    expect(document.warnings.join("\n")).toMatch(/text of \d+ picture\(s\) read by OCR/);
  });
});

describe("HWPX", () => {
  it("reads sections with outline headings, tabs, line breaks and tables; title from content.hpf", async () => {
    const d = await run(hwpxExtractor, "계획.hwpx", await buildHwpx(), "hwpx");
    expect(d.title).toBe("디지털 전환 계획");
    const bs = blocks(d);
    expect(bs[0]).toEqual({ kind: "heading", level: 1, text: "추진 배경" });
    expect(bs[1]!.text).toBe("첫 번째 문단 탭 뒤\n다음 줄");
    expect(bs.find((b) => b.kind === "table")?.text).toBe("| 구분 | 내용 |\n| --- | --- |\n| 일정 | 2024년 |");
    expect(allText(d)).toContain("표 아래 설명");
    expect(allText(d)).not.toContain("머리말");
  });
});

describe("EML", () => {
  it("reads headers and the HTML body, and extracts attachments recursively", async () => {
    const csv = Buffer.from("품목,수량\n사과,3\n배,5\n");
    const inner = buildEml([{ name: "inner.csv", type: "text/csv", bytes: Buffer.from("a,b\n1,2\n") }]).toString("utf8");
    const eml = buildEml(
      [
        { name: "주문.csv", type: "text/csv", bytes: csv },
        { name: "blob.bin", type: "application/octet-stream", bytes: Buffer.from([0, 1, 2, 3, 255, 254, 0, 0, 9]) },
        { name: "spec.docx", type: "application/vnd.openxmlformats-officedocument.wordprocessingml.document", bytes: await buildDocx() },
      ],
      inner,
    );
    const d = await emlExtractor.extract({ source: "mail.eml", bytes: eml }, T("eml", "message/rfc822"), { extractEmbedded: extractFile });
    expect(d.title).toBe("회의록 공유");
    const first = d.pages[0]!.blocks;
    expect(first[0]).toEqual({ kind: "heading", level: 1, text: "회의록 공유" });
    expect(first[1]!.text).toContain("From: 김철수 <kim@example.com>");
    expect(first.find((b) => b.kind === "table")?.text).toContain("| 김철수 | 발표 |");
    const text = allText(d);
    expect(text).toContain("Attachment: 주문.csv");
    expect(text).toContain("| 사과 | 3 |");
    expect(text).toContain("Attachment: spec.docx");
    expect(text).toContain("휴가 규정");
    expect(text).toContain("Attachment: fwd.eml");
    expect(text).toContain("| 1 | 2 |"); // the forwarded message's own attachment
    expect(d.warnings.join("\n")).toMatch(/blob\.bin skipped \((unsupported_type|binary_content)\)/);
    expect(d.pages.map((p) => p.page)).toEqual(d.pages.map((_, i) => i + 1));
  });

  const dir = sharedPath("multiformat_unstructured", "eml");
  it.skipIf(!haveShared(dir, "EML samples"))("reads UTF-16 and attachment samples", async () => {
    for (const f of ["fake-email-utf-16-le.eml", "fake-email-attachment.eml"]) {
      const { document } = await extractFile({ source: f, bytes: readFileSync(`${dir}/${f}`) });
      expect(allText(document)).toMatch(/test email|attachments/i);
    }
  });
});

describe("Korean Office samples", () => {
  const k = (f: string) => sharedPath("multiformat_korean", f);
  it.skipIf(!haveShared(k("sample-ppt.pptx"), "Korean Office samples"))("sample-ppt.pptx and sample-word-document.docx", async () => {
    const ppt = await extractFile({ source: "sample-ppt.pptx", bytes: readFileSync(k("sample-ppt.pptx")) });
    expect(ppt.document.pages).toHaveLength(4);
    expect(allText(ppt.document)).toContain("의미론적 검색");
    const doc = await extractFile({ source: "sample-word-document.docx", bytes: readFileSync(k("sample-word-document.docx")) });
    expect(allText(doc.document)).toContain("임베딩");
  });
});

describe("Outlook .msg", () => {
  const msg = () =>
    buildMsg({
      subject: "회의록 공유",
      senderName: "김철수",
      senderEmail: "kim@example.com",
      to: [
        { name: "Team", email: "team@example.com" },
        { name: "Lee", email: "lee@example.com", type: "cc" },
      ],
      date: new Date(Date.UTC(2024, 2, 4, 0, 0)),
      body: "Plain body, not used when there is HTML.",
      html: "<html><body><p>다음 주 <b>월요일</b> 회의.</p><table><tr><th>이름</th><th>역할</th></tr><tr><td>김철수</td><td>발표</td></tr></table></body></html>",
      attachments: [{ name: "notes.csv", mime: "text/csv", bytes: Buffer.from("item,amount\nbudget,300\n") }],
    });

  it("subject, sender, recipients, date and the HTML body (tables kept) on page 1; attachments through the pipeline after it", async () => {
    const { type, document } = await extractFile({ source: "minutes.msg", bytes: msg() });
    expect(type.kind).toBe("msg");
    expect(document.title).toBe("회의록 공유");
    const [p1, p2] = document.pages;
    expect(p1!.blocks[0]).toEqual({ kind: "heading", level: 1, text: "회의록 공유" });
    expect(p1!.blocks[1]!.text).toBe("From: 김철수 <kim@example.com>\nTo: Team <team@example.com>\nCc: Lee <lee@example.com>\nDate: Mon, 04 Mar 2024 00:00:00 GMT");
    expect(p1!.blocks.find((b) => b.kind === "table")?.text).toBe("| 이름 | 역할 |\n| --- | --- |\n| 김철수 | 발표 |");
    expect(allText(document)).not.toContain("Plain body");
    expect(p2!.blocks[0]).toEqual({ kind: "heading", level: 2, text: "Attachment: notes.csv" });
    expect(p2!.blocks[1]!.text).toBe("| item | amount |\n| --- | --- |\n| budget | 300 |");
  });

  it("the plain-text body when there is no HTML; without the pipeline, attachments are named in a warning", async () => {
    const bytes = buildMsg({ subject: "Hi", senderName: "A", senderEmail: "a@example.com", to: [], date: new Date(0), body: "Just text.\r\n\r\nSecond paragraph.", attachments: [{ name: "a.txt", mime: "text/plain", bytes: Buffer.from("x") }] });
    const d = await run(msgExtractor, "hi.msg", bytes, "msg");
    expect(blocks(d).slice(2).map((b) => b.text)).toEqual(["Just text.", "Second paragraph."]);
    expect(d.warnings).toEqual(["1 attachment(s) not read: extracted without the pipeline (ExtractOptions.extractEmbedded)"]);
  });

  it("a damaged message fails with corrupt_document", async () => {
    const bytes = msg();
    await expect(extractFile({ source: "cut.msg", bytes: bytes.subarray(0, 1536) })).rejects.toMatchObject({ code: expect.stringMatching(/corrupt_document|unsupported_type/) });
  });

  it("the public samples (skipped without ../shared)", async () => {
    const file = sharedPath("multiformat_unstructured", "fake-email-attachment.msg");
    if (!haveShared(file, ".msg samples")) return;
    const { document } = await extractFile({ source: "fake-email-attachment.msg", bytes: readFileSync(file) });
    expect(allText(document)).toContain("Fake email with attachment");
    expect(allText(document)).toContain("Attachment: fake-attachment.txt");
  });
});

describe("EPUB", () => {
  it("reads the chapters in spine order, each chapter a page, title from the package", async () => {
    const { type, document } = await extractFile({ source: "guide.epub", bytes: await buildEpub() });
    expect(type.kind).toBe("epub");
    expect(document.title).toBe("근로자 안내서");
    expect(document.pages.map((p) => [p.page, p.blocks[0]?.text])).toEqual([
      [1, "제1장 근무 시간"],
      [2, "Chapter 2 Leave"],
    ]);
    expect(document.pages[0]!.blocks.find((b) => b.kind === "table")?.text).toBe("| 구분 | 시간 |\n| --- | --- |\n| 점심 | 12시 |");
    expect(allText(document)).not.toContain("Contents"); // the navigation document is not in the spine
  });

  it("a DRM-encrypted chapter fails the book with encrypted_document", async () => {
    await expect(run(createEpubExtractor(), "drm.epub", await buildEpub({ encrypted: true }), "epub")).rejects.toMatchObject({ code: "encrypted_document" });
  });

  it("the public samples (skipped without ../shared)", async () => {
    const file = sharedPath("multiformat_unstructured", "winter-sports.epub");
    if (!haveShared(file, "EPUB samples")) return;
    const { document } = await extractFile({ source: "winter-sports.epub", bytes: readFileSync(file) });
    expect(document.pages.length).toBeGreaterThan(1);
  });
});

describe("zip archives", () => {
  it("one document of its files' pages, each headed with its path; archives inside archives; litter skipped; unreadable files named", async () => {
    const inner = await zipOf({ "notes/회의록.md": "# 3분기 회의\n\n예산은 300만 원으로 정했다.\n" });
    const zip = await zipOf({
      "보고서/주문.csv": "품목,수량\n사과,3\n",
      "보고서/spec.docx": await buildDocx(),
      "old.zip": inner,
      "blob.bin": new Uint8Array([0, 1, 2, 3, 255, 254, 0, 0, 9]),
      "__MACOSX/보고서/._주문.csv": new Uint8Array([0, 5, 22, 7]),
      ".DS_Store": new Uint8Array([0, 0, 0, 1]),
    });
    const { type, document } = await extractFile({ source: "share/q3.zip", bytes: zip });
    expect(type.kind).toBe("zip");
    expect(document.title).toBe("q3");
    const headings = blocks(document).filter((b) => b.kind === "heading" && /^File: /.test(b.text)).map((b) => b.text);
    expect(headings).toEqual(["File: 보고서/주문.csv", "File: 보고서/spec.docx", "File: old.zip", "File: notes/회의록.md"]);
    const text = allText(document);
    expect(text).toContain("| 사과 | 3 |");
    expect(text).toContain("휴가 규정");
    expect(text).toContain("예산은 300만 원으로 정했다.");
    expect(text).not.toContain("MACOSX");
    expect(document.warnings.join("\n")).toMatch(/blob\.bin skipped \((unsupported_type|binary_content)\)/);
    expect(document.warnings.join("\n")).not.toMatch(/DS_Store|MACOSX/);
    expect(document.pages.map((p) => p.page)).toEqual(document.pages.map((_, i) => i + 1));
  });

  it("names stored in CP949 without the UTF-8 flag are read as Korean", async () => {
    const zip = await zipWithCp949Names({ "인사규정.txt": "연차는 15일이다." }, (name) => iconv.encode(name, "cp949"));
    const { document } = await extractFile({ source: "규정.zip", bytes: zip });
    expect(blocks(document)[0]?.text).toBe("File: 인사규정.txt");
    expect(allText(document)).toContain("연차는 15일이다.");
  });

  it("an encrypted archive, a zip bomb and an archive of nothing readable fail with their reasons", async () => {
    const plain = await zipOf({ "a.txt": "secret text" });
    await expect(extractFile({ source: "locked.zip", bytes: patchZipFlags(plain, 0x0001) })).rejects.toMatchObject({ code: "encrypted_document" });
    const big = await zipOf({ "big.txt": "가".repeat(400_000) });
    const small = createArchiveExtractor({ zipLimits: { maxTotalBytes: 100_000 } });
    await expect(run(small, "bomb.zip", big, "zip")).rejects.toMatchObject({ code: "zip_bomb" });
    const empty = await zipOf({ "x.bin": new Uint8Array([0, 1, 2, 0, 0, 0, 7]), "dir/.DS_Store": new Uint8Array([1]) });
    await expect(extractFile({ source: "empty.zip", bytes: empty })).rejects.toMatchObject({ code: "no_content" });
  });

  it("reads at most maxFiles files, with a warning", async () => {
    const zip = await zipOf({ "1.txt": "one", "2.txt": "two", "3.txt": "three" });
    const d = await createArchiveExtractor({ maxFiles: 2 }).extract({ source: "many.zip", bytes: zip }, T("zip"), { extractEmbedded: extractFile });
    expect(allText(d)).toContain("two");
    expect(allText(d)).not.toContain("three");
    expect(d.warnings).toContain("only the first 2 of 3 files in the archive were read");
  });

  it("the public sample (skipped without ../shared)", async () => {
    const file = sharedPath("multiformat_unstructured", "simple.zip");
    if (!haveShared(file, "zip sample")) return;
    const { document } = await extractFile({ source: "simple.zip", bytes: readFileSync(file) });
    expect(allText(document)).toContain("File: stanley-cups.csv");
    expect(allText(document)).toContain("File: ideas-page.html");
  });
});
