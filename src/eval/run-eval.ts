/**
 * Retrieval evaluation through the product's real path: every QA document is written as a
 * file, ingested by the ingestion service (extract → chunk → analyze → embed → write), and
 * every question is asked through the same ACL-filtered `retrieve` that the API uses, as an
 * ordinary viewer.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { SYSTEM_ACTOR } from "../../policies/index.ts";
import type { Kb } from "../services/container.ts";
import { aggregateMetrics, type RankedResult, type RankingMetrics } from "./metrics.ts";
import type { QaDataset } from "./qa-formats.ts";

export interface EvalReport extends RankingMetrics {
  documents: number;
  chunks: number;
  mode: string;
  ingestSeconds: number;
  querySeconds: number;
  msPerQuery: number;
}

export async function runRetrievalEval(
  kb: Kb,
  dataset: QaDataset,
  options: { limit?: number; onProgress?: (stage: string, done: number, total: number) => void } = {},
): Promise<EvalReport> {
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-eval-"));
  try {
    const t0 = performance.now();
    const files = dataset.documents.map((d, i) => {
      const file = path.join(workDir, `${String(i).padStart(6, "0")}.txt`);
      fs.writeFileSync(file, d.text);
      return { source: file, path: file, title: d.title, qaId: d.id };
    });
    const { jobId, documents } = kb.ingest.submit(SYSTEM_ACTOR, files);
    const toQaId = new Map(documents.map((d, i) => [d.id, files[i]!.qaId]));
    if (!kb.jobsRepo.claimJob(jobId, "eval", 60_000)) throw new Error("could not claim the eval ingest job");
    const job = await kb.ingest.runJob(jobId, "eval", (done, total) => options.onProgress?.("ingest", done, total));
    const failed = job.files.filter((f) => f.status === "failed");
    if (failed.length) throw new Error(`${failed.length} documents failed to ingest, e.g. ${failed[0]!.source}: ${failed[0]!.error}`);
    const ingestSeconds = (performance.now() - t0) / 1000;

    if (!kb.accounts.listUsers().some((u) => u.name === "eval")) kb.accounts.createUser({ name: "eval", role: "viewer" });
    const asker = kb.accounts.actorByName("eval");
    const questions = options.limit ? dataset.questions.slice(0, options.limit) : dataset.questions;
    const results: RankedResult[] = [];
    const t1 = performance.now();
    for (const [i, q] of questions.entries()) {
      // Chunks, not documents, are retrieved: ask for enough to rank 10 distinct documents.
      const { chunks } = await kb.retriever.retrieve(asker, q.question, { topK: 30 });
      const ranked = chunks.map((c) => toQaId.get(c.documentId) ?? c.documentId);
      results.push({ ranked, relevant: q.relevantDocumentIds });
      if (i % 200 === 0) options.onProgress?.("query", i, questions.length);
    }
    const querySeconds = (performance.now() - t1) / 1000;
    return {
      ...aggregateMetrics(results),
      documents: dataset.documents.length,
      chunks: await kb.chunks.count(),
      mode: kb.retriever.mode,
      ingestSeconds,
      querySeconds,
      msPerQuery: (querySeconds * 1000) / Math.max(1, questions.length),
    };
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}
