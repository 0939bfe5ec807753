/**
 * GET /metrics against the real server after a scripted workload (searches, a question, an
 * ingest job through the API, a 404, a 429): the scrape is parsed with a Prometheus text-format
 * parser and its counters must equal what was done. Also: who may scrape, and the loopback port.
 */
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMetricsServer, type RunningServer } from "../src/http/server.ts";
import { openTestKb, startTestServer, waitForJob, type TestServer } from "./helpers/kb.ts";

const METRICS_TOKEN = "scraper-token-0123456789";

type Family = { name: string; type: string; metrics: { labels?: Record<string, string>; value?: string; count?: string; buckets?: Record<string, string> }[] };

function parse(text: string): Map<string, Family> {
  return new Map((parsePrometheusTextFormat(text) as Family[]).map((f) => [f.name, f]));
}

/** A counter's or gauge's value for exactly these labels (0 when absent). */
function value(m: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const f = m.get(name);
  const s = f?.metrics.find((x) => Object.entries(labels).every(([k, v]) => x.labels?.[k] === v));
  return s ? Number(s.value) : 0;
}

/**
 * A labelled histogram's `_count` for exactly these labels, read from the text (the parser folds
 * a histogram's label sets into one, so it cannot answer this); 0 when absent.
 */
function histogramCount(text: string, name: string, labels: Record<string, string>): number {
  for (const line of text.split("\n")) {
    const m = new RegExp(`^${name}_count\\{(.*)\\} (\\S+)$`).exec(line);
    if (!m) continue;
    const got = Object.fromEntries([...m[1]!.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.keys(got).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[2]);
  }
  return 0;
}

const json = (body: unknown) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

let t: TestServer;
let admin: string;
let viewer: string;

beforeAll(async () => {
  // anonRateLimitPerMinute 3: the fourth /readyz in a row is the workload's 429.
  t = await startTestServer({ metricsToken: METRICS_TOKEN, anonRateLimitPerMinute: 3 });
  admin = await t.tokenFor("root", "admin");
  viewer = await t.tokenFor("kim", "viewer");
});
afterAll(async () => t?.close());

describe("/metrics after a scripted workload", () => {
  it("counts exactly what was done: requests by route pattern and status, retrievals, ingestion, errors by code", async () => {
    const fd = new FormData();
    fd.append("file", new Blob(["# 휴가 규정\n\n1년 이상 근무한 직원에게는 매년 15일의 연차 휴가가 부여됩니다.\n"]), "leave.md");
    fd.append("file", new Blob(["VPN setup\n\nInstall the VPN client from the software center. If the connection drops, use a wired connection.\n"]), "vpn.txt");
    const up = await t.fetchAs(admin, "/api/v1/documents", { method: "POST", body: fd });
    expect(up.status).toBe(202);
    const { jobId } = (await up.json()) as { jobId: string };
    const job = await waitForJob(t, admin, jobId);
    expect(job.status).toBe("succeeded");
    const polls = await countJobPolls();

    for (const q of ["연차 휴가", "VPN client", "wired connection"]) expect((await t.fetchAs(viewer, "/api/v1/search", json({ query: q }))).status).toBe(200);
    expect((await t.fetchAs(viewer, "/api/v1/ask", json({ question: "VPN이 끊기면 어떻게 하나요?" }))).status).toBe(200);
    const missing = await t.fetchAs(viewer, "/api/v1/documents/doc_does_not_exist");
    expect(missing.status).toBe(404);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await t.fetchAs(null, "/readyz")).status);
    expect(statuses).toEqual([200, 200, 200, 429]);

    const res = await t.fetchAs(METRICS_TOKEN, "/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/plain");
    const text = await res.text();
    const m = parse(text);

    const http = "kb_http_requests_total";
    const done: [string, string, string, number][] = [
      ["POST", "/api/v1/search", "200", 3],
      ["POST", "/api/v1/ask", "200", 1],
      ["POST", "/api/v1/documents", "202", 1],
      ["GET", "/api/v1/jobs/:id", "200", polls],
      ["GET", "/api/v1/documents/:id", "404", 1],
      ["GET", "/readyz", "200", 3],
      ["GET", "/readyz", "429", 1],
    ];
    for (const [method, route, status, n] of done) {
      expect(value(m, http, { method, route, status }), `${method} ${route} ${status}`).toBe(n);
      expect(histogramCount(text, "kb_http_request_duration_seconds", { method, route, status }), `${method} ${route} ${status} histogram`).toBe(n);
    }
    expect(m.get("kb_http_request_duration_seconds")?.type).toBe("HISTOGRAM");
    // Route patterns only: no raw path with an id becomes a label.
    for (const s of m.get(http)!.metrics) expect(s.labels?.route ?? "").not.toMatch(/doc_does_not_exist|job_/);
    expect(text).not.toContain(jobId);
    expect(text).not.toContain("doc_does_not_exist");

    expect(value(m, "kb_http_errors_total", { code: "not_found", status: "404" })).toBe(1);
    expect(value(m, "kb_http_errors_total", { code: "rate_limited", status: "429" })).toBe(1);

    // Three searches and one question, each one retrieval, in the server's mode.
    expect(value(m, "kb_retrievals_total", { mode: "lexical" })).toBe(4);
    expect(histogramCount(text, "kb_retrieval_duration_seconds", { mode: "lexical" })).toBe(4);

    const docs = (await (await t.fetchAs(admin, "/api/v1/documents")).json()) as { items: { pageCount: number; chunkCount: number }[] };
    expect(docs.items).toHaveLength(2);
    expect(value(m, "kb_ingest_files_total")).toBe(2);
    expect(value(m, "kb_ingest_pages_total")).toBe(docs.items.reduce((n, d) => n + d.pageCount, 0));
    expect(value(m, "kb_ingest_chunks_total")).toBe(docs.items.reduce((n, d) => n + d.chunkCount, 0));
    expect(value(m, "kb_ingest_chunks_total")).toBeGreaterThan(0);
    expect(value(m, "kb_ocr_pages_total")).toBe(0);

    // Nothing queued now; process metrics from the default collectors.
    expect(m.get("kb_jobs")?.metrics ?? []).toEqual([]);
    expect(m.has("process_cpu_user_seconds_total")).toBe(true);
    expect(m.has("nodejs_heap_size_used_bytes")).toBe(true);
  });

  /** How many GET /api/v1/jobs/:id the workload's waitForJob made: read from the scrape before the rest. */
  async function countJobPolls(): Promise<number> {
    const m = parse(await (await t.fetchAs(METRICS_TOKEN, "/metrics")).text());
    return value(m, "kb_http_requests_total", { method: "GET", route: "/api/v1/jobs/:id", status: "200" });
  }
});

describe("who may scrape", () => {
  let s: TestServer;
  let sAdmin: string;
  let sViewer: string;
  beforeAll(async () => {
    s = await startTestServer({ metricsToken: METRICS_TOKEN });
    sAdmin = await s.tokenFor("root", "admin");
    sViewer = await s.tokenFor("kim", "viewer");
  });
  afterAll(async () => s?.close());

  it("401 without a token, 403 for a viewer, 200 for an admin's token and for KB_METRICS_TOKEN; never the web app", async () => {
    const none = await s.fetchAs(null, "/metrics");
    expect(none.status).toBe(401);
    expect(none.headers.get("content-type")).toContain("application/json");
    expect((await s.fetchAs("not-a-token", "/metrics")).status).toBe(401);
    expect((await s.fetchAs(sViewer, "/metrics")).status).toBe(403);
    const asAdmin = await s.fetchAs(sAdmin, "/metrics");
    expect(asAdmin.status).toBe(200);
    expect(await asAdmin.text()).toContain("kb_http_request_duration_seconds");
    expect((await s.fetchAs(METRICS_TOKEN, "/metrics")).status).toBe(200);
  });

  it("is served without a token on the metrics port, bound to 127.0.0.1, and nothing else is", async () => {
    let port: RunningServer | undefined;
    try {
      port = await startMetricsServer(t.kb, 0);
      expect(port.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${port.url}/metrics`);
      expect(res.status).toBe(200);
      expect(parse(await res.text()).has("kb_http_request_duration_seconds")).toBe(true);
      expect((await fetch(`${port.url}/api/v1/documents`)).status).toBe(404);
    } finally {
      await port?.close();
    }
  });
});

describe("job queue gauges", () => {
  it("show queued jobs per kind and the oldest one's age, read from the jobs store at scrape", async () => {
    const k = await openTestKb(); // no worker: the job stays queued
    try {
      await k.kb.jobs.submitReindex((await import("../policies/index.ts")).SYSTEM_ACTOR);
      const m = parse((await k.kb.metrics.render()).body);
      expect(value(m, "kb_jobs", { kind: "reindex", status: "queued" })).toBe(1);
      expect(value(m, "kb_jobs_oldest_queued_age_seconds", { kind: "reindex" })).toBeGreaterThanOrEqual(0);
      expect(m.get("kb_jobs_oldest_queued_age_seconds")!.metrics).toHaveLength(1);
    } finally {
      await k.close();
    }
  });
});
