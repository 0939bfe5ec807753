/**
 * Retrieval evaluation through the product's real path: every QA document is written as a
 * file, ingested by the ingestion service (extract → chunk → analyze → embed → write), and
 * every question is asked through the same ACL-filtered `retrieve` that the API uses, as an
 * ordinary viewer.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { SYSTEM_ACTOR, type Actor } from "../../policies/index.ts";
import type { RetrievalSettings } from "../config.ts";
import type { Kb } from "../services/container.ts";
import { aggregateMetrics, type RankedResult, type RankingMetrics } from "./metrics.ts";
import type { QaDataset, QaDocument } from "./qa-formats.ts";

export interface EvalReport extends RankingMetrics {
  /**
   * The same measures at the level of files: a hit when any passage of the expected file is
   * ranked (QA sets: the file is the article title or the corpus file; a knowledge base's own
   * documents are files already, so in place both levels are the same).
   */
  files: RankingMetrics;
  documents: number;
  chunks: number;
  mode: string;
  /** Fusion and candidate counts the questions ran with (KB_FUSION, KB_*_CANDIDATES or the eval's flags). */
  settings: RetrievalSettings;
  /** The reranker (KB_RERANK_MODEL), null without one; "<model> (failed to load: …)" when it did not load. */
  reranker: string | null;
  /** Questions the reranker re-scored, and its mean time on them. */
  reranked: number;
  rerankMsPerQuery: number | null;
  ingestSeconds: number;
  querySeconds: number;
  msPerQuery: number;
}

/**
 * Ingests QA documents through the ingestion service (each written as a text file titled by its
 * article) and returns a map from knowledge-base document id to QA document id.
 */
export async function ingestQaDocuments(
  kb: Kb,
  documents: readonly QaDocument[],
  onProgress?: (stage: string, done: number, total: number) => void,
): Promise<{ toQaId: Map<string, string>; seconds: number }> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-eval-"));
  try {
    const t0 = performance.now();
    const files = documents.map((d, i) => {
      const file = path.join(workDir, `${String(i).padStart(6, "0")}.txt`);
      fs.writeFileSync(file, d.text);
      return { source: file, path: file, title: d.title, qaId: d.id };
    });
    const submitted = await kb.ingest.submit(SYSTEM_ACTOR, files);
    const toQaId = new Map(submitted.documents.map((d, i) => [d.id, files[i]!.qaId]));
    const job = await kb.jobs.runHere(submitted.jobId, (done, total) => onProgress?.("ingest", done, total));
    if (!job) throw new Error("could not claim the eval ingest job");
    const failed = job.files.filter((f) => f.status === "failed");
    if (failed.length) throw new Error(`${failed.length} documents failed to ingest, e.g. ${failed[0]!.source}: ${failed[0]!.error}`);
    return { toQaId, seconds: (performance.now() - t0) / 1000 };
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

/** The ordinary viewer questions are asked as (created on first use). */
export async function evalAsker(kb: Kb): Promise<Actor> {
  if (!(await kb.accounts.listUsers()).some((u) => u.name === "eval")) await kb.accounts.createUser({ name: "eval", role: "viewer" });
  return kb.accounts.actorByName("eval");
}

/** Collects what the retriever ran with while questions are asked. */
function retrievalRecorder(kb: Kb) {
  let reranked = 0;
  let rerankMs = 0;
  return {
    add(r: { stages: string[]; rerankMs?: number }) {
      if (!r.stages.includes("rerank")) return;
      reranked++;
      rerankMs += r.rerankMs ?? 0;
    },
    report(): Pick<EvalReport, "mode" | "settings" | "reranker" | "reranked" | "rerankMsPerQuery"> {
      const s = kb.reranker.status();
      return {
        mode: kb.retriever.mode,
        settings: kb.retriever.settings,
        reranker: s.status === "off" ? null : s.status === "failed" ? `${s.model} (failed to load: ${s.error})` : s.model,
        reranked,
        rerankMsPerQuery: reranked ? rerankMs / reranked : null,
      };
    },
  };
}

export async function runRetrievalEval(
  kb: Kb,
  dataset: QaDataset,
  options: { limit?: number; onProgress?: (stage: string, done: number, total: number) => void } = {},
): Promise<EvalReport> {
  const { toQaId, seconds: ingestSeconds } = await ingestQaDocuments(kb, dataset.documents, options.onProgress);
  const asker = await evalAsker(kb);
  const questions = options.limit ? dataset.questions.slice(0, options.limit) : dataset.questions;
  const results: RankedResult[] = [];
  const fileResults: RankedResult[] = [];
  const fileOf = new Map(dataset.documents.map((d) => [d.id, d.title]));
  const recorder = retrievalRecorder(kb);
  const t1 = performance.now();
  for (const [i, q] of questions.entries()) {
    // Chunks, not documents, are retrieved: ask for enough to rank 10 distinct documents.
    const r = await kb.retriever.retrieve(asker, q.question, { topK: 30 });
    recorder.add(r);
    const { chunks } = r;
    const ranked = chunks.map((c) => toQaId.get(c.documentId) ?? c.documentId);
    results.push({ ranked, relevant: q.relevantDocumentIds });
    fileResults.push({ ranked: ranked.map((id) => fileOf.get(id) ?? id), relevant: q.relevantDocumentIds.map((id) => fileOf.get(id) ?? id) });
    if (i % 200 === 0) options.onProgress?.("query", i, questions.length);
  }
  const querySeconds = (performance.now() - t1) / 1000;
  return {
    ...aggregateMetrics(results),
    files: aggregateMetrics(fileResults),
    documents: dataset.documents.length,
    chunks: await kb.chunks.count(),
    ...recorder.report(),
    ingestSeconds,
    querySeconds,
    msPerQuery: (querySeconds * 1000) / Math.max(1, questions.length),
  };
}

/**
 * Retrieval measured on an existing knowledge base (a reviewed-feedback set, whose expected ids
 * are its documents): nothing is ingested; questions are asked as `asker`, through the same
 * ACL-filtered retrieval as the API.
 */
export async function runRetrievalEvalInPlace(
  kb: Kb,
  dataset: QaDataset,
  asker: Actor,
  options: { limit?: number; onProgress?: (stage: string, done: number, total: number) => void } = {},
): Promise<EvalReport> {
  const questions = options.limit ? dataset.questions.slice(0, options.limit) : dataset.questions;
  const results: RankedResult[] = [];
  const recorder = retrievalRecorder(kb);
  const t1 = performance.now();
  for (const [i, q] of questions.entries()) {
    const r = await kb.retriever.retrieve(asker, q.question, { topK: 30 });
    recorder.add(r);
    const { chunks } = r;
    results.push({ ranked: chunks.map((c) => c.documentId), relevant: q.relevantDocumentIds });
    if (i % 200 === 0) options.onProgress?.("query", i, questions.length);
  }
  const querySeconds = (performance.now() - t1) / 1000;
  const metrics = aggregateMetrics(results);
  return {
    ...metrics,
    files: metrics,
    documents: (await kb.documents.list(asker, { limit: 1, offset: 0 })).total,
    chunks: await kb.chunks.count(),
    ...recorder.report(),
    ingestSeconds: 0,
    querySeconds,
    msPerQuery: (querySeconds * 1000) / Math.max(1, questions.length),
  };
}
