/**
 * How long does an ACL change take to reach the index? (`npm run bench:acl`)
 *
 * Builds a chunk table of N chunks (documents of CHUNKS_PER_DOC chunks, optionally with
 * vectors), indexes it like production (FTS, label lists, btrees), then measures:
 *   - one document's access rewritten in place (`updateAccess`), and the next filtered query
 *     that must already see it;
 *   - bulk changes (`updateAccessMany`, one commit) over 1% and 10% of the documents;
 *   - a filtered full-text query before/after many updates, and `optimize` afterwards.
 *
 *   npx tsx bench/acl-update.ts [--sizes 10000,100000] [--dim 384] [--runs 20]
 *   (--dim 0 for a lexical-only table)
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { ChunkStore, type ChunkRow } from "../src/stores/lance/chunk-store.ts";

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "10000,100000" },
    dim: { type: "string", default: "384" },
    runs: { type: "string", default: "20" },
    "chunks-per-doc": { type: "string", default: "20" },
  },
});
const SIZES = values.sizes.split(",").map(Number);
const DIM = Number(values.dim);
const RUNS = Number(values.runs);
const CHUNKS_PER_DOC = Number(values["chunks-per-doc"]);
const WORDS = "report policy vacation budget contract salary security network onboarding travel expense 휴가 규정 보안 계약 급여 출장 교육".split(" ");

const ms = (t0: number) => performance.now() - t0;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));

function rowsFor(doc: number, dim: number): ChunkRow[] {
  return Array.from({ length: CHUNKS_PER_DOC }, (_, i) => {
    const words = Array.from({ length: 40 }, (_, k) => WORDS[(doc * 7 + i * 3 + k) % WORDS.length]).join(" ");
    const row: ChunkRow = {
      chunkId: `d${doc}:1:${i}`,
      documentId: `d${doc}`,
      documentVersion: 1,
      ordinal: i,
      title: `Document ${doc}`,
      source: `/srv/share/dept${doc % 10}/doc${doc}.txt`,
      pageStart: 1 + Math.floor(i / 4),
      pageEnd: 1 + Math.floor(i / 4),
      headings: "",
      text: `${words} doc${doc}`,
      analyzed: `${words} doc${doc}`,
      allow: [`group:dept${doc % 10}`, "group:everyone"],
      deny: [],
      classification: 1,
    };
    if (dim > 0) {
      const v = new Float32Array(dim);
      for (let k = 0; k < dim; k++) v[k] = Math.sin(doc * 31 + i * 7 + k);
      row.vector = v;
    }
    return row;
  });
}

async function bench(size: number): Promise<Record<string, string>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-bench-acl-"));
  const store = await ChunkStore.open(dir, DIM > 0 ? { model: "bench", dimension: DIM } : null);
  try {
    const docs = Math.ceil(size / CHUNKS_PER_DOC);
    let t0 = performance.now();
    // Load in batches: merge-insert inserts every unmatched row, whatever its document.
    const batchDocs = Math.max(1, Math.floor(10_000 / CHUNKS_PER_DOC));
    for (let d = 0; d < docs; d += batchDocs) {
      const rows = Array.from({ length: Math.min(batchDocs, docs - d) }, (_, k) => rowsFor(d + k, DIM)).flat();
      await store.replaceDocument("__bench_load__", rows);
    }
    const loadMs = ms(t0);
    t0 = performance.now();
    await store.optimize(new Date());
    const indexMs = ms(t0);

    const filterFor = (principal: string) => `array_has_any(allow, make_array('${principal}')) AND classification <= 1`;
    const query = async (principal: string) => store.searchText("report policy", filterFor(principal), 50);
    const queryBefore: number[] = [];
    for (let i = 0; i < 5; i++) {
      t0 = performance.now();
      await query("group:dept3");
      queryBefore.push(ms(t0));
    }

    // One document at a time, each followed by the query that must see the change.
    const single: number[] = [];
    const next: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const doc = (r * 7919) % docs;
      const principal = `user:bench${r}`;
      t0 = performance.now();
      await store.updateAccess(`d${doc}`, { allow: [principal], deny: [], classification: 1 });
      single.push(ms(t0));
      t0 = performance.now();
      const hits = await store.searchText(`doc${doc}`, filterFor(principal), 100);
      next.push(ms(t0));
      if (hits.length !== CHUNKS_PER_DOC || hits.some((h) => h.documentId !== `d${doc}`)) {
        throw new Error(`the query after the update saw ${hits.length} chunks of d${doc}, expected ${CHUNKS_PER_DOC}`);
      }
    }

    // Bulk: the same access for 1% and 10% of the documents, one commit each.
    const bulk = async (share: number) => {
      const ids = Array.from({ length: Math.max(1, Math.round(docs * share)) }, (_, k) => `d${(k * 13) % docs}`);
      const unique = [...new Set(ids)];
      t0 = performance.now();
      for (let i = 0; i < unique.length; i += 500) await store.updateAccessMany(unique.slice(i, i + 500), { allow: ["group:bulk"], deny: ["user:bench0"], classification: 2 });
      return { docs: unique.length, ms: ms(t0) };
    };
    const bulk1 = await bulk(0.01);
    const bulk10 = await bulk(0.1);

    const queryAfter: number[] = [];
    for (let i = 0; i < 5; i++) {
      t0 = performance.now();
      await query("group:dept3");
      queryAfter.push(ms(t0));
    }
    t0 = performance.now();
    await store.optimize(new Date());
    const optimizeMs = ms(t0);
    t0 = performance.now();
    await query("group:dept3");
    const queryOptimized = ms(t0);

    return {
      chunks: String(await store.count()),
      docs: String(docs),
      "load s": (loadMs / 1000).toFixed(1),
      "index s": (indexMs / 1000).toFixed(1),
      "1 doc p50 ms": fmt(pct(single, 50)),
      "1 doc p95 ms": fmt(pct(single, 95)),
      "next query p50 ms": fmt(pct(next, 50)),
      [`bulk 1% (${bulk1.docs} docs) ms`]: fmt(bulk1.ms),
      [`bulk 10% (${bulk10.docs} docs) ms`]: fmt(bulk10.ms),
      "query before ms": fmt(pct(queryBefore, 50)),
      "query after updates ms": fmt(pct(queryAfter, 50)),
      "optimize ms": fmt(optimizeMs),
      "query optimized ms": fmt(queryOptimized),
    };
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`ACL update bench: ${CHUNKS_PER_DOC} chunks/document, ${DIM > 0 ? `${DIM}-d vectors` : "no vectors"}, ${RUNS} single-document runs, ${os.availableParallelism()} CPUs`);
for (const size of SIZES) {
  const r = await bench(size);
  console.log(`\n${size} chunks`);
  for (const [k, v] of Object.entries(r)) console.log(`  ${k.padEnd(28)} ${v}`);
}
