/**
 * `npm run bench:ingest-scale -- [--into <dir>] [--docs 1000] [--repeat 3]`
 *
 * Write cost as the table grows (issue 14, item 4): the same small documents written into an
 * empty chunk table and into a 1M-chunk table, through the product's own write path — what the
 * ingest job's writer does per batch (`ChunkStore.replaceDocuments`: one commit of up to
 * 16 documents, each replaced atomically; file-pipeline.ts, document-writer.ts). Before each round
 * the large table is optimized, as the worker does between jobs (KB_OPTIMIZE_INTERVAL_S). Extraction,
 * embedding and the SQLite commit cost the same whatever the table's size and are left out: the
 * documents are prepared (detect → extract → chunk → analyze, `prepareDocument`) and their
 * vectors computed once, before either clock starts.
 *
 * The large table is a COPY of the one `npm run bench:scale -- --chunks 1000000` builds
 * (<tmp>/kb-bench-scale-v2-1000000: 384-d hashed TF-IDF vectors, FTS, access, id and vector
 * indexes); `--into` names the copy (default <tmp>/kb-bench-ingest-scale-1m), made with `cp -r`
 * when missing. The original is never written. Each round writes the documents under new ids
 * (inserts, as new documents are), so the copy grows by a few thousand chunks per run.
 * Documents: KorQuAD 1.0 / SQuAD 1.1 dev articles (../shared/data), each a title and three
 * paragraphs in Markdown, half Korean, half English.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { prepareDocument, type PreparedDocument } from "../ingest/pipeline.ts";
import { chunkRowsFor } from "../src/services/document-writer.ts";
import { ChunkStore, type ChunkRow } from "../src/stores/lance/chunk-store.ts";
import { replaceSection } from "./report.ts";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const SHARED = path.resolve(import.meta.dirname, "../../shared/data");
const ORIGINAL = path.join(os.tmpdir(), "kb-bench-scale-v2-1000000");
const INTO = path.resolve(arg("into", path.join(os.tmpdir(), "kb-bench-ingest-scale-1m")));
const DOCS = Number(arg("docs", "1000"));
const REPEAT = Number(arg("repeat", "3"));
const BATCH_DOCS = 16; // file-pipeline.ts
const MODEL = "hashed-tfidf-384"; // bench/scale.ts's table layout
const DIM = 384;

function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** bench/scale.ts's hashed projection (without its IDF weights: the values do not change the write cost). */
function hashedVector(analyzed: string): Float32Array {
  const v = new Float32Array(DIM);
  for (const t of analyzed.split(" ")) {
    if (!t) continue;
    let h = fnv(t);
    for (let k = 0; k < 16; k++) {
      h = Math.imul(h ^ (h >>> 13), 0x5bd1e995) >>> 0;
      v[h % DIM]! += h & 0x80000000 ? -1 : 1;
    }
  }
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n) || 1;
  for (let i = 0; i < DIM; i++) v[i]! /= n;
  return v;
}

async function documents(): Promise<{ source: string; prepared: PreparedDocument }[]> {
  const read = (file: string) =>
    (JSON.parse(fs.readFileSync(file, "utf8")) as { data: { title: string; paragraphs: { context: string }[] }[] }).data.flatMap((a) => {
      const out: string[] = [];
      for (let i = 0; i + 2 <= a.paragraphs.length; i += 2) out.push(`# ${a.title.replaceAll("_", " ")} ${i / 2 + 1}\n\n${a.paragraphs.slice(i, i + 2).map((p) => p.context).join("\n\n")}\n`);
      return out;
    });
  const ko = read(path.join(SHARED, "korquad1_dev", "KorQuAD_v1.0_dev.json"));
  const en = read(path.join(SHARED, "squad11_dev", "dev-v1.1.json"));
  const texts: string[] = [];
  for (let i = 0; texts.length < DOCS; i++) {
    if (i >= ko.length && i >= en.length) throw new Error(`only ${texts.length} documents in the corpora`);
    if (i < ko.length) texts.push(ko[i]!);
    if (i < en.length && texts.length < DOCS) texts.push(en[i]!);
  }
  const out: { source: string; prepared: PreparedDocument }[] = [];
  for (const [i, t] of texts.entries()) {
    const source = `bench/ingest-scale/doc-${i}.md`;
    out.push({ source, prepared: await prepareDocument({ source, bytes: Buffer.from(t, "utf8") }) });
  }
  return out;
}

/** The rows of every document under new ids, with vectors (as the writer hands them to the store). */
function rowsFor(docs: { source: string; prepared: PreparedDocument }[], round: string): { documentId: string; rows: ChunkRow[] }[] {
  const versionAt = new Date().toISOString();
  return docs.map((d, i) => {
    const doc = { id: `doc_bench_${round}_${i}`, source: d.source, tags: [] };
    const rows = chunkRowsFor(doc, 1, versionAt, d.prepared, { allow: ["group:g1"], deny: [], classification: 1 });
    for (const r of rows) r.vector = hashedVector(r.analyzed);
    return { documentId: doc.id, rows };
  });
}

async function writeAll(store: ChunkStore, docs: { documentId: string; rows: ChunkRow[] }[]): Promise<{ seconds: number; batches: number[] }> {
  const batches: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < docs.length; i += BATCH_DOCS) {
    const b0 = performance.now();
    await store.replaceDocuments(docs.slice(i, i + BATCH_DOCS));
    batches.push(performance.now() - b0);
  }
  return { seconds: (performance.now() - t0) / 1000, batches };
}

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

async function main(): Promise<void> {
  if (!fs.existsSync(SHARED)) return console.log(`skip: ${SHARED} not found`);
  if (path.resolve(INTO) === path.resolve(ORIGINAL)) throw new Error(`--into must be a copy, not ${ORIGINAL} itself`);
  if (!fs.existsSync(INTO)) {
    if (!fs.existsSync(path.join(ORIGINAL, "bench-built.json"))) return console.log(`skip: no 1M-chunk table at ${ORIGINAL} (npm run bench:scale -- --chunks 1000000) and none at ${INTO}`);
    console.log(`copying ${ORIGINAL} to ${INTO}`);
    execFileSync("cp", ["-r", ORIGINAL, INTO]);
  }
  const docs = await documents();
  const chunks = docs.reduce((n, d) => n + d.prepared.chunks.length, 0);
  const emptyDir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-bench-ingest-scale-empty-"));
  const layout = { model: MODEL, dimension: DIM };
  const large = await ChunkStore.open(INTO, layout);
  // Before each round, what the worker's optimize does every KB_OPTIMIZE_INTERVAL_S between
  // jobs (compaction, index folding, old versions removed): earlier rounds' appends (one small
  // fragment and one table version per batch) would otherwise pile up in the copy.
  const optimizeS: number[] = [];
  const optimize = async () => {
    const o0 = performance.now();
    await large.optimize(new Date());
    optimizeS.push((performance.now() - o0) / 1000);
  };
  const largeRows = await large.count();
  console.log(`${docs.length} documents, ${chunks} chunks; large table ${largeRows} rows, indexes: ${JSON.stringify(await large.describeIndexes())}`);
  const results: { table: string; rows: number; seconds: number; batches: number[] }[] = [];
  try {
    for (let r = 0; r < REPEAT; r++) {
      // A fresh empty table each round (as a new knowledge base's), then the large one.
      const dir = path.join(emptyDir, `r${r}`);
      const empty = await ChunkStore.open(dir, layout);
      const e = await writeAll(empty, rowsFor(docs, `e${r}_${Date.now()}`));
      empty.close();
      await optimize();
      const before = await large.count();
      const l = await writeAll(large, rowsFor(docs, `l${r}_${Date.now()}`));
      results.push({ table: "empty", rows: 0, ...e }, { table: "1M", rows: before, ...l });
      console.log(`round ${r}: empty ${e.seconds.toFixed(2)} s, 1M (${before} rows) ${l.seconds.toFixed(2)} s`);
    }
  } finally {
    fs.rmSync(emptyDir, { recursive: true, force: true });
  }
  const f = (x: number, d = 2) => x.toFixed(d);
  const rounds = results.length / 2;
  const ratios = Array.from({ length: rounds }, (_, i) => results[2 * i + 1]!.seconds / results[2 * i]!.seconds);
  const med = (xs: number[]) => pct(xs, 50);
  const of = (t: string) => results.filter((x) => x.table === t);
  const row = (t: string) => {
    const xs = of(t);
    const all = xs.flatMap((x) => x.batches);
    return `| ${t === "empty" ? "empty" : `${xs[0]!.rows.toLocaleString("en")} chunks`} | ${xs.map((x) => f(x.seconds)).join(", ")} s | ${f(med(xs.map((x) => x.seconds)))} s | ${f(pct(all, 50), 0)} / ${f(pct(all, 95), 0)} ms |`;
  };
  const body = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, Node ${process.version}, command \`npm run bench:ingest-scale\` (${REPEAT} rounds, load average ${f(os.loadavg()[0]!, 1)} at the end; the machine is shared). ` +
      `${docs.length} small documents (${chunks} chunks; KorQuAD/SQuAD articles, a title and two paragraphs each) written in batches of ${BATCH_DOCS} documents through \`ChunkStore.replaceDocuments\` (the ingest writer's LanceDB step: one commit per batch; new documents are appended after a check through the document_id index that they have no rows) into an empty table and into a copy of bench:scale's 1M-chunk table (384-d vectors, FTS, access, id and HNSW indexes), optimized before each round as the worker's optimize job does between jobs (compaction, index folding, old versions removed: ${optimizeS.map((x) => f(x, 0)).join(', ')} s, not timed). Extraction, embedding and the SQLite commit do not depend on the table's size and are not timed.`,
    "",
    "| table | time per round | median | per batch p50 / p95 |",
    "|---|---|---|---|",
    row("empty"),
    row("1M"),
    "",
    `Into the 1M-chunk table: **${f(med(ratios))}×** the time into the empty one (median of per-round ratios ${ratios.map((x) => f(x)).join(", ")}).`,
  ].join("\n");
  console.log(body);
  if (!process.argv.includes("--no-write")) replaceSection("docs/benchmarks.md", "ingest-scale", body);
}

await main();
