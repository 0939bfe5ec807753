/**
 * npm run bench:retrieval — retrieval quality on KorQuAD 1.0 dev and SQuAD 1.1 dev through the
 * real ingest and search path (`kb eval`), each paragraph a document titled by its article.
 * Writes the figures into docs/benchmarks.md between the retrieval markers.
 * Needs ../shared/data (skips a dataset that is missing).
 *
 * With KB_RERANK_MODEL set (a reranker in KB_MODELS_DIR), each dataset gets a second row with the
 * reranker: its quality and its own time per query. Fusion and candidate counts come from
 * KB_FUSION and KB_*_CANDIDATES like the server's.
 *
 * With `--database postgres://…` (or BENCH_DATABASE_URL): the same on the SQLite and the
 * PostgreSQL metadata store side by side in one run (section "retrieval-stores"): one knowledge
 * base per store open at once, each dataset ingested into both (the order alternating), then every
 * question asked through the search use case (`kb.search.search`: authorize, ACL-filtered
 * retrieval, the audit event written to the metadata store, as /api/v1/search) on both stores
 * alternately, the first store alternating per question; the two rankings are compared question by
 * question. `--limit N`: the first N questions of each set only.
 */
import os from "node:os";
import { describeRetrievalSettings, loadConfig } from "../src/config.ts";
import { aggregateMetrics, type RankedResult } from "../src/eval/metrics.ts";
import { evalAsker, ingestQaDocuments, runRetrievalEval, type EvalReport } from "../src/eval/run-eval.ts";
import type { Kb } from "../src/services/container.ts";
import { openTempKb, sameScoresUpToTies, tableRowsOverQaDatasets, withTempKb, writeTableSection } from "./qa-datasets.ts";
import { benchDatabaseServer, describeServer, storesToRun, type StoreName } from "./stores.ts";

const server = benchDatabaseServer();
const limitArg = process.argv.indexOf("--limit");
const LIMIT = limitArg >= 0 ? Number(process.argv[limitArg + 1]) : undefined;
const f3 = (x: number) => x.toFixed(3);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

if (!server) {
  const configured = loadConfig(process.env);
  const f = (x: number) => x.toFixed(3);
  const row = (name: string, r: EvalReport) => {
    const retrieval = r.reranker ? `${r.mode} + rerank ${r.reranker} (top ${r.settings.rerankCandidates}: ${r.rerankMsPerQuery?.toFixed(1) ?? "–"} ms/query)` : r.mode;
    return `| ${name} | ${retrieval} | ${r.documents} | ${r.chunks} | ${r.questions} | ${f(r.recall1)} | ${f(r.recall5)} | ${f(r.recall10)} | ${f(r.mrr10)} | ${f(r.ndcg10)} | ${r.ingestSeconds.toFixed(0)} s | ${r.msPerQuery.toFixed(1)} ms |`;
  };
  const rows = await tableRowsOverQaDatasets(async (name, dataset, onProgress) => {
    const lines = [row(name, await withTempKb((kb) => runRetrievalEval(kb, dataset, { onProgress }), { rerankModel: undefined }))];
    if (configured.rerankModel) lines.push(row(name, await withTempKb((kb) => runRetrievalEval(kb, dataset, { onProgress }))));
    return lines.join("\n");
  });
  writeTableSection(
    "retrieval",
    [`Settings: ${describeRetrievalSettings(configured.retrieval, configured.rerankModel ?? null)}.`],
    ["dataset", "retrieval", "documents", "chunks", "questions", "R@1", "R@5", "R@10", "MRR@10", "nDCG@10", "ingest", "per query"],
    rows,
  );
} else {
  const stores = storesToRun(server);
  const load0 = os.loadavg()[0]!;
  const notes: string[] = [];
  let datasetIndex = 0;
  const rows = await tableRowsOverQaDatasets(async (name, dataset, onProgress) => {
    // Both stores open at once; the ingest order alternates per dataset.
    const order: StoreName[] = datasetIndex++ % 2 ? [...stores].reverse() : stores;
    const kbs = new Map<StoreName, Kb>();
    const closers: (() => Promise<void>)[] = [];
    try {
      for (const store of stores) {
        const { kb, close } = await openTempKb(store, server);
        kbs.set(store, kb);
        closers.push(close);
      }
      const ingest = new Map<StoreName, { toQaId: Map<string, string>; seconds: number }>();
      for (const store of order) ingest.set(store, await ingestQaDocuments(kbs.get(store)!, dataset.documents, (s, d, t) => onProgress(`${store} ${s}`, d, t)));
      const askers = new Map<StoreName, Awaited<ReturnType<typeof evalAsker>>>();
      for (const store of stores) askers.set(store, await evalAsker(kbs.get(store)!));
      const questions = LIMIT ? dataset.questions.slice(0, LIMIT) : dataset.questions;
      const results = new Map<StoreName, RankedResult[]>(stores.map((s) => [s, []]));
      const ms = new Map<StoreName, number[]>(stores.map((s) => [s, []]));
      const retrieveMs = new Map<StoreName, number[]>(stores.map((s) => [s, []]));
      let differ = 0;
      let differInScores = 0;
      for (const [i, q] of questions.entries()) {
        const ranked = new Map<StoreName, string[]>();
        for (const store of i % 2 ? [...stores].reverse() : stores) {
          const kb = kbs.get(store)!;
          const t0 = performance.now();
          const { chunks } = await kb.search.search(askers.get(store)!, q.question, { topK: 30 });
          ms.get(store)!.push(performance.now() - t0);
          // The same retrieval without the use case around it (no audit event): where the store's time goes.
          const t1 = performance.now();
          await kb.retriever.retrieve(askers.get(store)!, q.question, { topK: 30 });
          retrieveMs.get(store)!.push(performance.now() - t1);
          const toQaId = ingest.get(store)!.toQaId;
          ranked.set(store, chunks.map((c) => toQaId.get(c.documentId) ?? c.documentId));
        }
        for (const store of stores) results.get(store)!.push({ ranked: ranked.get(store)!, relevant: q.relevantDocumentIds });
        if (stores.some((s) => ranked.get(s)!.join("\n") !== ranked.get(stores[0]!)!.join("\n"))) {
          differ++;
          const [a, b] = stores.map((st) => ({ kb: kbs.get(st)!, toQaId: ingest.get(st)!.toQaId }));
          if (!(await sameScoresUpToTies(a!, b!, q.question, 30))) differInScores++;
        }
        if (i % 200 === 0) onProgress("query", i, questions.length);
      }
      const chunks = await kbs.get(stores[0]!)!.chunks.count();
      const mode = kbs.get(stores[0]!)!.retriever.mode;
      const sqliteMs = ms.get("SQLite")!;
      const ratios = stores.length > 1 ? ms.get("PostgreSQL")!.map((x, i) => x / sqliteMs[i]!) : [];
      const retrieveRatios = stores.length > 1 ? retrieveMs.get("PostgreSQL")!.map((x, i) => x / retrieveMs.get("SQLite")![i]!) : [];
      notes.push(
        `${name}: ${
          differ === 0
            ? "identical rankings"
            : differInScores === 0
              ? `identical scores for every question; ${differ} of ${questions.length} rankings list chunks of equal score in another order (ties are ordered by chunk id, and the ids differ between two knowledge bases; the scores, seen as an admin, are the same list on both stores)`
              : `**${differInScores} of ${questions.length} rankings differ in their scores**, ${differ - differInScores} more only in the order of equal scores`
        }, comparing the top 30 chunks (as QA documents) question by question. ` +
          `PostgreSQL/SQLite per-query time, median of per-question ratios: search use case ${ratios.length ? median(ratios).toFixed(2) : "n/a"}×, retrieval alone (no audit event) ${retrieveRatios.length ? median(retrieveRatios).toFixed(2) : "n/a"}×; ingest ${stores.map((s) => `${s} ${ingest.get(s)!.seconds.toFixed(1)} s`).join(", ")} (ingested in the order ${order.join(", ")}).`,
      );
      return stores
        .map((store) => {
          const m = aggregateMetrics(results.get(store)!);
          const t = ms.get(store)!;
          return `| ${name} | ${store} | ${mode} | ${dataset.documents.length} | ${chunks} | ${questions.length} | ${f3(m.recall1)} | ${f3(m.recall5)} | ${f3(m.recall10)} | ${f3(m.mrr10)} | ${f3(m.ndcg10)} | ${ingest.get(store)!.seconds.toFixed(1)} s | ${median(t).toFixed(1)} / ${pct(t, 95).toFixed(1)} ms | ${median(retrieveMs.get(store)!).toFixed(1)} / ${pct(retrieveMs.get(store)!, 95).toFixed(1)} ms |`;
        })
        .join("\n");
    } finally {
      for (const close of closers) await close();
    }
  });
  const load1 = os.loadavg()[0]!;
  writeTableSection(
    "retrieval-stores",
    [
      `SQLite and PostgreSQL metadata stores side by side, one run; ${await describeServer(server)} on the same machine (loopback), a fresh database per knowledge base. ` +
        `Both knowledge bases open at once; each dataset ingested into both; then every question through the search use case (\`kb.search.search\`: authorize, ACL-filtered retrieval, audit event written to the metadata store — what /api/v1/search does, without HTTP) and once more through the retriever alone (\`kb.retriever.retrieve\`, no audit event), both stores alternately (which goes first alternates per question). ` +
        `${LIMIT ? `First ${LIMIT} questions of each set. ` : ""}1-minute load average ${load0.toFixed(1)} before, ${load1.toFixed(1)} after (2 cores shared with other work: compare the two stores' rows, not these times with other sections). Chunks live in LanceDB on both; only the metadata store differs.`,
      ...notes,
    ],
    ["dataset", "metadata store", "retrieval", "documents", "chunks", "questions", "R@1", "R@5", "R@10", "MRR@10", "nDCG@10", "ingest", "search use case p50 / p95", "retrieval alone p50 / p95"],
    rows,
    `npm run bench:retrieval -- --database postgres://…${LIMIT ? ` --limit ${LIMIT}` : ""}`,
  );
}
