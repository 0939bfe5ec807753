import { readFileSync } from "node:fs";
import CFB from "cfb";
import iconv from "iconv-lite";
import JSZip from "jszip";
import { describe, expect, it } from "vitest";
import { detectType, looksLikeEmail, looksLikeHtml } from "../../ingest/detect.ts";
import { IngestError, type SourceFile } from "../../ingest/types.ts";
import { buildPdf, bytesOf, haveShared, pseudoRandomBytes, sharedPath } from "./fixtures.ts";

const file = (source: string, bytes: Uint8Array): SourceFile => ({ source, bytes });

async function rejects(f: SourceFile, code: string, message?: RegExp) {
  const err = await detectType(f).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(IngestError);
  expect((err as IngestError).code).toBe(code);
  if (message) expect((err as IngestError).message).toMatch(message);
}

async function zipOf(entries: Record<string, string>, order?: string[]): Promise<Uint8Array> {
  const zip = new JSZip();
  for (const name of order ?? Object.keys(entries)) {
    zip.file(name, entries[name]!, name === "mimetype" ? { compression: "STORE" } : undefined);
  }
  return new Uint8Array(await zip.generateAsync({ type: "uint8array", compression: "DEFLATE" }));
}

function cfbOf(streams: string[]): Uint8Array {
  const c = CFB.utils.cfb_new();
  for (const s of streams) CFB.utils.cfb_add(c, `/${s}`, Buffer.from(`stream ${s}`));
  return new Uint8Array(CFB.write(c, { type: "buffer" }) as Buffer);
}

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0, 0x90, 0x77, 0x53, 0xde]);
const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]);

function wavHeader(): Uint8Array {
  const b = Buffer.alloc(44 + 4000);
  b.write("RIFF", 0, "latin1");
  b.writeUInt32LE(36 + 4000, 4);
  b.write("WAVEfmt ", 8, "latin1");
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(8000, 24);
  b.writeUInt32LE(16000, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write("data", 36, "latin1");
  b.writeUInt32LE(4000, 40);
  for (let i = 44; i < b.length; i += 2) b[i] = (i * 3) % 7; // small samples: high bytes zero
  return new Uint8Array(b);
}

describe("detectType: errors", () => {
  it("rejects zero-byte files", () => rejects(file("empty.txt", new Uint8Array()), "empty_file"));

  it("rejects binary data named .txt", async () => {
    await rejects(file("notes.txt", pseudoRandomBytes(2048)), "binary_content", /binary/);
    await rejects(file("notes.txt", new Uint8Array([0x41, 0x00, 0x42, 0x43, 0x44, 0x00, 0x01, 0x02])), "binary_content");
  });

  it("rejects recognised but unsupported binary types, naming the MIME type", async () => {
    await rejects(file("song.txt", wavHeader()), "unsupported_type", /audio\/wav/);
    await rejects(file("a.gz", new Uint8Array([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4])), "unsupported_type", /application\/gzip/);
  });

  it("rejects password-protected OOXML (OLE container with EncryptionInfo)", () =>
    rejects(file("secret.xlsx", cfbOf(["EncryptionInfo", "EncryptedPackage"])), "encrypted_document"));
});

describe("detectType: by content, not by name", () => {
  it("detects PDF even with a misleading name", async () => {
    expect(await detectType(file("report.txt", buildPdf({ pages: [["Hello"]] })))).toEqual({ mime: "application/pdf", kind: "pdf" });
  });

  it("detects images", async () => {
    expect(await detectType(file("scan.pdf", PNG))).toMatchObject({ kind: "image", mime: "image/png" });
    expect(await detectType(file("photo", JPEG))).toMatchObject({ kind: "image", mime: "image/jpeg" });
  });

  it("detects OOXML, HWPX and plain zip archives", async () => {
    const docx = await zipOf({ "[Content_Types].xml": "<Types/>", "word/document.xml": "<w:document/>", "_rels/.rels": "<Relationships/>" });
    expect((await detectType(file("a.bin", docx))).kind).toBe("docx");
    const xlsx = await zipOf({ "[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<workbook/>", "_rels/.rels": "<Relationships/>" });
    expect((await detectType(file("a.bin", xlsx))).kind).toBe("xlsx");
    const pptx = await zipOf({ "[Content_Types].xml": "<Types/>", "ppt/presentation.xml": "<p/>", "_rels/.rels": "<Relationships/>" });
    expect((await detectType(file("a.bin", pptx))).kind).toBe("pptx");
    const hwpx = await zipOf({ mimetype: "application/hwp+zip", "Contents/section0.xml": "<hs:sec/>", "META-INF/container.xml": "<c/>" }, ["mimetype", "Contents/section0.xml", "META-INF/container.xml"]);
    expect(await detectType(file("문서.hwpx", hwpx))).toEqual({ mime: "application/hwp+zip", kind: "hwpx" });
    const zip = await zipOf({ "a.txt": "hello", "b.txt": "world" });
    expect(await detectType(file("a.zip", zip))).toEqual({ mime: "application/zip", kind: "zip" });
  });

  it("tells OLE compound files apart: HWP 5, Word, Excel, PowerPoint, Outlook", async () => {
    expect(await detectType(file("x.bin", cfbOf(["FileHeader", "DocInfo", "BodyText/Section0"])))).toEqual({ mime: "application/x-hwp", kind: "hwp" });
    expect((await detectType(file("x.bin", cfbOf(["WordDocument", "1Table"])))).kind).toBe("doc");
    expect((await detectType(file("x.bin", cfbOf(["Workbook"])))).kind).toBe("xls");
    expect((await detectType(file("x.bin", cfbOf(["PowerPoint Document", "Current User"])))).kind).toBe("ppt");
    expect((await detectType(file("x.bin", cfbOf(["__substg1.0_0037001F", "__properties_version1.0"])))).kind).toBe("msg");
    await rejects(file("x.bin", cfbOf(["SomethingElse"])), "unsupported_type", /application\/x-cfb/);
  });

  it("detects HWP 3.x by its signature", async () => {
    const b = Buffer.alloc(128);
    b.write("HWP Document File V3.00 \x1a\x01\x02\x03\x04\x05", 0, "latin1");
    expect((await detectType(file("old.hwp", new Uint8Array(b)))).kind).toBe("hwp");
  });
});

describe("detectType: text formats", () => {
  it("sniffs HTML regardless of the extension", async () => {
    expect((await detectType(file("page.txt", bytesOf("<!DOCTYPE html><html><body><p>hi</p></body></html>")))).kind).toBe("html");
    expect((await detectType(file("noext", bytesOf("  <!-- c -->\n<html lang=ko><p>안녕</p></html>")))).kind).toBe("html");
    expect((await detectType(file("frag", bytesOf("<div><p>Some text</p><p>More</p></div>")))).kind).toBe("html");
    expect((await detectType(file("page.html", bytesOf("<p>one tag only</p>")))).kind).toBe("html");
    const xhtml = '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "x">\n<html><body><p>x</p></body></html>';
    expect((await detectType(file("page.xhtml", bytesOf(xhtml)))).kind).toBe("html");
  });

  it("uses Markdown only when the name says .md / .markdown", async () => {
    const md = "# Title\n\nSome *text*.\n";
    expect(await detectType(file("README.md", bytesOf(md)))).toMatchObject({ mime: "text/markdown", kind: "markdown" });
    expect(await detectType(file("notes.markdown", bytesOf(md)))).toMatchObject({ kind: "markdown" });
    expect(await detectType(file("notes.txt", bytesOf(md)))).toMatchObject({ mime: "text/plain", kind: "text" });
    // inline HTML inside Markdown stays Markdown
    expect((await detectType(file("README.md", bytesOf('<div align="center"><img src="x"><p>Logo</p></div>\n\n# Title\n')))).kind).toBe("markdown");
    // but a real HTML document named .md is HTML
    expect((await detectType(file("page.md", bytesOf("<!doctype html><html><body>x</body></html>")))).kind).toBe("html");
  });

  it("detects plain text in legacy and wide encodings", async () => {
    const ko = "연차 휴가 규정입니다.\n사용하지 않은 연차는 수당으로 지급합니다.\n";
    expect(await detectType(file("a.txt", new Uint8Array(iconv.encode(ko, "cp949"))))).toMatchObject({ kind: "text", encoding: "cp949" });
    // UTF-16 with BOM: file-type alone would call this "audio/mpeg"
    expect(await detectType(file("a.txt", new Uint8Array(iconv.encode(ko, "utf-16le", { addBOM: true }))))).toMatchObject({ kind: "text" });
    expect(await detectType(file("a.txt", new Uint8Array(iconv.encode("Plain ASCII text, in UTF-16 without a BOM.\n", "utf-16be"))))).toMatchObject({ kind: "text" });
  });

  it("detects e-mail, CSV and XML", async () => {
    const eml = "From: a@example.com\nTo: b@example.com\nSubject: Hello\nDate: Tue, 1 Jan 2024 10:00:00 +0900\nMIME-Version: 1.0\n\nBody text\n";
    expect(await detectType(file("message.txt", bytesOf(eml)))).toMatchObject({ kind: "eml", mime: "message/rfc822" });
    expect(await detectType(file("table.csv", bytesOf("a,b\n1,2\n")))).toMatchObject({ kind: "csv", mime: "text/csv" });
    expect(await detectType(file("table.tsv", bytesOf("a\tb\n1\t2\n")))).toMatchObject({ kind: "csv", mime: "text/tab-separated-values" });
    expect(await detectType(file("data.xml", bytesOf('<?xml version="1.0"?><root><a>1</a></root>')))).toMatchObject({ kind: "xml" });
  });

  it("sniffers: e-mail headers and HTML", () => {
    expect(looksLikeEmail("Subject: meeting notes\n\nWe met today.")).toBe(false);
    expect(looksLikeEmail("From 123@xxx Mon Jan 1 00:00:00 2024\nFrom: a@b.c\nReceived: by x\nSubject: s\n\nbody")).toBe(true);
    expect(looksLikeHtml("a < b and c > d")).toBe(false);
    expect(looksLikeHtml("<html>")).toBe(true);
  });
});

const U = sharedPath("multiformat_unstructured");
const K = sharedPath("multiformat_korean");
describe.skipIf(!haveShared(U, "multiformat samples") || !haveShared(K, "Korean multiformat samples"))("shared data: detection of real files", () => {
  const cases: [string, string][] = [
    [`${U}/fake-text.txt`, "text"],
    [`${U}/fake-text-utf-16.txt`, "text"],
    [`${U}/fake-text-utf-16-le.txt`, "text"],
    [`${U}/fake-text-utf-16-be.txt`, "text"],
    [`${U}/fake-text-utf-32.txt`, "text"],
    [`${U}/README.md`, "markdown"],
    [`${U}/example-10k-1p.html`, "html"],
    [`${U}/example-steelJIS-datasheet-utf-16.html`, "html"],
    [`${U}/fake-html-cp1252.html`, "html"],
    [`${U}/fake-email.txt`, "eml"],
    [`${U}/eml/fake-email.eml`, "eml"],
    [`${U}/fake-email.msg`, "msg"],
    [`${U}/fake.doc`, "doc"],
    [`${U}/tests-example.xls`, "xls"],
    [`${U}/fake-power-point.ppt`, "ppt"],
    [`${U}/fake.docx`, "docx"],
    [`${U}/stanley-cups.xlsx`, "xlsx"],
    [`${U}/fake-power-point.pptx`, "pptx"],
    [`${U}/fake.odt`, "odt"],
    [`${U}/fake-doc.rtf`, "rtf"],
    [`${U}/winter-sports.epub`, "epub"],
    [`${U}/simple.zip`, "zip"],
    [`${U}/stanley-cups.csv`, "csv"],
    [`${U}/factbook.xml`, "xml"],
    [`${U}/pdf/fake-memo.pdf`, "pdf"],
    [`${K}/디지털정부혁신추진계획.hwp`, "hwp"],
    [`${K}/appendix-keywords-CP949.txt`, "text"],
    [`${K}/client.html`, "html"],
  ];
  it.each(cases)("%s → %s", async (p, kind) => {
    expect((await detectType(file(p, new Uint8Array(readFileSync(p))))).kind).toBe(kind);
  });

  it("rejects audio, empty and encrypted files", async () => {
    await rejects(file("CantinaBand3.wav", new Uint8Array(readFileSync(`${U}/CantinaBand3.wav`))), "unsupported_type", /audio\/wav/);
    await rejects(file("empty.txt", new Uint8Array(readFileSync(`${U}/empty.txt`))), "empty_file");
    await rejects(file("password_protected.xlsx", new Uint8Array(readFileSync(`${U}/password_protected.xlsx`))), "encrypted_document");
  });
});
