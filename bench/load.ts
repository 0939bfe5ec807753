/**
 * `npm run bench:load -- [--clients 1,10,50] [--seconds 30] [--soak-seconds 300] [--docs 2000]`
 *
 * Concurrent load on the real server (issue 14, item 7): `kb serve` in its own process on
 * loopback (lexical retrieval, extractive answers: what every install has), a KorQuAD corpus
 * ingested first (one document per paragraph of ../shared/data/korquad1_dev, or a generated
 * Korean corpus without it), and closed-loop clients, each with its own token, sending KorQuAD
 * questions to /api/v1/search and /api/v1/ask (streamed; timed to the end of the stream).
 * Reports per run: throughput, p50/p95/p99, errors by status (429/503 are deliberate refusals,
 * counted apart), and the server's RSS (sampled every second from /proc). The soak run keeps 50
 * clients on ask for `--soak-seconds` and prints the RSS curve.
 *
 * The load generator shares the machine with the server (2 cores here): throughput is what this
 * machine gives both, not the server alone.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { loadConfig } from "../src/config.ts";
import { openKb } from "../src/services/container.ts";

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
};
const CLIENTS = arg("clients", "1,10,50").split(",").map(Number);
const SECONDS = Number(arg("seconds", "30"));
const SOAK_S = Number(arg("soak-seconds", "300"));
const DOCS = Number(arg("docs", "2000"));
const ROOT = path.resolve(import.meta.dirname, "..");
const KB = path.join(ROOT, "bin", "kb.js");
const KORQUAD = path.resolve(ROOT, "../shared/data/korquad1_dev/KorQuAD_v1.0_dev.json");

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

function corpus(dir: string): string[] {
  const questions: string[] = [];
  fs.mkdirSync(dir, { recursive: true });
  if (fs.existsSync(KORQUAD)) {
    const json = JSON.parse(fs.readFileSync(KORQUAD, "utf8")) as { data: { title: string; paragraphs: { context: string; qas: { question: string }[] }[] }[] };
    let n = 0;
    for (const a of json.data)
      for (const p of a.paragraphs) {
        if (n >= DOCS) break;
        fs.writeFileSync(path.join(dir, `${String(n++).padStart(5, "0")}.txt`), `${a.title}\n\n${p.context}\n`);
        for (const q of p.qas) questions.push(q.question);
      }
  } else {
    console.log("(../shared/data/korquad1_dev absent: a generated Korean corpus is used)");
    const words = ["연차", "휴가", "급여", "보안", "출장", "교육", "계약", "복지", "평가", "규정", "신청", "승인"];
    for (let i = 0; i < DOCS; i++) {
      const w = (k: number) => words[(i * 7 + k * 5) % words.length]!;
      fs.writeFileSync(path.join(dir, `${i}.txt`), `${w(0)} ${w(1)} 안내 ${i}\n\n${w(0)} ${w(2)}은 ${w(3)} 절차에 따라 ${w(4)}합니다. 문서 번호 ${i}.\n`);
      questions.push(`${w(0)} ${w(2)}은 어떻게 하나요?`);
    }
  }
  return questions;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const rssMb = (pid: number) => {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
};

interface RunResult {
  ok: number[];
  statuses: Map<number | string, number>;
  rss: number[];
}

async function run(base: string, tokens: string[], questions: string[], route: "search" | "ask", clients: number, seconds: number, pid: number): Promise<RunResult> {
  const result: RunResult = { ok: [], statuses: new Map(), rss: [] };
  const end = Date.now() + seconds * 1000;
  const sampler = setInterval(() => result.rss.push(rssMb(pid)), 1000);
  let qi = 0;
  const client = async (c: number) => {
    while (Date.now() < end) {
      const q = questions[qi++ % questions.length]!;
      const t0 = performance.now();
      try {
        const res = await fetch(`${base}/api/v1/${route}`, {
          method: "POST",
          headers: { authorization: `Bearer ${tokens[c % tokens.length]}`, "content-type": "application/json", accept: route === "ask" ? "text/event-stream" : "application/json" },
          body: JSON.stringify(route === "search" ? { query: q, topK: 10 } : { question: q }),
        });
        await res.arrayBuffer(); // the whole answer, stream included
        if (res.status === 200) result.ok.push(performance.now() - t0);
        result.statuses.set(res.status, (result.statuses.get(res.status) ?? 0) + 1);
        if (res.status === 429 || res.status === 503) await new Promise((r) => setTimeout(r, 1000 * Number(res.headers.get("retry-after") ?? 1)));
      } catch (err) {
        const key = (err as Error).message.slice(0, 40);
        result.statuses.set(key, (result.statuses.get(key) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
  clearInterval(sampler);
  result.rss.push(rssMb(pid));
  return result;
}

const work = fs.mkdtempSync(path.join(os.tmpdir(), "kb-bench-load-"));
const dataDir = path.join(work, "data");
const env = { ...process.env, KB_DATA_DIR: dataDir, KB_EMBED_MODEL: "none", KB_LLM_MODEL: "", KB_LOG_LEVEL: "warn", KB_RATE_LIMIT_PER_MIN: "0" };
let server: ReturnType<typeof spawn> | null = null;
try {
  const questions = corpus(path.join(work, "docs"));
  // Corpus and one token per client, written through the product's services before the server starts.
  const kb = await openKb(loadConfig(env), { logger: pino({ level: "silent" }) });
  const tokens: string[] = [];
  try {
    const files = fs.readdirSync(path.join(work, "docs")).map((f) => path.join(work, "docs", f));
    const { jobId } = await kb.ingest.submit(SYSTEM_ACTOR, files.map((p) => ({ source: p, path: p, allow: ["group:everyone"] })));
    await kb.startWorker({ once: true });
    for (;;) {
      const v = await kb.jobs.view(jobId);
      if (v && !["queued", "running"].includes(v.status)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    for (let i = 0; i < Math.max(...CLIENTS, 50); i++) {
      await kb.accounts.createUser({ name: `load${i}` });
      tokens.push((await kb.accounts.createToken(`load${i}`)).token);
    }
  } finally {
    await kb.close();
  }
  const port = await freePort();
  server = spawn(process.execPath, [KB, "serve", "--port", String(port)], { env, stdio: "ignore" });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/readyz`)).status === 200) break;
    } catch {
      // not yet listening
    }
    if (i > 600) throw new Error("server not ready");
    await new Promise((r) => setTimeout(r, 100));
  }
  const pid = server.pid!;
  console.log(`${DOCS} documents, ${questions.length} questions; load average ${os.loadavg()[0]!.toFixed(1)}, ${os.cpus().length} cores; server RSS at start ${rssMb(pid).toFixed(0)} MB\n`);
  console.log("| route | clients | req/s | p50 / p95 / p99 | answered | refused (429/503) | errors | server RSS max |");
  console.log("|---|---|---|---|---|---|---|---|");
  for (const route of ["search", "ask"] as const)
    for (const clients of CLIENTS) {
      const r = await run(base, tokens, questions, route, clients, SECONDS, pid);
      const refused = (r.statuses.get(429) ?? 0) + (r.statuses.get(503) ?? 0);
      const errors = [...r.statuses.entries()].filter(([k]) => k !== 200 && k !== 429 && k !== 503);
      console.log(
        `| ${route} | ${clients} | ${(r.ok.length / SECONDS).toFixed(0)} | ${pct(r.ok, 50).toFixed(0)} / ${pct(r.ok, 95).toFixed(0)} / ${pct(r.ok, 99).toFixed(0)} ms | ${r.ok.length} | ${refused} | ${errors.map(([k, v]) => `${k}: ${v}`).join(", ") || 0} | ${Math.max(...r.rss).toFixed(0)} MB |`,
      );
    }
  if (SOAK_S > 0) {
    const r = await run(base, tokens, questions, "ask", 50, SOAK_S, pid);
    const step = Math.max(1, Math.floor(r.rss.length / 10));
    const errors = [...r.statuses.entries()].filter(([k]) => k !== 200 && k !== 429 && k !== 503);
    console.log(`\nsoak: ask, 50 clients, ${SOAK_S} s: ${(r.ok.length / SOAK_S).toFixed(0)} req/s, p95 ${pct(r.ok, 95).toFixed(0)} ms, refused ${(r.statuses.get(429) ?? 0) + (r.statuses.get(503) ?? 0)}, errors ${errors.length ? JSON.stringify(errors) : 0}`);
    console.log(`RSS every ${step} s (MB): ${r.rss.filter((_, i) => i % step === 0).map((x) => x.toFixed(0)).join(" → ")} → ${r.rss.at(-1)!.toFixed(0)}`);
  }
} finally {
  server?.kill("SIGTERM");
  if (server) await new Promise((r) => server!.once("exit", r));
  fs.rmSync(work, { recursive: true, force: true });
}
