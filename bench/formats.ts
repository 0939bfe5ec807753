/**
 * Format extraction benchmark. Run: `npm run bench:formats` (= `tsx bench/formats.ts`).
 *
 *   tsx bench/formats.ts [--data DIR] [--no-ocr] [--pdf-ocr] [--timeout-s N] [--out FILE] [--only SUBSTR]
 *
 * Walks multiformat_docling, multiformat_markitdown, multiformat_unstructured and multiformat_korean
 * under DIR (default /work/shared/data or env KB_SHARED_DATA; skips when absent) and runs every file
 * through the real pipeline (ingest/extract.ts: detect → the format table's extractor → normalize).
 * Per format (file extension) it counts
 *   - extracted: a document with text came back;
 *   - failed: IngestError with a named reason (code) — e.g. unsupported_type, encrypted_document;
 *   - crashed: anything else (an unexpected exception, reported by extractFile as "extract_failed").
 * Where the corpus has ground-truth Markdown (docling groundtruth/*.md, markitdown expected_outputs),
 * it reports text similarity: word recall (share of ground-truth words found) and bag-of-words F1,
 * after stripping Markdown syntax from both sides.
 * --no-ocr skips image files (OCR is slow); --pdf-ocr wires the PDF OCR fallback into the PDF extractor.
 * Writes a Markdown section (default .tmp/bench-formats.md) and a per-file TSV next to it.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { extractFile } from "../ingest/extract.ts";
import { pdfExtractor } from "../ingest/extractors/pdf.ts";
import { overrideExtractor } from "../ingest/formats.ts";
import { closeOcrEngine } from "../ingest/ocr/engine.ts";
import { IngestError, type ExtractedDocument } from "../ingest/types.ts";

const args = process.argv.slice(2);
const flag = (n: string) => args.includes(n);
const opt = (n: string) => {
  const i = args.indexOf(n);
  return i >= 0 ? args[i + 1] : undefined;
};
const DATA = opt("--data") ?? process.env.KB_SHARED_DATA ?? "/work/shared/data";
const OUT = opt("--out") ?? ".tmp/bench-formats.md";
const TIMEOUT_S = Number(opt("--timeout-s") ?? 300);
const ONLY = opt("--only");
const CORPORA = ["multiformat_docling", "multiformat_markitdown", "multiformat_unstructured", "multiformat_korean"];
const IMAGE_EXT = new Set(["png", "jpg", "jpeg", "tif", "tiff", "webp", "bmp", "gif", "heic"]);
const SKIP_NAMES = new Set(["SOURCE.txt", "UPSTREAM_README.md"]);

if (!CORPORA.some((c) => existsSync(path.join(DATA, c)))) {
  console.log(`bench:formats skipped: corpora not found under ${DATA} (set --data or KB_SHARED_DATA)`);
  process.exit(0);
}

// The format table's PDF extractor OCRs bad pages; without --pdf-ocr, text layers only.
if (!flag("--pdf-ocr")) overrideExtractor(pdfExtractor);

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) {
      if (name === "groundtruth" || name === "expected_outputs") continue;
      walk(p, out);
    } else if (!SKIP_NAMES.has(name)) out.push(p);
  }
  return out;
}

function groundTruth(file: string): string | undefined {
  const dir = path.dirname(file);
  const base = path.basename(file);
  const stem = base.replace(/\.[^.]+$/, "");
  const candidates = [
    path.join(dir, "..", "groundtruth", `${base}.md`),
    path.join(dir, "..", "groundtruth", `${stem}.md`),
    path.join(dir, "..", "groundtruth", "tesseract", "full_page", `${stem}.tesseract.full_page.md`),
    // markitdown's expected_outputs are for its PDFs only (test.md belongs to test.pdf).
    ...(/\.pdf$/i.test(base) ? [path.join(dir, "expected_outputs", `${stem}.md`)] : []),
  ];
  for (const c of candidates) if (existsSync(c)) return readFileSync(c, "utf8");
  return undefined;
}

/** Markdown → plain words (lowercased; syntax, links targets, HTML comments removed). */
function words(md: string): string[] {
  const plain = md
    .normalize("NFC")
    .replace(/<!--[\s\S]*?-->/g, " ")
    .replace(/!\[[^\]]*\]\([^)]*\)/g, " ")
    .replace(/\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/<[^>]+>/g, " ")
    .replace(/^\s*\|?\s*:?-{3,}.*$/gm, " ")
    .replace(/[|#*_`>~]/g, " ")
    .toLowerCase();
  return plain
    .split(/\s+/)
    .map((w) => w.replace(/^[\p{P}\p{S}]+|[\p{P}\p{S}]+$/gu, ""))
    .filter((w) => w.length > 0);
}

function similarity(gt: string, doc: ExtractedDocument): { recall: number; f1: number } | undefined {
  const ours = doc.pages.flatMap((p) => p.blocks.map((b) => b.text)).join("\n");
  const g = words(gt);
  const o = words(ours);
  // An empty reference (e.g. markitdown's expected output for a scan it cannot read) says nothing.
  if (g.length === 0) return undefined;
  const bag = new Map<string, number>();
  for (const w of o) bag.set(w, (bag.get(w) ?? 0) + 1);
  let hit = 0;
  for (const w of g) {
    const c = bag.get(w) ?? 0;
    if (c > 0) {
      hit++;
      bag.set(w, c - 1);
    }
  }
  const recall = hit / g.length;
  const precision = o.length ? hit / o.length : 0;
  return { recall, f1: recall + precision ? (2 * recall * precision) / (recall + precision) : 0 };
}

interface Row {
  corpus: string;
  file: string;
  format: string;
  status: "extracted" | "failed" | "crashed";
  code: string;
  ms: number;
  pages: number;
  chars: number;
  recall?: number;
  f1?: number;
  message: string;
}

const rows: Row[] = [];
for (const corpus of CORPORA) {
  const root = path.join(DATA, corpus);
  if (!existsSync(root)) continue;
  for (const file of walk(root)) {
    if (ONLY && !file.includes(ONLY)) continue;
    const rel = path.relative(root, file);
    const ext = path.extname(file).slice(1).toLowerCase() || "(none)";
    if (flag("--no-ocr") && IMAGE_EXT.has(ext)) continue;
    const t = Date.now();
    const row: Row = { corpus, file: rel, format: ext, status: "extracted", code: "", ms: 0, pages: 0, chars: 0, message: "" };
    try {
      const { document } = await extractFile({ source: path.basename(file), bytes: readFileSync(file) }, { signal: AbortSignal.timeout(TIMEOUT_S * 1000) });
      row.pages = document.pages.length;
      row.chars = document.pages.reduce((n, p) => n + p.blocks.reduce((m, b) => m + b.text.length, 0), 0);
      const gt = groundTruth(file);
      const sim = gt !== undefined ? similarity(gt, document) : undefined;
      if (sim) Object.assign(row, sim);
    } catch (err) {
      const e = err as IngestError;
      const named = err instanceof IngestError && e.code !== "extract_failed";
      row.status = named ? "failed" : "crashed";
      row.code = err instanceof IngestError ? e.code : "exception";
      row.message = (e?.message ?? String(err)).replace(/\s+/g, " ").slice(0, 200);
    }
    row.ms = Date.now() - t;
    rows.push(row);
    console.log(`${row.status.padEnd(9)} ${row.code.padEnd(20)} ${String(row.ms).padStart(6)}ms ${corpus}/${rel}${row.recall !== undefined ? ` recall=${row.recall.toFixed(3)} f1=${row.f1!.toFixed(3)}` : ""}${row.message ? ` — ${row.message}` : ""}`);
  }
}
await closeOcrEngine();

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const fmt = (x: number) => (Number.isNaN(x) ? "–" : x.toFixed(3));
const formats = [...new Set(rows.map((r) => r.format))].sort();
const table: string[] = [
  "| format | files | extracted | failed (reasons) | crashed | with GT | word recall vs GT | F1 vs GT |",
  "| --- | --- | --- | --- | --- | --- | --- | --- |",
];
for (const f of formats) {
  const rs = rows.filter((r) => r.format === f);
  const failed = rs.filter((r) => r.status === "failed");
  const reasons = new Map<string, number>();
  for (const r of failed) reasons.set(r.code, (reasons.get(r.code) ?? 0) + 1);
  const withGt = rs.filter((r) => r.recall !== undefined);
  table.push(
    `| ${f} | ${rs.length} | ${rs.filter((r) => r.status === "extracted").length} | ${failed.length}${reasons.size ? ` (${[...reasons].map(([c, n]) => `${c}×${n}`).join(", ")})` : ""} | ${rs.filter((r) => r.status === "crashed").length} | ${withGt.length} | ${fmt(mean(withGt.map((r) => r.recall!)))} | ${fmt(mean(withGt.map((r) => r.f1!)))} |`,
  );
}
const tot = (s: Row["status"]) => rows.filter((r) => r.status === s).length;
table.push(`| **all** | ${rows.length} | ${tot("extracted")} | ${tot("failed")} | ${tot("crashed")} | ${rows.filter((r) => r.recall !== undefined).length} | ${fmt(mean(rows.filter((r) => r.recall !== undefined).map((r) => r.recall!)))} | ${fmt(mean(rows.filter((r) => r.f1 !== undefined).map((r) => r.f1!)))} |`);
const crashed = rows.filter((r) => r.status === "crashed");
const md = [
  "### Format extraction (multiformat corpora)",
  "",
  `Measured by \`npm run bench:formats\`${flag("--no-ocr") ? " --no-ocr" : ""}${flag("--pdf-ocr") ? " --pdf-ocr" : ""} on ${new Date().toISOString().slice(0, 10)}: every file through detect → extract → normalize.`,
  "",
  table.join("\n"),
  "",
  ...(crashed.length ? ["Crashed:", "", ...crashed.map((r) => `- ${r.corpus}/${r.file}: ${r.message}`), ""] : []),
].join("\n");
console.log(`\n${md}`);
mkdirSync(path.dirname(OUT), { recursive: true });
writeFileSync(OUT, md);
writeFileSync(
  OUT.replace(/\.md$/, "") + "-files.tsv",
  ["corpus\tfile\tformat\tstatus\tcode\tms\tpages\tchars\trecall\tf1\tmessage", ...rows.map((r) => [r.corpus, r.file, r.format, r.status, r.code, r.ms, r.pages, r.chars, r.recall?.toFixed(3) ?? "", r.f1?.toFixed(3) ?? "", r.message].join("\t"))].join("\n"),
);
console.log(`\nMarkdown written to ${OUT}`);
