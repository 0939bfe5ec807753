/**
 * How large the container documents of the corpora are once inflated, to size the decompression
 * caps (KB_MAX_XML_PART_MB, KB_MAX_DOCUMENT_UNCOMPRESSED_MB): every zip container (DOCX, PPTX,
 * XLSX, HWPX, by signature) and HWP file under ../shared/data is inflated entry by entry.
 *
 *   npx tsx bench/container-sizes.ts [folder] [--write]
 *
 * --write updates docs/benchmarks.md (section "container-sizes").
 */
import CFB from "cfb";
import fs from "node:fs";
import path from "node:path";
import { inflateRawSync } from "node:zlib";
import JSZip from "jszip";
import { DEFAULT_ZIP_LIMITS } from "../ingest/extractors/ooxml-package.ts";
import { replaceSection } from "./report.ts";

const args = process.argv.slice(2);
const root = path.resolve(args.find((a) => !a.startsWith("--")) ?? path.join(import.meta.dirname, "../../shared/data"));
if (!fs.existsSync(root)) {
  console.log(`no corpora at ${root}; nothing measured`);
  process.exit(0);
}

function* walk(dir: string): Generator<string> {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.isFile()) yield p;
  }
}

const isXml = (name: string) => /\.(xml|rels)$/i.test(name);
const MB = (n: number) => (n / (1024 * 1024)).toFixed(2);

interface Doc {
  file: string;
  kind: string;
  packed: number;
  total: number;
  largestXml: { name: string; size: number };
  largestEntry: { name: string; size: number };
}
const docs: Doc[] = [];
let unreadable = 0;

for (const file of walk(root)) {
  const head = Buffer.alloc(8);
  const fd = fs.openSync(file, "r");
  fs.readSync(fd, head, 0, 8, 0);
  fs.closeSync(fd);
  const ext = path.extname(file).slice(1).toLowerCase();
  const zip = head[0] === 0x50 && head[1] === 0x4b;
  const ole = head.readUInt32BE(0) === 0xd0cf11e0 && ext === "hwp";
  if (!zip && !ole) continue;
  const bytes = fs.readFileSync(file);
  const doc: Doc = { file: path.relative(root, file), kind: ext || "zip", packed: bytes.length, total: 0, largestXml: { name: "", size: 0 }, largestEntry: { name: "", size: 0 } };
  const add = (name: string, size: number) => {
    doc.total += size;
    if (size > doc.largestEntry.size) doc.largestEntry = { name, size };
    if ((zip && isXml(name)) || (ole && size > doc.largestXml.size)) if (size > doc.largestXml.size) doc.largestXml = { name, size };
  };
  try {
    if (zip) {
      const z = await JSZip.loadAsync(bytes, { checkCRC32: false });
      for (const f of Object.values(z.files)) if (!f.dir) add(f.name, (await f.async("uint8array")).length);
    } else {
      // HWP 5: DocInfo and BodyText/Section* are raw-deflated streams (when the header's flag says so).
      const c = CFB.read(bytes, { type: "buffer" });
      c.FullPaths.forEach((p, i) => {
        const e = c.FileIndex[i]!;
        if (e.type !== 2 || !e.content) return;
        const raw = Buffer.from(e.content as Uint8Array);
        let size = raw.length;
        if (/DocInfo$|BodyText\/Section\d+$/.test(p)) {
          try {
            size = inflateRawSync(raw).length;
          } catch {
            /* stored uncompressed */
          }
        }
        add(p.replace(/^Root Entry\//, ""), size);
      });
    }
    docs.push(doc);
  } catch {
    unreadable++;
  }
}

const byXml = [...docs].sort((a, b) => b.largestXml.size - a.largestXml.size);
const byTotal = [...docs].sort((a, b) => b.total - a.total);
console.log(`${docs.length} container documents under ${root} (${unreadable} unreadable)`);
console.log(`largest XML part (HWP: largest stream): ${MB(byXml[0]?.largestXml.size ?? 0)} MiB — ${byXml[0]?.largestXml.name} in ${byXml[0]?.file}`);
console.log(`largest document inflated: ${MB(byTotal[0]?.total ?? 0)} MiB (${MB(byTotal[0]?.packed ?? 0)} MiB on disk) — ${byTotal[0]?.file}`);
console.log("top 5 by XML part:");
for (const d of byXml.slice(0, 5)) console.log(`  ${MB(d.largestXml.size)} MiB  ${d.largestXml.name}  ${d.file}`);
console.log("top 5 by total:");
for (const d of byTotal.slice(0, 5)) console.log(`  ${MB(d.total)} MiB (largest entry ${MB(d.largestEntry.size)} MiB ${d.largestEntry.name})  ${d.file}`);

if (args.includes("--write")) {
  const xml = byXml[0]!;
  const tot = byTotal[0]!;
  const kinds = new Map<string, number>();
  for (const d of docs) kinds.set(d.kind, (kinds.get(d.kind) ?? 0) + 1);
  const body = [
    `Measured ${new Date().toISOString().slice(0, 10)} with \`npx tsx bench/container-sizes.ts --write\`: every zip container and HWP file under ../shared/data ` +
      `(${docs.length} documents: ${[...kinds].map(([k, n]) => `${n} ${k}`).join(", ")}), inflated entry by entry.`,
    "",
    "| | largest in the corpora | default cap | cap / largest |",
    "|---|---|---|---|",
    `| XML part (\`KB_MAX_XML_PART_MB\`) | ${MB(xml.largestXml.size)} MiB (\`${xml.largestXml.name}\` of \`${path.basename(xml.file)}\`) | ${MB(DEFAULT_ZIP_LIMITS.maxXmlPartBytes)} MiB | ${(DEFAULT_ZIP_LIMITS.maxXmlPartBytes / xml.largestXml.size).toFixed(1)}× |`,
    `| whole document inflated (\`KB_MAX_DOCUMENT_UNCOMPRESSED_MB\`) | ${MB(tot.total)} MiB (\`${path.basename(tot.file)}\`, ${MB(tot.packed)} MiB on disk) | ${MB(DEFAULT_ZIP_LIMITS.maxTotalBytes)} MiB | ${(DEFAULT_ZIP_LIMITS.maxTotalBytes / tot.total).toFixed(1)}× |`,
  ].join("\n");
  replaceSection(path.join(import.meta.dirname, "../docs/benchmarks.md"), "container-sizes", body);
  console.log("updated docs/benchmarks.md");
}
