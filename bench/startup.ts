/**
 * `npm run bench:startup`: how fast `kb` starts (issue 14, item 6).
 *  - `kb --help`: wall time and peak RSS, from the bundle (build/cli, what bin/kb.js runs after
 *    `npm install`) and from the TypeScript sources through tsx (KB_CLI_FROM_SOURCE=1);
 *  - `kb serve` on an existing data folder (the demo corpus ingested first, lexical mode):
 *    time from spawn to the first `/readyz` 200.
 * Each measurement is repeated (BENCH_REPEAT, default 5) and reported as median and min; both
 * variants run side by side in this one process, so their ratio is what to read on a noisy machine.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "..");
const KB = path.join(ROOT, "bin", "kb.js");
const REPEAT = Number(process.env.BENCH_REPEAT ?? 5);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function timeHelp(env: NodeJS.ProcessEnv): { ms: number; rssMb: number } {
  const r = spawnSync("/usr/bin/time", ["-f", "%e %M", process.execPath, KB, "--help"], { env, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`kb --help failed: ${r.stderr}`);
  const [secs, kb] = r.stderr.trim().split("\n").at(-1)!.split(" ").map(Number);
  return { ms: secs! * 1000, rssMb: kb! / 1024 };
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function timeServe(env: NodeJS.ProcessEnv): Promise<number> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, [KB, "serve", "--port", String(port)], { env: { ...env, KB_HOST: "127.0.0.1" }, stdio: "ignore" });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`kb serve exited with ${child.exitCode}`);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        if (res.status === 200) return performance.now() - started;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 10));
      if (performance.now() - started > 60_000) throw new Error("kb serve not ready after 60 s");
    }
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
  }
}

const built = spawnSync(process.execPath, [path.join(ROOT, "src", "cli", "bundle.mjs")], { encoding: "utf8" });
if (built.status !== 0) throw new Error(built.stderr);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-bench-startup-"));
const base = { ...process.env, KB_DATA_DIR: dataDir, KB_EMBED_MODEL: "none", KB_LLM_MODEL: "", KB_LOG_LEVEL: "warn" };
try {
  // An existing data folder: the demo corpus, ingested once.
  const demo = spawnSync(process.execPath, [KB, "ingest", path.join(ROOT, "data", "demo")], { env: base, encoding: "utf8" });
  if (demo.status !== 0) throw new Error(`ingest failed: ${demo.stderr}`);
  const rows: string[] = [];
  for (const [label, env] of [
    ["bundle (build/cli)", base],
    ["sources through tsx", { ...base, KB_CLI_FROM_SOURCE: "1" }],
  ] as const) {
    const help = Array.from({ length: REPEAT }, () => timeHelp(env));
    const serve: number[] = [];
    for (let i = 0; i < REPEAT; i++) serve.push(await timeServe(env));
    rows.push(
      `| ${label} | ${median(help.map((h) => h.ms)).toFixed(0)} / ${Math.min(...help.map((h) => h.ms)).toFixed(0)} ms | ${median(help.map((h) => h.rssMb)).toFixed(0)} MB | ${median(serve).toFixed(0)} / ${Math.min(...serve).toFixed(0)} ms |`,
    );
  }
  console.log(`kb start-up, ${REPEAT} runs each, median / min (load average ${os.loadavg()[0]!.toFixed(1)}, ${os.cpus().length} cores)\n`);
  console.log("| runs from | `kb --help` | peak RSS | `kb serve` → `/readyz` 200 (lexical, demo corpus) |");
  console.log("|---|---|---|---|");
  for (const r of rows) console.log(r);
} finally {
  fs.rmSync(dataDir, { recursive: true, force: true });
}
