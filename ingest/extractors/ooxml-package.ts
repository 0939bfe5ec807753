/**
 * The package layer shared by the zip-based Office formats (DOCX, PPTX, XLSX) and HWPX:
 * `openZip` (zip-bomb limits: entry count, declared and actually inflated sizes, checked before and
 * while inflating), `rejectOleContainer` (encrypted OOXML is an OLE file with an EncryptionInfo
 * stream → IngestError("encrypted_document")), core properties (`coreTitle`) and part
 * relationships (`rels`).
 */
import CFB from "cfb";
import JSZip from "jszip";
import { sensibleTitle } from "../text-utils.ts";
import { IngestError, type ExtractOptions } from "../types.ts";
import { attr, kids, parseXml } from "./xml-dom.ts";

export interface ZipLimits {
  /** Most entries in one archive. Default 20,000. */
  maxEntries?: number;
  /** Largest single entry of any kind once inflated, in bytes. Default: the total. */
  maxEntryBytes?: number;
  /**
   * Largest XML part (.xml, .rels) once inflated, in bytes. Default 64 MiB. XML parts are parsed
   * whole (DOM, mammoth), which costs many times their size in memory and time; pictures are not.
   */
  maxXmlPartBytes?: number;
  /** Largest total once inflated, in bytes. Default 100 MiB. */
  maxTotalBytes?: number;
}

const MiB = 1024 * 1024;

/**
 * Defaults (KB_MAX_XML_PART_MB, KB_MAX_DOCUMENT_UNCOMPRESSED_MB): at least 10× the largest seen in
 * the test corpora (bench/container-sizes.ts; figures in docs/benchmarks.md).
 */
export const DEFAULT_ZIP_LIMITS: Required<ZipLimits> = {
  maxEntries: 20_000,
  maxEntryBytes: 100 * MiB,
  maxXmlPartBytes: 64 * MiB,
  maxTotalBytes: 100 * MiB,
};

/** The limits for one extraction: the extractor's configuration over the request's caps over the defaults. */
export function zipLimitsFor(options: ExtractOptions, configured?: ZipLimits): Required<ZipLimits> {
  const total = configured?.maxTotalBytes ?? options.limits?.maxDocumentBytes ?? DEFAULT_ZIP_LIMITS.maxTotalBytes;
  return {
    maxEntries: configured?.maxEntries ?? DEFAULT_ZIP_LIMITS.maxEntries,
    maxEntryBytes: configured?.maxEntryBytes ?? total,
    maxXmlPartBytes: configured?.maxXmlPartBytes ?? options.limits?.maxXmlPartBytes ?? DEFAULT_ZIP_LIMITS.maxXmlPartBytes,
    maxTotalBytes: total,
  };
}

const isXmlPart = (name: string) => /\.(xml|rels)$/i.test(name);

export interface SafeZip {
  /** Entry names (files only). */
  names: string[];
  has(name: string): boolean;
  /** Inflate one entry (bounded by the limits). */
  bytes(name: string): Promise<Uint8Array>;
  /** Inflate one entry as UTF-8 text (BOM stripped). */
  text(name: string): Promise<string>;
  /** Inflate every entry once, counting bytes, without keeping them: proves the archive is within limits. */
  verifyAll(): Promise<void>;
}

const OLE_MAGIC = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1];

export function isOleFile(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && OLE_MAGIC.every((b, i) => bytes[i] === b);
}

/**
 * An OOXML/HWPX name on an OLE compound file: password-protected OOXML (EncryptionInfo +
 * EncryptedPackage streams) → encrypted_document; anything else → wrong_format.
 */
export function rejectOleContainer(bytes: Uint8Array, source: string, expected: string): never {
  let paths: string[] = [];
  try {
    const c = CFB.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { type: "buffer" });
    paths = c.FullPaths.map((p) => p.replace(/^Root Entry\//, "").replace(/\/$/, ""));
  } catch {
    throw new IngestError("corrupt_document", `${source}: damaged OLE compound file, not a readable ${expected}`);
  }
  if (paths.includes("EncryptionInfo") || paths.includes("EncryptedPackage")) {
    throw new IngestError("encrypted_document", `${source} is a password-protected Office document; remove the password and upload it again`);
  }
  throw new IngestError("wrong_format", `${source} is a legacy OLE (binary Office) file, not ${expected}`);
}

function bombError(source: string, what: string): IngestError {
  return new IngestError("zip_bomb", `${source}: ${what} (possible zip bomb); the file was not extracted`);
}

/** JSZip's internal StreamHelper (not in its typings): lets us count inflated bytes and stop early. */
interface JSZipStream {
  on(event: "data", cb: (chunk: Uint8Array) => void): JSZipStream;
  on(event: "error", cb: (err: Error) => void): JSZipStream;
  on(event: "end", cb: () => void): JSZipStream;
  resume(): JSZipStream;
  pause(): JSZipStream;
}

interface JSZipEntryData {
  uncompressedSize?: number;
  compressedSize?: number;
}

/** Open a zip container with bomb protection. `expected` names the format for error messages. */
export async function openZip(
  bytes: Uint8Array,
  source: string,
  expected: string,
  limits?: ZipLimits,
  /** Entry names stored without the zip's UTF-8 flag (JSZip's `decodeFileName`); default UTF-8. */
  decodeFileName?: (raw: Uint8Array) => string,
): Promise<SafeZip> {
  const l = zipLimitsFor({}, limits);
  if (isOleFile(bytes)) rejectOleContainer(bytes, source, expected);
  if (!(bytes[0] === 0x50 && bytes[1] === 0x4b)) {
    throw new IngestError("wrong_format", `${source} is not a ${expected} file (no zip signature)`);
  }
  let zip: JSZip;
  try {
    zip = await JSZip.loadAsync(bytes, { checkCRC32: false, createFolders: false, ...(decodeFileName ? { decodeFileName: (raw: string[] | Uint8Array | Buffer) => decodeFileName(Uint8Array.from(raw as ArrayLike<number>)) } : {}) });
  } catch (err) {
    throw new IngestError("corrupt_document", `${source}: ${expected} container is truncated or damaged (${(err as Error)?.message ?? err})`);
  }
  const files = Object.values(zip.files).filter((f) => !f.dir);
  if (files.length > l.maxEntries) throw bombError(source, `${files.length} entries in the archive, over the limit of ${l.maxEntries}`);
  let declaredTotal = 0;
  for (const f of files) {
    const size = (f as unknown as { _data?: JSZipEntryData })._data?.uncompressedSize ?? 0;
    if (size > l.maxEntryBytes) throw bombError(source, `entry ${f.name} inflates to ${size} bytes, over the limit of ${l.maxEntryBytes}`);
    if (isXmlPart(f.name) && size > l.maxXmlPartBytes) throw bombError(source, `XML part ${f.name} inflates to ${size} bytes, over the limit of ${l.maxXmlPartBytes} (KB_MAX_XML_PART_MB)`);
    declaredTotal += size;
  }
  if (declaredTotal > l.maxTotalBytes) throw bombError(source, `archive inflates to ${declaredTotal} bytes, over the limit of ${l.maxTotalBytes} (KB_MAX_DOCUMENT_UNCOMPRESSED_MB)`);

  const byName = new Map(files.map((f) => [f.name, f]));
  let inflatedTotal = 0;

  // Inflate with a running count: declared sizes can lie.
  const inflate = (name: string, keep: boolean): Promise<Uint8Array> =>
    new Promise((resolve, reject) => {
      const f = byName.get(name);
      if (!f) {
        reject(new IngestError("corrupt_document", `${source}: ${expected} part ${name} is missing`));
        return;
      }
      const chunks: Uint8Array[] = [];
      const maxSize = isXmlPart(name) ? Math.min(l.maxEntryBytes, l.maxXmlPartBytes) : l.maxEntryBytes;
      let size = 0;
      let done = false;
      const stream = (f as unknown as { internalStream(type: "uint8array"): JSZipStream }).internalStream("uint8array");
      const fail = (e: IngestError) => {
        if (done) return;
        done = true;
        try {
          stream.pause();
        } catch {
          /* ignore */
        }
        reject(e);
      };
      stream
        .on("data", (chunk: Uint8Array) => {
          if (done) return;
          size += chunk.length;
          inflatedTotal += chunk.length;
          if (size > maxSize) return fail(bombError(source, `entry ${name} inflates past ${maxSize} bytes`));
          if (inflatedTotal > l.maxTotalBytes * 2) return fail(bombError(source, `archive inflates past ${l.maxTotalBytes} bytes`));
          if (keep) chunks.push(chunk);
        })
        .on("error", (err: Error) => fail(new IngestError("corrupt_document", `${source}: ${expected} part ${name} is damaged (${err.message})`)))
        .on("end", () => {
          if (done) return;
          done = true;
          resolve(keep ? Buffer.concat(chunks) : new Uint8Array());
        })
        .resume();
    });

  return {
    names: [...byName.keys()],
    has: (name) => byName.has(name),
    bytes: (name) => inflate(name, true),
    async text(name) {
      const b = await inflate(name, true);
      const s = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("utf8");
      return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
    },
    async verifyAll() {
      let sum = 0;
      const before = inflatedTotal;
      for (const name of byName.keys()) {
        await inflate(name, false);
        sum = inflatedTotal - before;
        if (sum > l.maxTotalBytes) throw bombError(source, `archive inflates past ${l.maxTotalBytes} bytes`);
      }
    },
  };
}

/** <dc:title> of docProps/core.xml, if present and sensible. */
export async function coreTitle(zip: SafeZip): Promise<string | undefined> {
  if (!zip.has("docProps/core.xml")) return undefined;
  try {
    const xml = await zip.text("docProps/core.xml");
    const m = /<dc:title[^>]*>([\s\S]*?)<\/dc:title>/.exec(xml);
    if (!m) return undefined;
    const t = m[1]!
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&quot;/g, '"')
      .replace(/&apos;/g, "'")
      .replace(/&amp;/g, "&")
      .trim();
    if (/^(?:PowerPoint Presentation|Presentation|Microsoft (?:Word|Excel|PowerPoint)(?: Document| Worksheet| Presentation)?|Slide \d+|Book\d*|Sheet\d*|제목 없음|프레젠테이션)$/i.test(t)) return undefined;
    return sensibleTitle(t);
  } catch {
    return undefined;
  }
}

function resolveTarget(baseDir: string, target: string): string {
  if (target.startsWith("/")) return target.slice(1);
  const parts = `${baseDir}/${target}`.split("/");
  const out: string[] = [];
  for (const p of parts) {
    if (p === "..") out.pop();
    else if (p !== "." && p !== "") out.push(p);
  }
  return out.join("/");
}

/** Relationships of a part (internal targets resolved to archive paths). */
export async function rels(zip: SafeZip, part: string): Promise<Map<string, { target: string; type: string }>> {
  const dir = part.slice(0, part.lastIndexOf("/"));
  const file = `${dir}/_rels/${part.slice(part.lastIndexOf("/") + 1)}.rels`;
  const map = new Map<string, { target: string; type: string }>();
  if (!zip.has(file)) return map;
  const root = parseXml(await zip.text(file));
  if (!root) return map;
  for (const r of kids(root, "Relationship")) {
    const id = attr(r, "Id");
    const target = attr(r, "Target");
    if (id && target && attr(r, "TargetMode") !== "External") {
      map.set(id, { target: resolveTarget(dir, target), type: attr(r, "Type") ?? "" });
    }
  }
  return map;
}
