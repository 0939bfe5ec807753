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
 *
 * With `--database postgres://…` (or BENCH_DATABASE_URL), instead: the same change through the
 * service (`kb.access.setAcl` / `kb.access.bulk`: authorize, LanceDB access columns, document rows
 * and audit in the metadata store) on a knowledge base per metadata store, SQLite and PostgreSQL,
 * both open at once, runs alternating; after each single change the user it grants must find the
 * document with their next search (`kb.search.search`), which they could not before (the bench
 * fails otherwise). `--docs N` documents (default 500), lexical (no embedding model).
 * Writes section "acl-stores" of docs/benchmarks.md.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { SYSTEM_ACTOR, type Actor } from "../policies/index.ts";
import type { Kb } from "../src/services/container.ts";
import { ChunkStore, type ChunkRow } from "../src/stores/lance/chunk-store.ts";
import { openTempKb } from "./qa-datasets.ts";
import { replaceSection } from "./report.ts";
import { benchDatabaseServer, describeServer, storesToRun, withoutDatabaseArg, type StoreName } from "./stores.ts";

const DATABASE_SERVER = benchDatabaseServer();
const { values } = parseArgs({
  args: withoutDatabaseArg(process.argv.slice(2)),
  options: {
    docs: { type: "string", default: "500" },
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

if (DATABASE_SERVER) {
  await serviceBench(DATABASE_SERVER);
  process.exit(0);
}

/** A unique searchable word per document (letters only, so the analyzer keeps it whole). */
function tokenOf(n: number): string {
  return `zq${[...n.toString(26)].map((c) => String.fromCharCode(97 + Number.parseInt(c, 26))).join("")}x`;
}

async function serviceBench(server: string): Promise<void> {
  const stores = storesToRun(server);
  const docsN = Number(values.docs);
  const src = fs.mkdtempSync(path.join(os.tmpdir(), "kb-bench-acl-docs-"));
  const files = Array.from({ length: docsN }, (_, n) => {
    const file = path.join(src, `doc${n}.txt`);
    const words = Array.from({ length: 60 }, (_, k) => WORDS[(n * 7 + k * 3) % WORDS.length]).join(" ");
    fs.writeFileSync(file, `Document ${n}\n\n${words} ${tokenOf(n)}.\n`);
    return { source: file, path: file };
  });
  const kbs = new Map<StoreName, { kb: Kb; close: () => Promise<void>; ids: string[]; users: Actor[] }>();
  try {
    for (const store of stores) {
      const { kb, close } = await openTempKb(store, server);
      const submitted = await kb.ingest.submit(SYSTEM_ACTOR, files);
      const job = await kb.jobs.runHere(submitted.jobId);
      if (!job || job.files.some((f) => f.status !== "succeeded")) throw new Error(`${store}: ingest did not finish`);
      // Nobody but a keeper may read anything, so each single change below grants something new.
      await kb.access.bulk(SYSTEM_ACTOR, { prefix: src }, { allow: ["user:keeper"], deny: [], classification: 0 });
      const users: Actor[] = [];
      for (let r = 0; r < RUNS; r++) {
        await kb.accounts.createUser({ name: `bench${r}`, role: "viewer" });
        users.push(await kb.accounts.actorByName(`bench${r}`));
      }
      kbs.set(store, { kb, close, ids: submitted.documents.map((d) => d.id), users });
    }
    const load0 = os.loadavg()[0]!;
    const single = new Map<StoreName, number[]>(stores.map((s) => [s, []]));
    const next = new Map<StoreName, number[]>(stores.map((s) => [s, []]));
    for (let r = 0; r < RUNS; r++) {
      const n = (r * 7919) % docsN;
      for (const store of r % 2 ? [...stores].reverse() : stores) {
        const { kb, ids, users } = kbs.get(store)!;
        const before = await kb.search.search(users[r]!, tokenOf(n), { topK: 10 });
        if (before.chunks.some((c) => c.documentId === ids[n])) throw new Error(`${store}: bench${r} found doc${n} before the change`);
        let t0 = performance.now();
        await kb.access.setAcl(SYSTEM_ACTOR, ids[n]!, { allow: [`user:bench${r}`] });
        single.get(store)!.push(ms(t0));
        t0 = performance.now();
        const hits = await kb.search.search(users[r]!, tokenOf(n), { topK: 10 });
        next.get(store)!.push(ms(t0));
        if (!hits.chunks.some((c) => c.documentId === ids[n])) throw new Error(`${store}: the search after the change did not find doc${n} for bench${r}`);
      }
    }
    const bulk = new Map<StoreName, { docs: number; ms: number }[]>(stores.map((s) => [s, []]));
    for (const [i, share] of [0.01, 0.1].entries()) {
      for (const store of i % 2 ? [...stores].reverse() : stores) {
        const { kb, ids } = kbs.get(store)!;
        const chosen = [...new Set(Array.from({ length: Math.max(1, Math.round(docsN * share)) }, (_, k) => ids[(k * 13) % docsN]!))];
        const t0 = performance.now();
        const result = await kb.access.bulk(SYSTEM_ACTOR, { ids: chosen }, { addAllow: [`group:bulk${i}`] });
        bulk.get(store)!.push({ docs: result.changed.length, ms: ms(t0) });
      }
    }
    const load1 = os.loadavg()[0]!;
    const median = (xs: number[]) => pct(xs, 50);
    const ratio = (m: Map<StoreName, number[]>) => median(m.get("PostgreSQL")!.map((x, i) => x / m.get("SQLite")![i]!));
    const rows = stores.map((store) => {
      const b = bulk.get(store)!;
      return `| ${store} | ${fmt(pct(single.get(store)!, 50))} / ${fmt(pct(single.get(store)!, 95))} ms | ${fmt(pct(next.get(store)!, 50))} / ${fmt(pct(next.get(store)!, 95))} ms | ${fmt(b[0]!.ms)} ms (${b[0]!.docs} docs) | ${fmt(b[1]!.ms)} ms (${b[1]!.docs} docs) |`;
    });
    const body = [
      "## ACL changes through the service: SQLite and PostgreSQL",
      "",
      `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, Node ${process.version}, command \`npm run bench:acl -- --database postgres://…${docsN !== 500 ? ` --docs ${docsN}` : ""}${RUNS !== 20 ? ` --runs ${RUNS}` : ""}\`; ` +
        `${await describeServer(server)} on the same machine (loopback), a fresh database per knowledge base. ${docsN} one-chunk text documents ingested into a knowledge base per metadata store (lexical, no embedding model), both open at once; ` +
        `${RUNS} single-document changes per store (\`kb.access.setAcl\`: authorize, the chunks' access columns rewritten in LanceDB, the document row and the audit event committed in the metadata store), the stores alternating (which goes first alternates per run), each followed by the granted user's search (\`kb.search.search\`, audited) that must find the document, which it could not before the change (the bench fails otherwise); ` +
        `then one bulk change (\`kb.access.bulk\` by ids, one LanceDB commit, one metadata transaction) over 1% and 10% of the documents per store. ` +
        `1-minute load average ${load0.toFixed(1)} before, ${load1.toFixed(1)} after (2 cores shared with other work).`,
      "",
      "| metadata store | 1 document p50 / p95 | next search p50 / p95 | bulk 1% | bulk 10% |",
      "|---|---|---|---|---|",
      ...rows,
      "",
      stores.length > 1
        ? `PostgreSQL against SQLite (median of per-run ratios): single change **${ratio(single).toFixed(2)}×**, next search ${ratio(next).toFixed(2)}×; bulk 1% ${(bulk.get("PostgreSQL")![0]!.ms / bulk.get("SQLite")![0]!.ms).toFixed(2)}×, bulk 10% ${(bulk.get("PostgreSQL")![1]!.ms / bulk.get("SQLite")![1]!.ms).toFixed(2)}× (one run each). Every change was seen by the next search on both stores.`
        : "",
    ].join("\n");
    console.log(body);
    if (stores.length > 1) replaceSection("docs/benchmarks.md", "acl-stores", body);
  } finally {
    for (const { close } of kbs.values()) await close();
    fs.rmSync(src, { recursive: true, force: true });
  }
}

console.log(`ACL update bench: ${CHUNKS_PER_DOC} chunks/document, ${DIM > 0 ? `${DIM}-d vectors` : "no vectors"}, ${RUNS} single-document runs, ${os.availableParallelism()} CPUs`);
for (const size of SIZES) {
  const r = await bench(size);
  console.log(`\n${size} chunks`);
  for (const [k, v] of Object.entries(r)) console.log(`  ${k.padEnd(28)} ${v}`);
}
