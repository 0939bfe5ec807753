/**
 * `npm run bench:scale -- [--chunks 100000] [--queries 200] [--index hnsw|none] [--ef N] [--refine N] [--exact-below SHARE] [--recall 0] [--context 0] [--rebuild]`
 *
 * Retrieval at scale, through the product's own ChunkStore and Retriever (issue 14, item 1).
 *
 * The table: N chunks recombined from the KorQuAD 1.0 dev and SQuAD 1.1 dev articles
 * (../shared/data): a document is an article under a numbered title, its ten chunks each 1–3
 * consecutive sentences of one paragraph followed by 2–3 sentences drawn from elsewhere in the
 * article (so chunks of a document share vocabulary, and chunk texts rarely repeat: the first
 * version, windows of consecutive sentences only, repeated each chunk text ~18 times at 1M
 * chunks, 55k distinct texts, and HNSW's recall suffers on such near-duplicates — see
 * docs/benchmarks.md), with the product's own analysis in the `analyzed` column. Access: 50 groups of Zipf-like sizes; each
 * document allows 1–3 groups (10% also `group:everyone`), 2% deny one group, classification
 * 0/1/2/3 at 10/50/30/10%. Vectors: 384-d "hashed TF-IDF projections" — each analyzed term adds a
 * fixed sparse ±1 pattern (16 of 384 dimensions, from a hash of the term) weighted by its IDF,
 * then L2 normalization — so chunks sharing rare terms lie close, as with a real embedder, and
 * IVF/PQ see clustered data (random vectors would misrepresent both). Queries: KorQuAD and
 * SQuAD questions, embedded the same way (query embedding is excluded from the timings; it is
 * microseconds here, and a real model's cost is reported by bench:retrieval).
 *
 * Viewers: admin (no filter), a broad viewer (the 8 largest groups, clearance 2) and a narrow
 * viewer (one small group, clearance 1). For each, p50/p95/p99 of lexical, vector and hybrid
 * retrieval through `Retriever.retrieve` (vector: the store's vector search with the viewer's
 * compiled filter), and recall@10 of the vector search as configured against exact search
 * (`bypassVectorIndex`) under the same filter.
 *
 * Each row carries a document context in its `context` column (chunk layout 4: a made-up
 * organisation, period, document number and folder, 45–78 characters, as ingestion stores what
 * the embedding model saw); `--context 0` leaves it empty, as rows written before layout 4 are.
 * Only the column: the analyzed terms and vectors are the same either way.
 *
 * The table is cached in BENCH_SCALE_DIR (default <tmp>/kb-bench-scale-v2-<N>) and reused unless
 * --rebuild; building 1M chunks takes minutes.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { SYSTEM_ACTOR, type Actor } from "../policies/index.ts";
import { analyzeForIndex, analyzeForQuery } from "../src/domain/analysis/index.ts";
import type { EmbeddingProvider } from "../src/models/embeddings.ts";
import { Retriever } from "../src/services/retrieval.ts";
import { documentReadRule } from "../policies/index.ts";
import { ChunkStore, DEFAULT_VECTOR_INDEX, type ChunkRow } from "../src/stores/lance/chunk-store.ts";
import { compileAccessRule } from "../src/stores/lance/filter.ts";
// A small seeded generator: the same table and queries on every run.
import { seededRandom as rng } from "../test/helpers/seeded-random.ts";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const N = Number(arg("chunks", "100000"));
const QUERIES = Number(arg("queries", "200"));
const REBUILD = process.argv.includes("--rebuild");
/** `none`: exact vector search (no index; an index the table has is bypassed); `hnsw`: the product's index, built here if missing. */
const INDEX = arg("index", "hnsw");
const EF = Number(arg("ef", String(DEFAULT_VECTOR_INDEX.ef)));
const REFINE = Number(arg("refine", String(DEFAULT_VECTOR_INDEX.refine ?? 0)));
const EXACT_BELOW = Number(arg("exact-below", String(DEFAULT_VECTOR_INDEX.exactBelowShare)));
/** `--recall 0` skips the recall measurement (its exact searches take minutes at 1M chunks). */
const RECALL = arg("recall", "1") !== "0";
const WITH_CONTEXT = arg("context", "1") !== "0";
const ORGS_KO = ["한빛전자 주식회사", "새솔물산 주식회사", "누리건설", "푸른에너지", "다온식품", "가람물류"];
const ORGS_EN = ["Kestrel Bank, Busan branch", "Northwind Logistics Ltd.", "Harbor Point Energy Corp.", "Bluefin Foods", "Summit Works"];
/** A document's context as ingestion stores it: organisation, period, document number, folder words. */
function contextOf(d: number, korean: boolean): string {
  const year = 2015 + (d % 10);
  const quarter = 1 + (d % 4);
  return korean
    ? `${ORGS_KO[d % ORGS_KO.length]}\n${year}년 ${quarter}분기 분기보고서\n문서번호: DOC-${year}-${d}\nshare ${d % 20}`
    : `${ORGS_EN[d % ORGS_EN.length]}\nQuarterly report Q${quarter} ${year}\nNo. DOC-${year}-${d}\nshare ${d % 20}`;
}
const DIM = 384;
const MODEL = "hashed-tfidf-384";
const SHARED = path.resolve(import.meta.dirname, "../../shared/data");
const DIR = process.env.BENCH_SCALE_DIR ?? path.join(os.tmpdir(), `kb-bench-scale-v2-${N}`);


function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

interface Article {
  title: string;
  /** Sentences of each paragraph. */
  paragraphs: string[][];
}

function loadCorpus(): { ko: Article[]; en: Article[]; questions: string[] } {
  const questions: string[] = [];
  const read = (file: string): Article[] => {
    const json = JSON.parse(fs.readFileSync(file, "utf8")) as { data: { title: string; paragraphs: { context: string; qas: { question: string }[] }[] }[] };
    return json.data.map((a) => ({
      title: a.title.replaceAll("_", " "),
      paragraphs: a.paragraphs.map((p) => {
        for (const q of p.qas) questions.push(q.question);
        return p.context.split(/(?<=[.!?。])\s+|\n+/).filter((x) => x.trim().length > 20);
      }).filter((p) => p.length > 0),
    }));
  };
  const ko = read(path.join(SHARED, "korquad1_dev", "KorQuAD_v1.0_dev.json"));
  const en = read(path.join(SHARED, "squad11_dev", "dev-v1.1.json"));
  return { ko, en, questions };
}

/** Sparse random projection of IDF-weighted hashed terms (see the header). */
class HashedTfIdf {
  constructor(private readonly idf: (term: string) => number) {}
  embed(terms: string[]): Float32Array {
    const v = new Float32Array(DIM);
    const counts = new Map<string, number>();
    for (const t of terms) counts.set(t, (counts.get(t) ?? 0) + 1);
    for (const [t, c] of counts) {
      const w = (1 + Math.log(c)) * this.idf(t);
      let h = fnv(t);
      for (let k = 0; k < 16; k++) {
        h = Math.imul(h ^ (h >>> 13), 0x5bd1e995) >>> 0;
        v[h % DIM]! += (h & 0x80000000 ? -1 : 1) * w;
      }
    }
    let n = 0;
    for (const x of v) n += x * x;
    n = Math.sqrt(n) || 1;
    for (let i = 0; i < DIM; i++) v[i]! /= n;
    return v;
  }
}

const GROUPS = 50;
const groupOf = (r: () => number) => `group:g${Math.min(GROUPS - 1, Math.floor(GROUPS * Math.pow(r(), 2.2)))}`; // Zipf-like: g0 biggest

async function build(corpus: ReturnType<typeof loadCorpus>, embedder: HashedTfIdf): Promise<void> {
  fs.rmSync(DIR, { recursive: true, force: true });
  const store = await ChunkStore.open(DIR, { model: MODEL, dimension: DIM });
  const r = rng(42);
  const started = performance.now();
  let batch: { documentId: string; rows: ChunkRow[] }[] = [];
  let rowsInBatch = 0;
  const distinctTexts = new Set<string>();
  const docs = Math.ceil(N / 10);
  for (let d = 0; d < docs; d++) {
    const id = `doc_${String(d).padStart(9, "0")}0123456789abcdef`;
    // A document is one article (its title, ten passages of consecutive sentences from its
    // paragraphs), so chunks of a document share vocabulary, as real documents' chunks do.
    const korean = r() < 0.5;
    const articles = korean ? corpus.ko : corpus.en;
    const article = articles[Math.floor(r() * articles.length)]!;
    const allow = new Set<string>();
    const n = 1 + Math.floor(r() * 3);
    while (allow.size < n) allow.add(groupOf(r));
    if (r() < 0.1) allow.add("group:everyone");
    const deny = r() < 0.02 ? [groupOf(r)] : [];
    const c = r();
    const classification = c < 0.1 ? 0 : c < 0.6 ? 1 : c < 0.9 ? 2 : 3;
    const title = `${article.title} (${d})`;
    const rows: ChunkRow[] = [];
    for (let k = 0; k < 10 && d * 10 + k < N; k++) {
      const para = article.paragraphs[Math.floor(r() * article.paragraphs.length)]!;
      const start = Math.floor(r() * para.length);
      const sentences = Array.from({ length: Math.min(para.length, 1 + Math.floor(r() * 3)) }, (_, i) => para[(start + i) % para.length]!);
      for (let extra = 2 + Math.floor(r() * 2); extra > 0; extra--) {
        const other = article.paragraphs[Math.floor(r() * article.paragraphs.length)]!;
        sentences.push(other[Math.floor(r() * other.length)]!);
      }
      const text = sentences.join(" ");
      distinctTexts.add(text);
      const analyzed = analyzeForIndex(`${title}\n${text}`);
      rows.push({
        chunkId: `${id}:1:${k}`,
        documentId: id,
        documentVersion: 1,
        ordinal: k,
        title,
        source: `/share/${d % 20}/${d}.txt`,
        pageStart: 1 + k,
        pageEnd: 1 + k,
        headings: "",
        text,
        analyzed,
        allow: [...allow].sort(),
        deny,
        classification,
        tags: [],
        versionAt: "2026-01-01T00:00:00.000Z",
        context: WITH_CONTEXT ? contextOf(d, korean) : null,
        vector: embedder.embed(analyzed.split(" ")),
      } as ChunkRow);
    }
    batch.push({ documentId: id, rows });
    rowsInBatch += rows.length;
    if (rowsInBatch >= 20_000 || d === docs - 1) {
      await store.replaceDocuments(batch);
      batch = [];
      rowsInBatch = 0;
      process.stderr.write(`\r  built ${Math.min(N, (d + 1) * 10)} / ${N} chunks (${((performance.now() - started) / 1000).toFixed(0)} s)`);
    }
  }
  const loaded = performance.now();
  await store.optimize(new Date());
  const indexed = performance.now();
  process.stderr.write(`\n  load ${((loaded - started) / 1000).toFixed(0)} s, indexes + compaction ${((indexed - loaded) / 1000).toFixed(0)} s\n`);
  fs.writeFileSync(path.join(DIR, "bench-built.json"), JSON.stringify({ chunks: N, distinctTexts: distinctTexts.size, loadS: (loaded - started) / 1000, indexS: (indexed - loaded) / 1000 }));
  store.close();
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

const corpus = loadCorpus();
// IDF from a sample of the sentences (what a real model's vocabulary weighting approximates).
const df = new Map<string, number>();
const sample = [...corpus.ko, ...corpus.en].flatMap((a) => a.paragraphs.flat());
for (const s of sample) for (const t of new Set(analyzeForIndex(s).split(" "))) df.set(t, (df.get(t) ?? 0) + 1);
const idf = (t: string) => Math.log(1 + sample.length / (1 + (df.get(t) ?? 0)));
const hashed = new HashedTfIdf(idf);

if (REBUILD || !fs.existsSync(path.join(DIR, "bench-built.json"))) await build(corpus, hashed);
const built = JSON.parse(fs.readFileSync(path.join(DIR, "bench-built.json"), "utf8")) as { loadS: number; indexS: number; distinctTexts?: number };

const store = await ChunkStore.open(DIR, { model: MODEL, dimension: DIM }, { vectorIndex: { minRows: INDEX === "none" ? 0 : 1, ef: EF, exactBelowShare: EXACT_BELOW, refine: REFINE } });
let indexBuild = "";
if (INDEX !== "none" && !(await store.describeIndexes()).vector) {
  const t0 = performance.now();
  await store.ensureVectorIndex();
  indexBuild = ` (built now in ${((performance.now() - t0) / 1000).toFixed(0)} s)`;
}
const embedder: EmbeddingProvider = {
  modelId: MODEL,
  dimension: DIM,
  embedQueries: async (texts) => texts.map((t) => hashed.embed(analyzeForQuery(t).split(" "))),
  embedPassages: async (texts) => texts.map((t) => hashed.embed(analyzeForIndex(t).split(" "))),
  close: async () => {},
};
const lexical = new Retriever(store, () => null);
const hybrid = new Retriever(store, () => embedder);

const viewer = (name: string, groups: string[], clearance: number): Actor => ({ id: name, name, role: "viewer", groups, clearance });
const actors: [string, Actor][] = [
  ["admin", SYSTEM_ACTOR],
  ["broad viewer (8 largest groups, clearance 2)", viewer("broad", Array.from({ length: 8 }, (_, i) => `g${i}`), 2)],
  ["narrow viewer (1 small group, clearance 1)", viewer("narrow", ["g37"], 1)],
];
const r = rng(7);
const questions = Array.from({ length: QUERIES }, () => corpus.questions[Math.floor(r() * corpus.questions.length)]!);
const rows = await store.count();
const indices = await store.describeIndexes();
console.log(`${rows} chunks (${built.distinctTexts ?? "?"} distinct texts) in ${DIR} (load ${built.loadS.toFixed(0)} s, indexes ${built.indexS.toFixed(0)} s); vector index: ${INDEX === "none" ? "none (exact search)" : `${indices.vector}${indexBuild}, ef ${EF}, refine ${REFINE || "off"}, exact below ${(EXACT_BELOW * 100).toFixed(1)}% readable`}; ${QUERIES} queries; load average ${os.loadavg()[0]!.toFixed(1)}\n`);
console.log("| viewer | readable | lexical p50 / p95 / p99 | vector p50 / p95 / p99 | hybrid p50 / p95 / p99 | vector recall@10 vs exact |");
console.log("|---|---|---|---|---|---|");
for (const [label, actor] of actors) {
  const filter = compileAccessRule(documentReadRule(actor));
  const readable = filter ? await store.count(filter) : rows;
  const time = async (fn: (q: string) => Promise<unknown>) => {
    for (const q of questions.slice(0, 5)) await fn(q); // warm-up
    const t: number[] = [];
    for (const q of questions) {
      const t0 = performance.now();
      await fn(q);
      t.push(performance.now() - t0);
    }
    return `${pct(t, 50).toFixed(1)} / ${pct(t, 95).toFixed(1)} / ${pct(t, 99).toFixed(1)} ms`;
  };
  const vectors = await embedder.embedQueries(questions);
  let qi = 0;
  const lex = await time((q) => lexical.retrieve(actor, q, { topK: 10 }));
  const vec = await time(() => store.searchVector(vectors[qi++ % vectors.length]!, filter, 30));
  const hyb = await time((q) => hybrid.retrieve(actor, q, { topK: 10 }));
  let hit = 0;
  let total = 0;
  for (const v of RECALL ? vectors : []) {
    const exact = new Set((await store.searchVector(v, filter, 10, { exact: true })).map((h) => h.chunkId));
    const approx = (await store.searchVector(v, filter, 10)).map((h) => h.chunkId);
    hit += approx.filter((id) => exact.has(id)).length;
    total += exact.size;
  }
  console.log(`| ${label} | ${((100 * readable) / rows).toFixed(1)}% | ${lex} | ${vec} | ${hyb} | ${total ? (hit / total).toFixed(3) : "n/a"} |`);
}
console.log(`\nRSS ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB; disk ${(dirSize(DIR) / 2 ** 20).toFixed(0)} MiB`);
store.close();

function dirSize(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n += fs.statSync(path.join(e.parentPath, e.name)).size;
  return n;
}
