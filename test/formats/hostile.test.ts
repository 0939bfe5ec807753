/**
 * Hostile input for the container formats: zip bombs (declared and lying sizes, entry counts),
 * decompression bombs in HWP, truncated files, wrong formats, password-protected Office files.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { createDocxExtractor, docxExtractor } from "../../ingest/extractors/docx.ts";
import { openZip } from "../../ingest/extractors/ooxml-package.ts";
import { createHwpExtractor, hwpExtractor } from "../../ingest/extractors/hwp.ts";
import { hwpxExtractor } from "../../ingest/extractors/hwpx.ts";
import { pptxExtractor } from "../../ingest/extractors/pptx.ts";
import { xlsxExtractor } from "../../ingest/extractors/xlsx.ts";
import type { DetectedType, Extractor } from "../../ingest/types.ts";
import { haveShared, sharedPath } from "../ingest/fixtures.ts";
import { buildDocx, buildEncryptedOoxml, buildHwp, buildPptx, buildXlsx, zipOf } from "./builders.ts";

const T = (kind: string): DetectedType => ({ kind, mime: "" });
const run = (ex: Extractor, source: string, bytes: Uint8Array, kind: string) => ex.extract({ source, bytes }, T(kind), {});

/** Rewrite the uncompressed-size fields that say `real` in the local and central headers (a lying zip). */
function lieAboutSizes(zip: Buffer, real: number, size: number): Buffer {
  const b = Buffer.from(zip);
  for (let i = 0; i + 28 <= b.length; i++) {
    const sig = b.readUInt32LE(i);
    if (sig === 0x04034b50 && b.readUInt32LE(i + 22) === real) b.writeUInt32LE(size, i + 22);
    else if (sig === 0x02014b50 && b.readUInt32LE(i + 24) === real) b.writeUInt32LE(size, i + 24);
  }
  return b;
}

describe("zip bombs", () => {
  const small = { maxEntryBytes: 1024 * 1024, maxTotalBytes: 2 * 1024 * 1024, maxEntries: 20 };

  it("rejects an entry whose declared size is over the limit, before inflating", async () => {
    const bomb = await zipOf({ "[Content_Types].xml": "<Types/>", "word/document.xml": Buffer.alloc(8 * 1024 * 1024) });
    expect(bomb.length).toBeLessThan(64 * 1024);
    await expect(run(createDocxExtractor({ zipLimits: small }), "bomb.docx", bomb, "docx")).rejects.toMatchObject({ code: "zip_bomb" });
  });

  it("stops inflating an entry that lies about its size", async () => {
    const bomb = lieAboutSizes(await zipOf({ "[Content_Types].xml": "<Types/>", "word/document.xml": Buffer.alloc(8 * 1024 * 1024) }), 8 * 1024 * 1024, 100);
    const zip = await openZip(bomb, "liar.docx", "DOCX", small);
    await expect(zip.bytes("word/document.xml")).rejects.toMatchObject({ code: "zip_bomb" });
    await expect(run(createDocxExtractor({ zipLimits: small }), "liar.docx", bomb, "docx")).rejects.toMatchObject({ code: "zip_bomb" });
  });

  it("rejects archives with too many entries", async () => {
    const files: Record<string, string> = { "word/document.xml": "<w:document/>" };
    for (let i = 0; i < 50; i++) files[`junk/${i}.xml`] = "x";
    await expect(run(createDocxExtractor({ zipLimits: small }), "many.docx", await zipOf(files), "docx")).rejects.toMatchObject({ code: "zip_bomb" });
  });

  it("applies the default limits too (an entry declaring 300 MB)", async () => {
    const sheet = Buffer.alloc(4096);
    const huge = lieAboutSizes(await zipOf({ "xl/workbook.xml": "<workbook/>", "xl/worksheets/sheet1.xml": sheet }), sheet.length, 300 * 1024 * 1024);
    await expect(run(xlsxExtractor, "huge.xlsx", huge, "xlsx")).rejects.toMatchObject({ code: "zip_bomb" });
  });

  it("rejects an HWP section that inflates past the stream limit", async () => {
    const ex = createHwpExtractor({ maxStreamBytes: 1024 * 1024 });
    await expect(run(ex, "bomb.hwp", buildHwp({ bombBytes: 16 * 1024 * 1024 }), "hwp")).rejects.toMatchObject({ code: "zip_bomb" });
  });
});

describe("truncated and wrong files", () => {
  it("truncated Office and HWPX containers → corrupt_document", async () => {
    const cut = (b: Buffer) => b.subarray(0, Math.floor(b.length * 0.6));
    await expect(run(docxExtractor, "cut.docx", cut(await buildDocx()), "docx")).rejects.toMatchObject({ code: "corrupt_document" });
    await expect(run(pptxExtractor, "cut.pptx", cut(await buildPptx()), "pptx")).rejects.toMatchObject({ code: "corrupt_document" });
    await expect(run(xlsxExtractor, "cut.xlsx", cut(await buildXlsx()), "xlsx")).rejects.toMatchObject({ code: "corrupt_document" });
  });

  it("truncated HWP → a clear error, not a crash", async () => {
    const hwp = buildHwp();
    await expect(run(hwpExtractor, "cut.hwp", hwp.subarray(0, 700), "hwp")).rejects.toMatchObject({ code: expect.stringMatching(/corrupt_document|wrong_format/) });
  });

  it("wrong content behind an Office name → wrong_format", async () => {
    const png = Buffer.from("89504e470d0a1a0a0000000d49484452", "hex");
    await expect(run(docxExtractor, "photo.docx", png, "docx")).rejects.toMatchObject({ code: "wrong_format" });
    await expect(run(hwpxExtractor, "x.hwpx", await buildDocx(), "hwpx")).rejects.toMatchObject({ code: "corrupt_document" });
    await expect(run(hwpExtractor, "x.hwp", buildEncryptedOoxml(), "hwp")).rejects.toMatchObject({ code: "wrong_format" });
  });

  it("a zip that is not the expected Office format", async () => {
    const other = await zipOf({ "readme.txt": "hello" });
    await expect(run(docxExtractor, "a.docx", other, "docx")).rejects.toMatchObject({ code: "corrupt_document" });
    await expect(run(pptxExtractor, "a.pptx", other, "pptx")).rejects.toMatchObject({ code: "corrupt_document" });
  });
});

describe("password-protected Office files", () => {
  it("an encrypted OOXML (OLE + EncryptionInfo) → encrypted_document for every OOXML kind", async () => {
    const enc = buildEncryptedOoxml();
    for (const [ex, kind] of [[docxExtractor, "docx"], [pptxExtractor, "pptx"], [xlsxExtractor, "xlsx"]] as const) {
      await expect(run(ex, `secret.${kind}`, enc, kind)).rejects.toMatchObject({ code: "encrypted_document" });
    }
  });

  const pw = sharedPath("multiformat_unstructured", "password_protected.xlsx");
  it.skipIf(!haveShared(pw, "password-protected sample"))("the public password_protected.xlsx", async () => {
    await expect(run(xlsxExtractor, "password_protected.xlsx", readFileSync(pw), "xlsx")).rejects.toMatchObject({ code: "encrypted_document" });
  });

  const bad = sharedPath("multiformat_unstructured", "fake-power-point-malformed.pptx");
  it.skipIf(!haveShared(bad, "malformed pptx sample"))("a malformed pptx still yields its readable text", async () => {
    const d = await run(pptxExtractor, "fake-power-point-malformed.pptx", readFileSync(bad), "pptx");
    expect(d.pages.flatMap((p) => p.blocks).map((b) => b.text)).toContain("Test Slide");
  });
});
