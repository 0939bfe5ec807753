/**
 * Tiny real Office / OpenDocument / HWP / HWPX / EML / .msg / EPUB files built in code for the format tests (no binaries in git).
 */
import CFB from "cfb";
import ExcelJS from "exceljs";
import JSZip from "jszip";
import { deflateRawSync } from "node:zlib";

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export async function zipOf(files: Record<string, string | Uint8Array>, compression: "DEFLATE" | "STORE" = "DEFLATE"): Promise<Buffer> {
  const z = new JSZip();
  for (const [name, content] of Object.entries(files)) z.file(name, content);
  return z.generateAsync({ type: "nodebuffer", compression });
}

// ---------------------------------------------------------------------------------------------
// DOCX

const W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"';

function wPara(text: string, style?: string): string {
  return `<w:p>${style ? `<w:pPr><w:pStyle w:val="${style}"/></w:pPr>` : ""}<w:r><w:t xml:space="preserve">${esc(text)}</w:t></w:r></w:p>`;
}

/** An inline picture (relationship rIdPic) in its own paragraph. */
function wPicture(): string {
  return `<w:p><w:r><w:drawing><wp:inline xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"><wp:extent cx="4572000" cy="914400"/><wp:docPr id="1" name="Picture 1"/><a:graphic xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/picture"><pic:pic xmlns:pic="http://schemas.openxmlformats.org/drawingml/2006/picture"><pic:nvPicPr><pic:cNvPr id="1" name="p.png"/><pic:cNvPicPr/></pic:nvPicPr><pic:blipFill><a:blip xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" r:embed="rIdPic"/></pic:blipFill><pic:spPr/></pic:pic></a:graphicData></a:graphic></wp:inline></w:drawing></w:r></w:p>`;
}

export async function buildDocx(opts: { title?: string; picture?: Uint8Array } = {}): Promise<Buffer> {
  const table = `<w:tbl><w:tblPr/><w:tblGrid><w:gridCol/><w:gridCol/></w:tblGrid>${[
    ["항목", "값"],
    ["연차", "15일"],
    ["병가", "30일"],
  ]
    .map((r) => `<w:tr>${r.map((c) => `<w:tc><w:p><w:r><w:t>${esc(c)}</w:t></w:r></w:p></w:tc>`).join("")}</w:tr>`)
    .join("")}</w:tbl>`;
  const body = [
    wPara("휴가 규정", "Heading1"),
    wPara("모든 직원은 연차를 사용할 수 있다."),
    wPara("연차", "Heading2"),
    table,
    ...(opts.picture ? [wPara("The chart below shows the figures."), wPicture()] : []),
    wPara("Annual leave must be approved in advance."),
  ].join("");
  return zipOf({
    "[Content_Types].xml":
      '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Default Extension="png" ContentType="image/png"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/><Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/></Types>',
    "_rels/.rels":
      '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/></Relationships>',
    "word/_rels/document.xml.rels":
      '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/><Relationship Id="rIdPic" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/image" Target="media/image1.png"/></Relationships>',
    "word/document.xml": `<?xml version="1.0" encoding="UTF-8"?><w:document ${W}><w:body>${body}</w:body></w:document>`,
    "word/styles.xml": `<?xml version="1.0" encoding="UTF-8"?><w:styles ${W}><w:style w:type="paragraph" w:styleId="Heading1"><w:name w:val="heading 1"/></w:style><w:style w:type="paragraph" w:styleId="Heading2"><w:name w:val="heading 2"/></w:style></w:styles>`,
    "docProps/core.xml": `<?xml version="1.0" encoding="UTF-8"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">${opts.title ? `<dc:title>${esc(opts.title)}</dc:title>` : ""}</cp:coreProperties>`,
    ...(opts.picture ? { "word/media/image1.png": opts.picture } : {}),
  });
}

// ---------------------------------------------------------------------------------------------
// PPTX

const PNS = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"';

function sp(ph: string | undefined, paras: string[], bullets = false): string {
  const phXml = ph === undefined ? "" : ph === "" ? '<p:ph idx="1"/>' : `<p:ph type="${ph}"/>`;
  const ps = paras.map((t) => `<a:p>${bullets ? '<a:pPr><a:buChar char="•"/></a:pPr>' : ""}<a:r><a:t>${esc(t)}</a:t></a:r></a:p>`).join("");
  return `<p:sp><p:nvSpPr><p:cNvPr id="2" name="s"/><p:cNvSpPr/><p:nvPr>${phXml}</p:nvPr></p:nvSpPr><p:spPr/><p:txBody><a:bodyPr/>${ps}</p:txBody></p:sp>`;
}

function slide(shapes: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?><p:sld ${PNS}><p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr/>${shapes}</p:spTree></p:cSld></p:sld>`;
}

export async function buildPptx(opts: { picture?: Uint8Array } = {}): Promise<Buffer> {
  const table = `<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="5" name="t"/><p:cNvGraphicFramePr/><p:nvPr/></p:nvGraphicFramePr><p:xfrm/><a:graphic><a:graphicData uri="http://schemas.openxmlformats.org/drawingml/2006/table"><a:tbl>${[
    ["분기", "매출"],
    ["1Q", "100"],
    ["2Q", "120"],
  ]
    .map((r) => `<a:tr h="1">${r.map((c) => `<a:tc><a:txBody><a:bodyPr/><a:p><a:r><a:t>${c}</a:t></a:r></a:p></a:txBody></a:tc>`).join("")}</a:tr>`)
    .join("")}</a:tbl></a:graphicData></a:graphic></p:graphicFrame>`;
  // slide2.xml is shown FIRST (presentation order differs from file names).
  const first = slide(sp("title", ["Quarterly Review"]) + sp("", ["Revenue grew", "Costs fell", "Hiring continues"]) + sp("sldNum", ["7"]));
  const pic = `<p:pic><p:nvPicPr><p:cNvPr id="9" name="Picture"/><p:cNvPicPr/><p:nvPr/></p:nvPicPr><p:blipFill><a:blip r:embed="rIdPic"/></p:blipFill><p:spPr/></p:pic>`;
  const second = slide(sp("title", ["실적 요약"]) + table + (opts.picture ? pic : "") + sp(undefined, ["A free text box."]));
  const notes = `<?xml version="1.0" encoding="UTF-8"?><p:notes ${PNS}><p:cSld><p:spTree><p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr><p:grpSpPr/>${sp("sldImg", ["x"])}${sp("body", ["Mention the APAC numbers."])}</p:spTree></p:cSld></p:notes>`;
  const rel = (id: string, type: string, target: string) =>
    `<Relationship Id="${id}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/${type}" Target="${target}"/>`;
  const rels = (inner: string) => `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">${inner}</Relationships>`;
  return zipOf({
    "[Content_Types].xml":
      '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/ppt/presentation.xml" ContentType="application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"/></Types>',
    "_rels/.rels": rels(rel("rId1", "officeDocument", "ppt/presentation.xml")),
    "ppt/presentation.xml": `<?xml version="1.0" encoding="UTF-8"?><p:presentation ${PNS}><p:sldIdLst><p:sldId id="256" r:id="rId7"/><p:sldId id="257" r:id="rId3"/></p:sldIdLst></p:presentation>`,
    "ppt/_rels/presentation.xml.rels": rels(rel("rId3", "slide", "slides/slide1.xml") + rel("rId7", "slide", "slides/slide2.xml")),
    "ppt/slides/slide1.xml": second,
    ...(opts.picture ? { "ppt/slides/_rels/slide1.xml.rels": rels(rel("rIdPic", "image", "../media/image1.png")), "ppt/media/image1.png": opts.picture } : {}),
    "ppt/slides/slide2.xml": first,
    "ppt/slides/_rels/slide2.xml.rels": rels(rel("rId1", "notesSlide", "../notesSlides/notesSlide1.xml")),
    "ppt/notesSlides/notesSlide1.xml": notes,
  });
}

// ---------------------------------------------------------------------------------------------
// XLSX

/** `picture`: drawn on the first sheet anchored at row 4, between its first tables (rows 1-3) and "성장률" (row 5). */
export async function buildXlsx(rows = 0, picture?: Uint8Array): Promise<Buffer> {
  const wb = new ExcelJS.Workbook();
  const ws = wb.addWorksheet("매출");
  ws.addRow(["지역", "1월", "2월", "합계", "", "메모"]);
  ws.addRow(["서울", 100, 200, { formula: "B2+C2", result: 300 }, "", "top"]);
  ws.addRow(["부산", 50, 25.5, { formula: "B3+C3", result: 75.5 }]);
  const pct = ws.getCell("B5");
  pct.value = 0.125;
  pct.numFmt = "0.0%";
  ws.getCell("A5").value = "성장률";
  ws.getCell("A7").value = new Date(Date.UTC(2024, 2, 1));
  ws.getCell("B7").value = "기준일";
  if (picture) {
    const id = wb.addImage({ buffer: Buffer.from(picture) as unknown as ExcelJS.Buffer, extension: "png" });
    ws.addImage(id, { tl: { col: 1, row: 3 }, ext: { width: 450, height: 70 } });
  }
  const ws2 = wb.addWorksheet("Merged");
  ws2.getCell("A1").value = "Header";
  ws2.mergeCells("A1:B1");
  ws2.getCell("A2").value = "x";
  ws2.getCell("B2").value = "y";
  ws2.getCell("A3").value = { richText: [{ text: "rich " }, { text: "text" }] };
  ws2.getCell("B3").value = { text: "link", hyperlink: "https://example.com" };
  if (rows) {
    const ws3 = wb.addWorksheet("Big");
    ws3.addRow(["n", "square"]);
    for (let i = 1; i <= rows; i++) ws3.addRow([i, i * i]);
  }
  return Buffer.from(await wb.xlsx.writeBuffer());
}

// ---------------------------------------------------------------------------------------------
// HWPX

/** `picture`: a picture (BinData/image1.png) between the second paragraph and the table. */
export async function buildHwpx(opts: { picture?: Uint8Array } = {}): Promise<Buffer> {
  const HP = 'xmlns:hp="http://www.hancom.co.kr/hwpml/2011/paragraph" xmlns:hs="http://www.hancom.co.kr/hwpml/2011/section"';
  const p = (text: string, style = "0") => `<hp:p id="1" paraPrIDRef="0" styleIDRef="${style}"><hp:run charPrIDRef="0"><hp:t>${text}</hp:t></hp:run></hp:p>`;
  const cell = (row: number, col: number, text: string) =>
    `<hp:tc><hp:subList>${p(text)}</hp:subList><hp:cellAddr colAddr="${col}" rowAddr="${row}"/><hp:cellSpan colSpan="1" rowSpan="1"/></hp:tc>`;
  const table = `<hp:p id="9" styleIDRef="0"><hp:run charPrIDRef="0"><hp:tbl rowCnt="2" colCnt="2"><hp:tr>${cell(0, 0, "구분")}${cell(0, 1, "내용")}</hp:tr><hp:tr>${cell(1, 0, "일정")}${cell(1, 1, "2024년")}</hp:tr></hp:tbl><hp:t>표 아래 설명</hp:t></hp:run></hp:p>`;
  const header = `<hp:p id="2" styleIDRef="0"><hp:run charPrIDRef="0"><hp:ctrl><hp:header><hp:subList>${p("머리말 텍스트")}</hp:subList></hp:header></hp:ctrl></hp:run></hp:p>`;
  const pic = opts.picture
    ? `<hp:p id="5" styleIDRef="0"><hp:run charPrIDRef="0"><hp:pic id="7" zOrder="0"><hp:sz width="30000" height="5000"/><hc:img xmlns:hc="http://www.hancom.co.kr/hwpml/2011/core" binaryItemIDRef="image1" bright="0" contrast="0" effect="REAL_PIC" alpha="0"/></hp:pic></hp:run></hp:p>`
    : "";
  const section = `<?xml version="1.0" encoding="UTF-8"?><hs:sec ${HP}>${header}${p("추진 배경", "1")}${p("첫 번째 문단<hp:tab/>탭 뒤<hp:lineBreak/>다음 줄")}${pic}${table}</hs:sec>`;
  return zipOf({
    mimetype: "application/hwp+zip",
    "Contents/content.hpf": `<?xml version="1.0" encoding="UTF-8"?><opf:package xmlns:opf="http://www.idpf.org/2007/opf/"><opf:metadata><opf:title>디지털 전환 계획</opf:title></opf:metadata><opf:manifest><opf:item id="section0" href="Contents/section0.xml" media-type="application/xml"/>${opts.picture ? '<opf:item id="image1" href="BinData/image1.png" media-type="image/png" isEmbeded="1"/>' : ""}</opf:manifest><opf:spine><opf:itemref idref="section0"/></opf:spine></opf:package>`,
    "Contents/header.xml": `<?xml version="1.0" encoding="UTF-8"?><hh:head xmlns:hh="http://www.hancom.co.kr/hwpml/2011/head"><hh:refList><hh:styles><hh:style id="0" type="PARA" name="바탕글" engName="Normal"/><hh:style id="1" type="PARA" name="개요 1" engName="Outline 1"/></hh:styles></hh:refList></hh:head>`,
    "Contents/section0.xml": section,
    ...(opts.picture ? { "BinData/image1.png": opts.picture } : {}),
  });
}

// ---------------------------------------------------------------------------------------------
// HWP 5.x

export function record(tag: number, level: number, data: Buffer): Buffer {
  if (data.length >= 0xfff) {
    const h = Buffer.alloc(8);
    h.writeUInt32LE((tag | (level << 10) | (0xfff << 20)) >>> 0, 0);
    h.writeUInt32LE(data.length, 4);
    return Buffer.concat([h, data]);
  }
  const h = Buffer.alloc(4);
  h.writeUInt32LE((tag | (level << 10) | (data.length << 20)) >>> 0, 0);
  return Buffer.concat([h, data]);
}

const u16 = (...v: number[]) => Buffer.from(new Uint16Array(v).buffer);
const utf16 = (s: string) => Buffer.from(s, "utf16le");

function paraHeader(level: number, styleId = 0): Buffer {
  const d = Buffer.alloc(24);
  d.writeUInt8(styleId, 10);
  return record(66, level, d);
}
function paraText(level: number, ...parts: Buffer[]): Buffer {
  return record(67, level, Buffer.concat([...parts, u16(13)]));
}
function ctrlHeader(level: number, id: string): Buffer {
  return record(71, level, Buffer.concat([Buffer.from([...id].reverse().join(""), "latin1"), Buffer.alloc(40)]));
}
function cellHeader(level: number, col: number, row: number): Buffer {
  const d = Buffer.alloc(34);
  d.writeUInt16LE(1, 0);
  d.writeUInt16LE(col, 8);
  d.writeUInt16LE(row, 10);
  d.writeUInt16LE(1, 12);
  d.writeUInt16LE(1, 14);
  return record(72, level, d);
}
function styleRecord(name: string, eng: string): Buffer {
  return record(42, 0, Buffer.concat([u16(name.length), utf16(name), u16(eng.length), utf16(eng), Buffer.alloc(8)]));
}

export interface HwpOptions {
  flags?: number;
  /** A picture (BinData/BIN0001.png, a "gso " control) anchored in a paragraph after the table. */
  picture?: Uint8Array;
  /** Replace the body with this many zero bytes (compressed → a decompression bomb). */
  bombBytes?: number;
  compressed?: boolean;
}

export function hwpSectionRecords(picture = false): Buffer {
  const table = [
    ctrlHeader(1, "tbl "),
    record(77, 2, Buffer.concat([Buffer.alloc(4), u16(2, 2), Buffer.alloc(16)])),
    ...[
      [0, 0, "이름"],
      [1, 0, "나이"],
      [0, 1, "홍길동"],
      [1, 1, "30"],
    ].flatMap(([c, r, t]) => [cellHeader(2, c as number, r as number), paraHeader(2), paraText(3, utf16(t as string))]),
  ];
  return Buffer.concat([
    paraHeader(0, 1),
    paraText(1, utf16("추진 배경")),
    paraHeader(0),
    // an inline tab control (9 + 7 code units) and an extended control (11 = drawing/table anchor)
    paraText(1, utf16("가나다"), u16(9, 0, 0, 0, 0, 0, 0, 9), utf16("라마"), u16(11, 0x6774, 0x6c62, 0, 0, 0, 0, 11), utf16("바사")),
    ...table,
    ...(picture ? hwpPictureParagraph() : []),
    paraHeader(0),
    paraText(1, utf16("Mixed English 문장 (2019. 10.)"), u16(10), utf16("둘째 줄")),
    // a page header control: skipped
    ctrlHeader(1, "head"),
    paraHeader(2),
    paraText(3, utf16("머리말")),
  ]);
}

/** A paragraph anchoring a drawing control ("gso ") whose shape is a picture of BinItem 1. */
function hwpPictureParagraph(): Buffer[] {
  const picture = Buffer.alloc(80);
  picture.writeUInt16LE(1, 71);
  return [
    paraHeader(0),
    paraText(1, u16(11, 0x6f73, 0x6720, 0, 0, 0, 0, 11)),
    ctrlHeader(1, "gso "),
    record(76, 2, Buffer.alloc(40)),
    record(85, 3, picture),
  ];
}

export function buildHwp(opts: HwpOptions = {}): Buffer {
  const compressed = opts.compressed ?? true;
  const flags = (opts.flags ?? 0) | (compressed ? 1 : 0);
  const header = Buffer.alloc(256);
  header.write("HWP Document File", 0, "latin1");
  header.writeUInt32LE(0x05010001, 32);
  header.writeUInt32LE(flags, 36);
  const body = opts.bombBytes ? Buffer.alloc(opts.bombBytes) : hwpSectionRecords(!!opts.picture);
  // BIN_DATA: property 1 (embedded, compressed as the document), id 1, extension "png".
  const binData = record(18, 0, Buffer.concat([u16(1, 1, 3), utf16("png")]));
  const docInfo = Buffer.concat([...(opts.picture ? [binData] : []), styleRecord("바탕글", "Normal"), styleRecord("개요 1", "Outline 1")]);
  const pack = (b: Buffer) => (compressed ? deflateRawSync(b) : b);
  const cfb = CFB.utils.cfb_new();
  CFB.utils.cfb_add(cfb, "FileHeader", header);
  CFB.utils.cfb_add(cfb, "DocInfo", pack(docInfo));
  CFB.utils.cfb_add(cfb, "BodyText/Section0", pack(body));
  if (opts.picture) CFB.utils.cfb_add(cfb, "BinData/BIN0001.png", pack(Buffer.from(opts.picture)));
  return Buffer.from(CFB.write(cfb, { type: "buffer" }) as Uint8Array);
}

/** An OLE container shaped like a password-protected OOXML file. */
export function buildEncryptedOoxml(): Buffer {
  const cfb = CFB.utils.cfb_new();
  CFB.utils.cfb_add(cfb, "EncryptionInfo", Buffer.from([4, 0, 4, 0, 0x40, 0, 0, 0]));
  CFB.utils.cfb_add(cfb, "EncryptedPackage", Buffer.alloc(64, 7));
  return Buffer.from(CFB.write(cfb, { type: "buffer" }) as Uint8Array);
}

// ---------------------------------------------------------------------------------------------
// EML

export function buildEml(attachments: Array<{ name: string; type: string; bytes: Buffer }>, nested?: string): Buffer {
  const b = "BOUNDARY-1";
  const html = Buffer.from("<html><body><h1>회의록</h1><p>다음 주 <b>월요일</b>에 회의가 있습니다.</p><table><tr><th>이름</th><th>역할</th></tr><tr><td>김철수</td><td>발표</td></tr></table></body></html>").toString("base64");
  const parts = [
    `--${b}\r\nContent-Type: multipart/alternative; boundary="ALT"\r\n\r\n--ALT\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n회의록 - 다음 주 월요일에 회의가 있습니다.\r\n--ALT\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${html}\r\n--ALT--\r\n`,
    ...attachments.map(
      (a) => `--${b}\r\nContent-Type: ${a.type}; name="${a.name}"\r\nContent-Disposition: attachment; filename="${a.name}"\r\nContent-Transfer-Encoding: base64\r\n\r\n${a.bytes.toString("base64").replace(/(.{76})/g, "$1\r\n")}\r\n`,
    ),
    ...(nested ? [`--${b}\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename="fwd.eml"\r\n\r\n${nested}\r\n`] : []),
  ];
  const msg = [
    "From: =?UTF-8?B?6rmA7LKg7IiY?= <kim@example.com>",
    "To: team@example.com",
    "Subject: =?UTF-8?B?7ZqM7J2Y66GdIOqzteycoA==?=",
    "Date: Mon, 4 Mar 2024 09:00:00 +0900",
    "MIME-Version: 1.0",
    `Content-Type: multipart/mixed; boundary="${b}"`,
    "",
    ...parts,
    `--${b}--`,
    "",
  ].join("\r\n");
  return Buffer.from(msg, "utf8");
}

// ---------------------------------------------------------------------------------------------
// OpenDocument (the LibreOffice tests convert these to .doc/.rtf/.xls/.ppt with soffice itself)

const ODF_NS =
  'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" xmlns:of="urn:oasis:names:tc:opendocument:xmlns:of:1.2"';

const ODF_MIME = {
  odt: "application/vnd.oasis.opendocument.text",
  ods: "application/vnd.oasis.opendocument.spreadsheet",
  odp: "application/vnd.oasis.opendocument.presentation",
} as const;

/** A picture linked (not embedded) by URL: LibreOffice would fetch it while loading. */
const linkedImage = (url: string, y = "0cm") =>
  `<draw:frame draw:name="linked" svg:width="2cm" svg:height="2cm" svg:x="1cm" svg:y="${y}"><draw:image xlink:href="${esc(url)}" xlink:type="simple" xlink:show="embed" xlink:actuate="onLoad"/></draw:frame>`;

/**
 * A small OpenDocument file whose body links a picture at `linkUrl` (when given):
 *   odt: two pages ("Leave policy" … page break … "Expense rules");
 *   ods: two sheets ("매출" with a table, "Notes");
 *   odp: two slides with titles.
 */
export async function buildOdf(kind: "odt" | "ods" | "odp", linkUrl?: string): Promise<Buffer> {
  const link = (y?: string) => (linkUrl ? linkedImage(linkUrl, y) : "");
  const cell = (v: string) => `<table:table-cell office:value-type="string"><text:p>${esc(v)}</text:p></table:table-cell>`;
  const body = {
    odt: `<office:text><text:h text:outline-level="1">Leave policy</text:h><text:p>Annual leave must be approved in advance.</text:p><text:p>${link()}</text:p><text:p text:style-name="Break">Expense rules</text:p><text:p>Receipts are kept for five years.</text:p></office:text>`,
    ods: `<office:spreadsheet><table:table table:name="매출"><table:table-row>${cell("지역")}${cell("금액")}</table:table-row><table:table-row>${cell("서울")}<table:table-cell office:value-type="float" office:value="300"><text:p>300</text:p></table:table-cell></table:table-row><table:table-row><table:table-cell>${link()}</table:table-cell></table:table-row></table:table><table:table table:name="Notes"><table:table-row>${cell("Budget approved in March")}</table:table-row></table:table></office:spreadsheet>`,
    odp: `<office:presentation><draw:page draw:name="p1"><draw:frame presentation:class="title" svg:width="20cm" svg:height="2cm" svg:x="1cm" svg:y="1cm"><draw:text-box><text:p>Quarterly Review</text:p></draw:text-box></draw:frame><draw:frame svg:width="20cm" svg:height="2cm" svg:x="1cm" svg:y="4cm"><draw:text-box><text:p>Revenue grew in every region.</text:p></draw:text-box></draw:frame>${link("8cm")}</draw:page><draw:page draw:name="p2"><draw:frame presentation:class="title" svg:width="20cm" svg:height="2cm" svg:x="1cm" svg:y="1cm"><draw:text-box><text:p>Next steps</text:p></draw:text-box></draw:frame><draw:frame svg:width="20cm" svg:height="2cm" svg:x="1cm" svg:y="4cm"><draw:text-box><text:p>Hire two engineers.</text:p></draw:text-box></draw:frame></draw:page></office:presentation>`,
  }[kind];
  const styles =
    kind === "odt"
      ? `<office:automatic-styles><style:style xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" style:name="Break" style:family="paragraph"><style:paragraph-properties fo:break-before="page"/></style:style></office:automatic-styles>`
      : "";
  const z = new JSZip();
  z.file("mimetype", ODF_MIME[kind], { compression: "STORE" });
  z.file("content.xml", `<?xml version="1.0" encoding="UTF-8"?><office:document-content ${ODF_NS} office:version="1.2">${styles}<office:body>${body}</office:body></office:document-content>`);
  z.file(
    "META-INF/manifest.xml",
    `<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="${ODF_MIME[kind]}"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>`,
  );
  return z.generateAsync({ type: "nodebuffer", compression: "DEFLATE" });
}

// ---------------------------------------------------------------------------------------------
// Outlook .msg (MS-OXMSG: an OLE compound file of MAPI properties)

export interface MsgOptions {
  subject: string;
  senderName: string;
  senderEmail: string;
  to: Array<{ name: string; email: string; type?: "to" | "cc" }>;
  /** Delivery time. */
  date: Date;
  body: string;
  /** HTML body (PidTagHtml, UTF-8: code page 65001). */
  html?: string;
  attachments?: Array<{ name: string; mime: string; bytes: Uint8Array }>;
}

function msgProperties(headerBytes: number, fixed: Array<{ tag: number; value: Buffer }>, counts?: { recipients: number; attachments: number }): Buffer {
  const header = Buffer.alloc(headerBytes);
  if (counts && headerBytes === 32) {
    header.writeUInt32LE(counts.recipients, 8);
    header.writeUInt32LE(counts.attachments, 12);
    header.writeUInt32LE(counts.recipients, 16);
    header.writeUInt32LE(counts.attachments, 20);
  }
  const entries = fixed.map(({ tag, value }) => {
    const e = Buffer.alloc(16);
    e.writeUInt32LE(tag >>> 0, 0);
    e.writeUInt32LE(6, 4); // readable | writable
    value.copy(e, 8, 0, 8);
    return e;
  });
  return Buffer.concat([header, ...entries]);
}

const u32 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeUInt32LE(n, 0);
  return b;
};

export function buildMsg(m: MsgOptions): Buffer {
  const cfb = CFB.utils.cfb_new();
  const add = (name: string, content: Buffer) => CFB.utils.cfb_add(cfb, name, content);
  const str = (dir: string, id: number, value: string) => add(`${dir}__substg1.0_${id.toString(16).toUpperCase().padStart(4, "0")}001F`, Buffer.from(value, "utf16le"));
  const bin = (dir: string, id: number, value: Uint8Array) => add(`${dir}__substg1.0_${id.toString(16).toUpperCase().padStart(4, "0")}0102`, Buffer.from(value));
  const filetime = Buffer.alloc(8);
  filetime.writeBigUInt64LE((BigInt(m.date.getTime()) + 11644473600000n) * 10000n);
  str("", 0x0037, m.subject);
  str("", 0x0c1a, m.senderName);
  str("", 0x0c1f, m.senderEmail);
  str("", 0x5d01, m.senderEmail);
  str("", 0x1000, m.body);
  if (m.html) bin("", 0x1013, Buffer.from(m.html, "utf8"));
  const atts = m.attachments ?? [];
  add("__properties_version1.0", msgProperties(32, [{ tag: 0x0e060040, value: filetime }, { tag: 0x3fde0003, value: u32(65001) }], { recipients: m.to.length, attachments: atts.length }));
  m.to.forEach((r, i) => {
    const dir = `__recip_version1.0_#${i.toString(16).toUpperCase().padStart(8, "0")}/`;
    str(dir, 0x3001, r.name);
    str(dir, 0x3003, r.email);
    str(dir, 0x39fe, r.email);
    add(`${dir}__properties_version1.0`, msgProperties(8, [{ tag: 0x0c150003, value: u32(r.type === "cc" ? 2 : 1) }]));
  });
  atts.forEach((a, i) => {
    const dir = `__attach_version1.0_#${i.toString(16).toUpperCase().padStart(8, "0")}/`;
    str(dir, 0x3707, a.name);
    str(dir, 0x3704, a.name);
    str(dir, 0x370e, a.mime);
    bin(dir, 0x3701, a.bytes);
    add(`${dir}__properties_version1.0`, msgProperties(8, [{ tag: 0x37050003, value: u32(1) }, { tag: 0x0e200003, value: u32(a.bytes.length) }]));
  });
  add("__nameid_version1.0/__substg1.0_00020102", Buffer.alloc(0));
  add("__nameid_version1.0/__substg1.0_00030102", Buffer.alloc(0));
  add("__nameid_version1.0/__substg1.0_00040102", Buffer.alloc(0));
  return Buffer.from(CFB.write(cfb, { type: "buffer" }) as Uint8Array);
}

// ---------------------------------------------------------------------------------------------
// EPUB

/** An EPUB 3 book: chapters listed in the manifest in one order and read (spine) in another. */
export async function buildEpub(opts: { encrypted?: boolean } = {}): Promise<Buffer> {
  const chapter = (title: string, body: string) =>
    `<?xml version="1.0" encoding="UTF-8"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>${esc(title)}</title></head><body><h1>${esc(title)}</h1>${body}</body></html>`;
  const z = new JSZip();
  z.file("mimetype", "application/epub+zip", { compression: "STORE" });
  z.file("META-INF/container.xml", `<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles></container>`);
  z.file(
    "OEBPS/content.opf",
    `<?xml version="1.0" encoding="UTF-8"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="id">urn:uuid:1</dc:identifier><dc:title>근로자 안내서</dc:title><dc:language>ko</dc:language></metadata><manifest><item id="c2" href="text/chapter%202.xhtml" media-type="application/xhtml+xml"/><item id="c1" href="text/ch1.xhtml" media-type="application/xhtml+xml"/><item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/><item id="css" href="style.css" media-type="text/css"/></manifest><spine><itemref idref="c1"/><itemref idref="c2"/></spine></package>`,
  );
  z.file("OEBPS/nav.xhtml", chapter("Contents", "<nav><ol><li>1</li><li>2</li></ol></nav>"));
  z.file("OEBPS/style.css", "h1 { color: black }");
  z.file("OEBPS/text/ch1.xhtml", chapter("제1장 근무 시간", "<p>근무 시간은 오전 9시부터 오후 6시까지이다.</p><table><tr><th>구분</th><th>시간</th></tr><tr><td>점심</td><td>12시</td></tr></table>"));
  z.file("OEBPS/text/chapter 2.xhtml", chapter("Chapter 2 Leave", "<p>Annual leave must be approved in advance.</p>"));
  if (opts.encrypted) {
    z.file(
      "META-INF/encryption.xml",
      `<?xml version="1.0"?><encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData><enc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/><enc:CipherData><enc:CipherReference URI="OEBPS/text/ch1.xhtml"/></enc:CipherData></enc:EncryptedData></encryption>`,
    );
  }
  return z.generateAsync({ type: "nodebuffer", compression: "DEFLATE" });
}

// ---------------------------------------------------------------------------------------------
// Zip archives

/**
 * Sets (or clears) general-purpose flag bits in every local and central header of a zip that
 * JSZip wrote: bit 0 says "encrypted", bit 11 says "names are UTF-8".
 */
export function patchZipFlags(zip: Buffer, set: number, clear = 0): Buffer {
  const b = Buffer.from(zip);
  for (let i = 0; i + 4 <= b.length; i++) {
    const sig = b.readUInt32LE(i);
    const at = sig === 0x04034b50 ? i + 6 : sig === 0x02014b50 ? i + 8 : -1;
    if (at < 0) continue;
    b.writeUInt16LE((b.readUInt16LE(at) | set) & ~clear, at);
  }
  return b;
}

/** A zip whose entry names are stored in CP949 without the UTF-8 flag (Korean Windows' built-in zip). */
export async function zipWithCp949Names(files: Record<string, string | Uint8Array>, encode: (name: string) => Uint8Array): Promise<Buffer> {
  const z = new JSZip();
  for (const [name, content] of Object.entries(files)) z.file(name, content);
  const zip = await z.generateAsync({ type: "nodebuffer", compression: "DEFLATE", encodeFileName: (name) => Buffer.from(encode(name)) as unknown as string });
  return patchZipFlags(zip, 0, 0x0800);
}
