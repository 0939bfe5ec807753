/** A job as users and the CLI see it: progress, rate, ETA, phase, counts and its files. */
import type { JobFileRow, JobRow, JobStore } from "../../stores/metadata.ts";

export interface JobView {
  id: string;
  kind: string;
  status: JobRow["status"];
  progress: { done: number; total: number };
  /** Files (documents, for re-embed jobs) finished per second, recently; null before the first one. */
  throughput: number | null;
  /** Seconds left at that rate; null when unknown, 0 when finished. */
  etaSeconds: number | null;
  /** What a multi-phase job is doing now (planning, copying, catching up, switching…). */
  phase?: string;
  /** File counts per status. */
  counts: Record<string, number>;
  /** What the job was asked to do (folder, filter, model…). */
  params: Record<string, unknown>;
  createdBy: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  error?: string;
  files: { source: string; documentId?: string; action?: JobFileRow["action"]; status: JobFileRow["status"]; error?: string; errorCode?: string }[];
}

export async function jobView(jobs: JobStore, jobId: string, options: { files?: boolean } = {}): Promise<JobView | undefined> {
  const job = await jobs.byId(jobId);
  if (!job) return undefined;
  const { throughput, etaSeconds } = await rate(jobs, job);
  const { password: _password, ...params } = job.params as Record<string, unknown>;
  return {
    id: job.id,
    kind: job.kind,
    status: job.status,
    progress: { done: job.done, total: job.total },
    throughput,
    etaSeconds,
    ...(job.phase ? { phase: job.phase } : {}),
    counts: await jobs.counts(jobId),
    params,
    createdBy: job.createdBy,
    createdAt: job.createdAt,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
    ...(job.error ? { error: job.error } : {}),
    files:
      options.files === false
        ? []
        : (await jobs.files(jobId)).map((f) => ({
            source: f.source,
            ...(f.documentId ? { documentId: f.documentId } : {}),
            ...(f.action !== "ingest" ? { action: f.action } : {}),
            status: f.status,
            ...(f.error ? { error: f.error } : {}),
            ...(f.errorCode ? { errorCode: f.errorCode } : {}),
          })),
  };
}

/** Files per second over the last minute (running), or over the whole run (finished); ETA from it. */
async function rate(jobs: JobStore, job: JobRow): Promise<{ throughput: number | null; etaSeconds: number | null }> {
  if (!job.startedAt) return { throughput: null, etaSeconds: null };
  const started = Date.parse(job.startedAt);
  if (job.status !== "running") {
    const end = job.finishedAt ? Date.parse(job.finishedAt) : Date.now();
    const secs = Math.max((end - started) / 1000, 0.001);
    return { throughput: job.done > 0 ? round2(job.done / secs) : null, etaSeconds: job.status === "queued" ? null : 0 };
  }
  const now = Date.now();
  const windowStart = Math.max(started, now - 60_000);
  const secs = Math.max((now - windowStart) / 1000, 0.001);
  const recent = await jobs.finishedSince(job.id, new Date(windowStart).toISOString());
  if (recent === 0) return { throughput: null, etaSeconds: null };
  const throughput = recent / secs;
  return { throughput: round2(throughput), etaSeconds: Math.round(Math.max(job.total - job.done, 0) / throughput) };
}


function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
