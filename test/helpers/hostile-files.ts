/**
 * Hostile files built in code (no binaries in git), for test/hostile-ingest.test.ts and
 * bench/hostile.ts: small on disk, expensive or huge once inflated.
 */
import JSZip from "jszip";

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

/** A zip bomb: a DOCX with one XML part of `mib` MiB (spaces inside a valid document) in a tiny file. */
export function zipBombDocx(mib: number): Promise<Buffer> {
  const head = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?><w:document ${W}><w:body><w:p><w:r><w:t>`);
  const tail = Buffer.from("</w:t></w:r></w:p></w:body></w:document>");
  const filler = Buffer.alloc(mib * 1024 * 1024, 0x20);
  return docxWithBody(Buffer.concat([head, filler, tail]));
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
