/**
 * Test fixtures for the ingestion stages, generated in code (no binary files in the repo):
 * minimal PDFs (Helvetica text, Korean text in a non-embedded CID font, RC4-encrypted) and the
 * location of the optional public sample data.
 */
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";

/** Public sample data (read in place, never copied). Tests using it skip when it is absent. */
export const SHARED_DATA = process.env.KB_SHARED_DATA ?? "/work/shared/data";

export function sharedPath(...parts: string[]): string {
  return path.join(SHARED_DATA, ...parts);
}

/** True when the path exists; otherwise prints why the dependent tests are skipped. */
export function haveShared(p: string, what: string): boolean {
  const ok = existsSync(p);
  if (!ok) console.log(`[skip] ${what}: ${p} not found (public test data is optional)`);
  return ok;
}

// ---------------------------------------------------------------------------------------------
// minimal PDF builder

export interface PdfFixtureOptions {
  /** Lines of text per page. An empty array gives a page with no text at all. */
  pages: string[][];
  /** Info dictionary Title (not written for encrypted files). */
  title?: string;
  /** "helvetica" (standard 14 font, Latin text) or "korean" (Type0, UniKS-UCS2-H, not embedded). */
  font?: "helvetica" | "korean";
  /** RC4 40-bit (R2) encryption with these passwords. */
  encrypt?: { userPassword: string; ownerPassword?: string };
  /** Page size in points (default US Letter, 612 × 792). */
  pageSize?: { width: number; height: number };
  /**
   * A JPEG picture per page (by index; none where absent), drawn at (x, y) with size (w, h) in
   * points as a DCTDecode image XObject, which pdf.js decodes itself. A page-sized picture on a
   * page without lines is what a scanner writes. Not with `encrypt`.
   */
  pictures?: ({ jpeg: Uint8Array; pixelWidth: number; pixelHeight: number; x: number; y: number; w: number; h: number } | undefined)[];
}

const PAD = Buffer.from("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A", "hex");

function rc4(key: Buffer, data: Buffer): Buffer {
  const s = Array.from({ length: 256 }, (_v, i) => i);
  let j = 0;
  for (let i = 0; i < 256; i++) {
    j = (j + s[i]! + key[i % key.length]!) & 255;
    [s[i], s[j]] = [s[j]!, s[i]!];
  }
  const out = Buffer.alloc(data.length);
  let i = 0;
  j = 0;
  for (let k = 0; k < data.length; k++) {
    i = (i + 1) & 255;
    j = (j + s[i]!) & 255;
    [s[i], s[j]] = [s[j]!, s[i]!];
    out[k] = data[k]! ^ s[(s[i]! + s[j]!) & 255]!;
  }
  return out;
}

const md5 = (...parts: Buffer[]) => createHash("md5").update(Buffer.concat(parts)).digest();
const padPassword = (pw: string) => Buffer.concat([Buffer.from(pw, "latin1"), PAD]).subarray(0, 32);

function escapePdfString(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/\(/g, "\\(").replace(/\)/g, "\\)");
}

function ucs2Hex(s: string): string {
  return [...s].map((c) => c.codePointAt(0)!.toString(16).padStart(4, "0").toUpperCase()).join("");
}

/** Build a small, valid PDF. Object and xref offsets are computed exactly. */
export function buildPdf(options: PdfFixtureOptions): Uint8Array {
  const font = options.font ?? "helvetica";
  const objects: Buffer[] = []; // index i → object number i + 1
  const reserve = () => objects.push(Buffer.alloc(0));
  const set = (num: number, body: Buffer | string) => {
    objects[num - 1] = typeof body === "string" ? Buffer.from(body, "latin1") : body;
  };

  // Encryption keys
  const id0 = md5(Buffer.from(`fixture-${options.pages.length}-${options.title ?? ""}`));
  let fileKey: Buffer | undefined;
  let encryptDict: string | undefined;
  if (options.encrypt) {
    const owner = options.encrypt.ownerPassword ?? `${options.encrypt.userPassword}-owner`;
    const O = rc4(md5(padPassword(owner)).subarray(0, 5), padPassword(options.encrypt.userPassword));
    const P = Buffer.alloc(4);
    P.writeInt32LE(-4);
    fileKey = md5(padPassword(options.encrypt.userPassword), O, P, id0).subarray(0, 5);
    const U = rc4(fileKey, PAD);
    encryptDict = `<< /Filter /Standard /V 1 /R 2 /O <${O.toString("hex")}> /U <${U.toString("hex")}> /P -4 >>`;
  }
  const objectKey = (num: number) => {
    const k = Buffer.alloc(5);
    k.writeUIntLE(num, 0, 3);
    k.writeUInt16LE(0, 3);
    return md5(fileKey!, k).subarray(0, 10);
  };

  reserve(); // 1 catalog
  reserve(); // 2 pages
  reserve(); // 3 font
  if (font === "korean") {
    reserve(); // 4 CIDFont
    reserve(); // 5 FontDescriptor
  }
  const pageNums: number[] = [];
  const { width, height } = options.pageSize ?? { width: 612, height: 792 };
  for (const [index, lines] of options.pages.entries()) {
    const picture = options.pictures?.[index];
    let xobject = "";
    let draw = "";
    if (picture) {
      if (fileKey) throw new Error("buildPdf: pictures in an encrypted fixture are not supported");
      reserve();
      const dict = `<< /Type /XObject /Subtype /Image /Width ${picture.pixelWidth} /Height ${picture.pixelHeight} /ColorSpace /DeviceRGB /BitsPerComponent 8 /Filter /DCTDecode /Length ${picture.jpeg.length} >>\nstream\n`;
      set(objects.length, Buffer.concat([Buffer.from(dict, "latin1"), Buffer.from(picture.jpeg), Buffer.from("\nendstream", "latin1")]));
      xobject = ` /XObject << /Im1 ${objects.length} 0 R >>`;
      draw = `q ${picture.w} 0 0 ${picture.h} ${picture.x} ${picture.y} cm /Im1 Do Q`;
    }
    reserve();
    const pageNum = objects.length;
    reserve();
    const contentNum = objects.length;
    pageNums.push(pageNum);
    let content = "";
    if (lines.length) {
      const ops = lines.map((line, i) => {
        const show = font === "korean" ? `<${ucs2Hex(line)}> Tj` : `(${escapePdfString(line)}) Tj`;
        return i === 0 ? show : `0 -18 Td ${show}`;
      });
      content = `BT /F1 12 Tf 72 ${height - 72} Td ${ops.join(" ")} ET`;
    }
    if (draw) content = content ? `${content}\n${draw}` : draw;
    let data: Buffer = Buffer.from(content, "latin1");
    if (fileKey) data = rc4(objectKey(contentNum), data);
    set(
      contentNum,
      Buffer.concat([Buffer.from(`<< /Length ${data.length} >>\nstream\n`, "latin1"), data, Buffer.from("\nendstream", "latin1")]),
    );
    set(pageNum, `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 ${width} ${height}] /Resources << /Font << /F1 3 0 R >>${xobject} >> /Contents ${contentNum} 0 R >>`);
  }
  set(1, "<< /Type /Catalog /Pages 2 0 R >>");
  set(2, `<< /Type /Pages /Kids [${pageNums.map((n) => `${n} 0 R`).join(" ")}] /Count ${pageNums.length} >>`);
  if (font === "korean") {
    set(3, "<< /Type /Font /Subtype /Type0 /BaseFont /HYSMyeongJo-Medium /Encoding /UniKS-UCS2-H /DescendantFonts [4 0 R] >>");
    set(4, "<< /Type /Font /Subtype /CIDFontType0 /BaseFont /HYSMyeongJo-Medium /CIDSystemInfo << /Registry (Adobe) /Ordering (Korea1) /Supplement 1 >> /FontDescriptor 5 0 R /DW 1000 >>");
    set(5, "<< /Type /FontDescriptor /FontName /HYSMyeongJo-Medium /Flags 6 /FontBBox [0 -148 1001 880] /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>");
  } else {
    set(3, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>");
  }
  let infoNum: number | undefined;
  if (options.title !== undefined && !fileKey) {
    reserve();
    infoNum = objects.length;
    set(infoNum, `<< /Title (${escapePdfString(options.title)}) /Producer (private-kb test fixture) >>`);
  }
  let encryptNum: number | undefined;
  if (encryptDict) {
    reserve();
    encryptNum = objects.length;
    set(encryptNum, encryptDict);
  }

  const chunks: Buffer[] = [Buffer.from("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", "latin1")];
  let offset = chunks[0]!.length;
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(offset);
    const obj = Buffer.concat([Buffer.from(`${i + 1} 0 obj\n`, "latin1"), body, Buffer.from("\nendobj\n", "latin1")]);
    chunks.push(obj);
    offset += obj.length;
  });
  const xrefAt = offset;
  const xref = [`xref\n0 ${objects.length + 1}\n`, "0000000000 65535 f \n", ...offsets.map((o) => `${String(o).padStart(10, "0")} 00000 n \n`)].join("");
  const trailer =
    `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R` +
    (infoNum ? ` /Info ${infoNum} 0 R` : "") +
    (encryptNum ? ` /Encrypt ${encryptNum} 0 R` : "") +
    ` /ID [<${id0.toString("hex")}> <${id0.toString("hex")}>] >>\nstartxref\n${xrefAt}\n%%EOF\n`;
  chunks.push(Buffer.from(xref + trailer, "latin1"));
  return new Uint8Array(Buffer.concat(chunks));
}

/** Deterministic pseudo-random bytes (xorshift32). */
export function pseudoRandomBytes(length: number, seed = 0x9e3779b9): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 255;
  }
  return out;
}

export const bytesOf = (s: string) => new Uint8Array(Buffer.from(s, "utf8"));
