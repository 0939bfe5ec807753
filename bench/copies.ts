/**
 * npm run bench:copies — what folding near-duplicate documents costs a search (issue 16 item 6).
 *
 * 1. Fingerprint time of one long text (200,000 words), computed once per document version.
 * 2. A knowledge base (lexical mode, SQLite + LanceDB in a temp folder) of --docs generated
 *    documents of 300 words, --families of which come in three copies (one word changed in one,
 *    a header and page number added to another). --queries searches of 4 words, topK 10, as the
 *    operator: without folding, folding with an empty fingerprint cache (first pass) and folding
 *    with a warm one. Prints p50/p95 and how many results carried copies.
 *
 *   npm run bench:copies [-- --docs 300 --families 30 --queries 200]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { loadConfig } from "../src/config.ts";
import { fingerprint } from "../src/domain/duplicates/fingerprint.ts";
import { openKb } from "../src/services/container.ts";

const { values } = parseArgs({ options: { docs: { type: "string", default: "300" }, families: { type: "string", default: "30" }, queries: { type: "string", default: "200" } } });
const DOCS = Number(values.docs);
const FAMILIES = Number(values.families);
const QUERIES = Number(values.queries);

let seed = 12345;
const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
const VOCAB = Array.from({ length: 4000 }, (_, i) => `w${i.toString(36)}x${(i * 7).toString(36)}`);
const words = (n: number) => Array.from({ length: n }, () => VOCAB[Math.floor(rand() * VOCAB.length)]!).join(" ");
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

const long = words(200_000);
const fpTimes: number[] = [];
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  fingerprint(long);
  fpTimes.push(performance.now() - t0);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-bench-copies-"));
try {
  const kb = await openKb(loadConfig({}, { dataDir: dir, modelsDir: path.join(dir, "models"), embedModel: "none", logLevel: "silent" }), { logger: pino({ level: "silent" }) });
  try {
    const files: string[] = [];
    const texts: string[] = [];
    for (let i = 0; i < DOCS; i++) {
      const text = words(300);
      texts.push(text);
      const f = path.join(dir, "in", `doc-${i}.txt`);
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, text);
      files.push(f);
      if (i < FAMILIES) {
        const v2 = path.join(dir, "in", `doc-${i}_v2.txt`);
        fs.writeFileSync(v2, text.replace(/^\S+/, "changed"));
        const exp = path.join(dir, "in", `doc-${i}-export.txt`);
        fs.writeFileSync(exp, `Company confidential\n${text}\nPage 1 of 1`);
        files.push(v2, exp);
      }
    }
    const { jobId } = await kb.ingest.submit(SYSTEM_ACTOR, files.map((f) => ({ source: f, path: f })));
    kb.jobsRepo.claimJob(jobId, "bench", 60_000);
    const job = await kb.jobs.run(jobId, "bench");
    if (job.status !== "succeeded") throw new Error(`ingest ${job.status}`);
    await kb.chunks.optimize(new Date());
    const queries = Array.from({ length: QUERIES }, (_, i) => {
      // Half the queries from a document that has copies.
      const ws = texts[i % 2 === 0 ? Math.floor(rand() * FAMILIES) : Math.floor(rand() * texts.length)]!.split(" ");
      const at = Math.floor(rand() * (ws.length - 4));
      return ws.slice(at, at + 4).join(" ");
    });
    const run = async (collapseCopies: boolean) => {
      const t: number[] = [];
      let withCopies = 0;
      for (const q of queries) {
        const t0 = performance.now();
        const r = await kb.retriever.retrieve(SYSTEM_ACTOR, q, { topK: 10, collapseCopies });
        t.push(performance.now() - t0);
        withCopies += r.chunks.filter((c) => c.copies?.length).length;
      }
      return { p50: pct(t, 50), p95: pct(t, 95), withCopies };
    };
    await run(false); // warm-up (LanceDB caches)
    const off = await run(false);
    const cold = await run(true);
    const warm = await run(true);
    const f = (x: { p50: number; p95: number; withCopies: number }) => `${x.p50.toFixed(1)} / ${x.p95.toFixed(1)} ms | ${x.withCopies}`;
    console.log(`fingerprint of a 200,000-word text: median ${pct(fpTimes, 50).toFixed(0)} ms (5 runs)`);
    console.log(`${DOCS} documents + ${FAMILIES * 2} copies, ${files.length} files; ${QUERIES} lexical searches, topK 10; load average ${os.loadavg()[0]!.toFixed(1)}, ${os.cpus().length} CPUs`);
    console.log("| search | p50 / p95 | results with copies |\n|---|---|---|");
    console.log(`| without folding | ${f(off)} |`);
    console.log(`| folding, empty fingerprint cache | ${f(cold)} |`);
    console.log(`| folding, warm cache | ${f(warm)} |`);
  } finally {
    await kb.close();
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
