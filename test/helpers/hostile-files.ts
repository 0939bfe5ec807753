/**
 * Hostile files built in code (no binaries in git), for test/hostile-ingest.test.ts and
 * bench/hostile.ts: small on disk, expensive or huge once inflated.
 */
import JSZip from "jszip";
import { crc32, createDeflateRaw } from "node:zlib";

const W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"';

const CONTENT_TYPES =
  '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>';
const RELS =
  '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>';

async function docxWithBody(documentXml: string | Uint8Array, extra: Record<string, string | Uint8Array> = {}): Promise<Buffer> {
  const z = new JSZip();
  z.file("[Content_Types].xml", CONTENT_TYPES);
  z.file("_rels/.rels", RELS);
  z.file("word/document.xml", documentXml);
  for (const [name, content] of Object.entries(extra)) z.file(name, content);
  return z.generateAsync({ type: "nodebuffer", compression: "DEFLATE", compressionOptions: { level: 9 } });
}

/**
 * An XML bomb: a DOCX whose document.xml is `paragraphs` tiny runs (about 60 bytes each), within
 * the size caps but slow and memory-hungry to convert (mammoth builds a tree of every run, then
 * HTML, then a DOM). 340,000 paragraphs = 20 MB of XML in a ~60 KB file.
 */
export function xmlBombDocx(paragraphs: number): Promise<Buffer> {
  const run = "<w:p><w:r><w:t>a</w:t></w:r><w:r><w:t>b</w:t></w:r></w:p>";
  return docxWithBody(`<?xml version="1.0" encoding="UTF-8"?><w:document ${W}><w:body>${run.repeat(paragraphs)}</w:body></w:document>`);
}

/**
 * A zip bomb: a DOCX whose document.xml inflates to `mib` MiB (spaces inside a valid document).
 * Deflated as a stream and written by hand, so a 1 GiB part never exists in memory (about 1 KB
 * on disk per MiB inflated). `declaredSize`: the size its headers claim (a lying zip).
 */
export async function zipBombDocx(mib: number, opts: { declaredSize?: number } = {}): Promise<Buffer> {
  const head = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?><w:document ${W}><w:body><w:p><w:r><w:t>`);
  const tail = Buffer.from("</w:t></w:r></w:p></w:body></w:document>");
  const filler = Buffer.alloc(1024 * 1024, 0x20);
  const deflate = createDeflateRaw({ level: 9 });
  const out: Buffer[] = [];
  deflate.on("data", (c: Buffer) => out.push(c));
  const ended = new Promise((r) => deflate.on("end", r));
  let crc = crc32(head);
  deflate.write(head);
  for (let i = 0; i < mib; i++) {
    crc = crc32(filler, crc);
    if (!deflate.write(filler)) await new Promise((r) => deflate.once("drain", r));
  }
  crc = crc32(tail, crc);
  deflate.end(tail);
  await ended;
  const size = head.length + mib * filler.length + tail.length;
  return zipEntries([
    { name: "[Content_Types].xml", data: Buffer.from(CONTENT_TYPES) },
    { name: "_rels/.rels", data: Buffer.from(RELS) },
    { name: "word/document.xml", data: Buffer.concat(out), deflated: { crc, size: opts.declaredSize ?? size } },
  ]);
}

/** A minimal zip writer (stored entries, or raw-deflated data with its CRC and size given). */
function zipEntries(entries: { name: string; data: Buffer; deflated?: { crc: number; size: number } }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const crc = e.deflated?.crc ?? crc32(e.data);
    const size = e.deflated?.size ?? e.data.length;
    const method = e.deflated ? 8 : 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc >>> 0, 14);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc >>> 0, 16);
    central.writeUInt32LE(e.data.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, e.data);
    centrals.push(central, name);
    offset += local.length + name.length + e.data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** A zip bomb spread over many parts: each under the XML part cap, together over the document cap. */
export function wideZipBombDocx(parts: number, mibEach: number): Promise<Buffer> {
  const extra: Record<string, Uint8Array> = {};
  for (let i = 0; i < parts; i++) extra[`word/media/blob${i}.bin`] = Buffer.alloc(mibEach * 1024 * 1024, 0x41);
  return docxWithBody(`<?xml version="1.0" encoding="UTF-8"?><w:document ${W}><w:body><w:p><w:r><w:t>wide</w:t></w:r></w:p></w:body></w:document>`, extra);
}

/** A plain DOCX with one paragraph (the file that must still succeed next to the bombs). */
export function normalDocx(text: string): Promise<Buffer> {
  const esc = text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  return docxWithBody(`<?xml version="1.0" encoding="UTF-8"?><w:document ${W}><w:body><w:p><w:r><w:t>${esc}</w:t></w:r></w:p></w:body></w:document>`);
}
