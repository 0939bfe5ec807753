/**
 * Hostile corpus through the API while clients search (issue 10, finding 5).
 *
 * Starts `kb serve` (a separate process, lexical mode, port chosen by the OS, loopback only) on a
 * fresh data folder with a small normal corpus, then uploads a hostile corpus generated here
 * (XML bombs, zip bombs, huge titles, malformed encodings, deep nesting; nothing is committed)
 * while 10 clients search and one polls /healthz every 50 ms. Reports /healthz latency
 * (p50/p99/max), the server's RSS and that of its extraction child processes (sampled every
 * 100 ms from /proc), and each hostile file's outcome. All traffic goes to 127.0.0.1; the run is
 * bounded (at most --max-s seconds, default 300).
 *
 *   npm run bench:hostile [-- --in-process] [--max-s 300] [--extract-timeout-s 300] [--no-write]
 *
 * --in-process runs the server with KB_EXTRACT_PROCESSES=0 (extraction on its event loop, the
 * behaviour before child processes) for comparison. Writes docs/benchmarks.md (section "hostile").
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { normalDocx, wideZipBombDocx, xmlBombDocx, zipBombDocx } from "../test/helpers/hostile-files.ts";
import { procRss } from "../src/services/jobs/extract-processes.ts";
import { replaceSection } from "./report.ts";

const args = process.argv.slice(2);
const inProcess = args.includes("--in-process");
const write = !args.includes("--no-write");
const numArg = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  const n = i >= 0 ? Number(args[i + 1]) : Number.NaN;
  return n > 0 ? n : fallback;
};
const maxS = numArg("--max-s", 300);
/** KB_EXTRACT_TIMEOUT_S of the server (default: the product's 300 s). */
const extractTimeoutS = numArg("--extract-timeout-s", 300);
const CLIENTS = 10;
const BASELINE_S = 20;
const MiB = (n: number) => Math.round(n / (1024 * 1024));
const HEALTH_EVERY_MS = 50;
const root = path.resolve(import.meta.dirname, "..");

// ---------------------------------------------------------------------------------------------
// the corpora

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

function normalCorpus(): { name: string; bytes: Buffer }[] {
  const topics = ["연차 휴가", "VPN 접속", "expense report", "onboarding checklist", "보안 교육", "server maintenance", "회의실 예약", "travel policy"];
  return Array.from({ length: 40 }, (_, i) => {
    const t = topics[i % topics.length]!;
    return { name: `normal-${i}.md`, bytes: Buffer.from(`# ${t} ${i}\n\n${`${t}에 관한 안내 문서 ${i}. The ${t} procedure is described here in detail. `.repeat(30)}\n`) };
  });
}

async function hostileCorpus(): Promise<{ name: string; what: string; bytes: Buffer }[]> {
  const files: { name: string; what: string; bytes: Buffer }[] = [];
  const add = (name: string, what: string, bytes: Buffer) => files.push({ name, what, bytes });
  add("xml-bomb-20mb.docx", "DOCX, 340,000 tiny paragraphs (≈20 MB of XML)", await xmlBombDocx(340_000));
  add("xml-bomb-5mb.docx", "DOCX, 85,000 tiny paragraphs (≈5 MB of XML)", await xmlBombDocx(85_000));
  add("zip-bomb-part.docx", "DOCX, one 1 GiB XML part", await zipBombDocx(1024));
  add("zip-bomb-liar.docx", "DOCX, 1 GiB XML part whose headers claim 4 KB", await zipBombDocx(1024, { declaredSize: 4096 }));
  add("zip-bomb-wide.docx", "DOCX, 40 entries of 9 MiB", await wideZipBombDocx(40, 9));
  // Huge titles: a 2 MB title in core.xml, an HTML <title> of 4 MB, a Markdown heading of 1 MB.
  const core = `<?xml version="1.0" encoding="UTF-8"?><cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>${"제목".repeat(1_000_000)}</dc:title></cp:coreProperties>`;
  const JSZip = (await import("jszip")).default;
  const z = await JSZip.loadAsync(await normalDocx("A document whose title is two million characters long."));
  z.file("docProps/core.xml", core);
  add("huge-title.docx", "DOCX, 2,000,000-character <dc:title>", await z.generateAsync({ type: "nodebuffer", compression: "DEFLATE" }));
  add("huge-title.html", "HTML, 4 MB <title>", Buffer.from(`<html><head><title>${"T".repeat(4_000_000)}</title></head><body><p>short body</p></body></html>`));
  add("huge-heading.md", "Markdown, 1 MB first heading", Buffer.from(`# ${"H".repeat(1_000_000)}\n\nbody text\n`));
  // Malformed encodings.
  const rnd = Buffer.alloc(2 * 1024 * 1024);
  for (let i = 0; i < rnd.length; i++) rnd[i] = (i * 2654435761) >>> 24;
  add("random-bytes.txt", "2 MiB of pseudo-random bytes named .txt", rnd);
  add("bad-utf8.txt", "1 MB of invalid UTF-8 sequences", Buffer.from(Array.from({ length: 1_000_000 }, (_, i) => [0xc3, 0xff, 0xe0, 0x80][i % 4]!)));
  add("odd-utf16.txt", "UTF-16LE BOM, odd byte count, lone surrogates", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("가나다".repeat(100_000), "utf16le"), Buffer.from([0x00, 0xd8, 0x41])]));
  add("mixed-euckr.txt", "EUC-KR and UTF-8 interleaved, NUL bytes", Buffer.concat(Array.from({ length: 20_000 }, (_, i) => (i % 2 ? Buffer.from("한국어 텍스트 ", "utf8") : Buffer.from([0xc7, 0xd1, 0xb1, 0xb9, 0x00, 0x20])))));
  add("nul.html", "HTML full of NUL bytes", Buffer.concat([Buffer.from("<html><body><p>"), Buffer.alloc(3_000_000), Buffer.from("</p></body></html>")]));
  // Deep nesting.
  add("deep.html", "HTML, 200,000 nested <div>", Buffer.from(`<html><body>${"<div>".repeat(200_000)}deep${"</div>".repeat(200_000)}</body></html>`));
  add("deep.xml", "XML, 500,000 nested elements", Buffer.from(`<?xml version="1.0"?>${"<a>".repeat(500_000)}x${"</a>".repeat(500_000)}`));
  add("after-the-bombs.docx", "a normal DOCX (must succeed)", await normalDocx(`${esc("The incident response runbook is kept by the security team.")}`));
  return files;
}

// ---------------------------------------------------------------------------------------------
// measuring

function childrenOf(pid: number): number[] {
  try {
    return fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, "latin1")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function startServer(dataDir: string): Promise<{ proc: ChildProcess; url: string; token: string }> {
  const env = { ...process.env, KB_DATA_DIR: dataDir, KB_HOST: "127.0.0.1", KB_EMBED_MODEL: "none", KB_LOG_LEVEL: "warn", KB_RATE_LIMIT_PER_MIN: "0", KB_EXTRACT_TIMEOUT_S: String(extractTimeoutS), ...(inProcess ? { KB_EXTRACT_PROCESSES: "0" } : {}) };
  const proc = spawn(process.execPath, [path.join(root, "bin/kb.js"), "serve", "--port", "0"], { env, stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  const deadline = Date.now() + 120_000;
  for (;;) {
    await new Promise((r) => setTimeout(r, 100));
    out += proc.stdout!.read()?.toString() ?? "";
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1];
    const tokenFile = /admin token (?:written to|was written on first start to) (\S+)/.exec(out)?.[1];
    if (url && tokenFile) {
      proc.stdout!.resume();
      return { proc, url, token: fs.readFileSync(tokenFile, "utf8").trim() };
    }
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`the server did not start:\n${out}`);
  }
}

async function main() {
  const loadStart = os.loadavg()[0]!.toFixed(1);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-bench-hostile-"));
  const server = await startServer(dataDir);
  const pid = server.proc.pid!;
  const auth = { authorization: `Bearer ${server.token}` };
  const upload = async (files: { name: string; bytes: Buffer }[]) => {
    const form = new FormData();
    for (const f of files) form.append("file", new Blob([f.bytes as never]), f.name);
    const res = await fetch(`${server.url}/api/v1/documents`, { method: "POST", headers: auth, body: form });
    if (res.status !== 202) throw new Error(`upload: ${res.status} ${await res.text()}`);
    return ((await res.json()) as { jobId: string }).jobId;
  };
  const job = async (id: string) => (await (await fetch(`${server.url}/api/v1/jobs/${id}`, { headers: auth })).json()) as any;
  const waitJob = async (id: string, until: number) => {
    for (;;) {
      const j = await job(id);
      if (!["queued", "running"].includes(j.status) || Date.now() > until) return j;
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  try {
    const seeded = await waitJob(await upload(normalCorpus()), Date.now() + 120_000);
    console.log(`normal corpus: ${seeded.counts.succeeded ?? 0}/${seeded.progress.total} ingested`);
    const hostile = await hostileCorpus();
    console.log(`hostile corpus: ${hostile.length} files, ${(hostile.reduce((n, f) => n + f.bytes.length, 0) / 1e6).toFixed(1)} MB on disk`);

    // One phase: 10 clients search without pause and /healthz is polled, until `until` resolves.
    const phase = async (until: () => Promise<void>) => {
      const stop = { now: false };
      const health: { ms: number; at: number }[] = [];
      let healthErrors = 0;
      const rss = { server: [] as number[], total: [] as number[], children: 0 };
      const searches = { ok: 0, failed: 0, ms: [] as number[] };
      const began = performance.now();
      const sampler = setInterval(() => {
        const s = procRss(pid);
        if (s === null) return;
        const kids = childrenOf(pid);
        rss.children = Math.max(rss.children, kids.length);
        rss.server.push(s);
        rss.total.push(s + kids.reduce((n, k) => n + (procRss(k) ?? 0), 0));
      }, 100);
      const healthLoop = (async () => {
        while (!stop.now) {
          const t0 = performance.now();
          try {
            const r = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(60_000) });
            await r.arrayBuffer();
            if (r.status === 200) health.push({ ms: performance.now() - t0, at: (t0 - began) / 1000 });
            else healthErrors++;
          } catch {
            healthErrors++;
          }
          await new Promise((r) => setTimeout(r, HEALTH_EVERY_MS));
        }
      })();
      const queries = ["연차 휴가", "VPN", "expense report", "onboarding", "보안 교육", "maintenance window", "회의실", "travel"];
      const clients = Array.from({ length: CLIENTS }, async (_, c) => {
        for (let i = 0; !stop.now; i++) {
          const t0 = performance.now();
          try {
            const r = await fetch(`${server.url}/api/v1/search`, {
              method: "POST",
              headers: { ...auth, "content-type": "application/json" },
              body: JSON.stringify({ query: queries[(c + i) % queries.length], topK: 5 }),
              signal: AbortSignal.timeout(60_000),
            });
            await r.arrayBuffer();
            if (r.status === 200) {
              searches.ok++;
              searches.ms.push(performance.now() - t0);
            } else searches.failed++;
          } catch {
            searches.failed++;
          }
        }
      });
      await until();
      stop.now = true;
      await Promise.all([healthLoop, ...clients]);
      clearInterval(sampler);
      return { health, healthErrors, rss, searches, seconds: (performance.now() - began) / 1000 };
    };
    const summary = (p: Awaited<ReturnType<typeof phase>>) => {
      const h = p.health.map((x) => x.ms).sort((a, b) => a - b);
      const s = [...p.searches.ms].sort((a, b) => a - b);
      return {
        h50: pct(h, 50).toFixed(1), h99: pct(h, 99).toFixed(1), hmax: pct(h, 100).toFixed(1), n: h.length, err: p.healthErrors,
        s50: pct(s, 50).toFixed(1), s99: pct(s, 99).toFixed(1), sok: p.searches.ok, sfail: p.searches.failed,
        rssStart: MiB(p.rss.server[0] ?? 0), rssMax: MiB(Math.max(...p.rss.server)), totalMax: MiB(Math.max(...p.rss.total)), children: p.rss.children,
        slowest: [...p.health].sort((a, b) => b.ms - a.ms).slice(0, 5).map((x) => `${x.ms.toFixed(0)} ms at ${x.at.toFixed(1)} s`).join(", "),
      };
    };

    // Baseline: the same search load, nothing being ingested.
    const base = summary(await phase(() => new Promise((r) => setTimeout(r, BASELINE_S * 1000))));
    console.log(`baseline (${BASELINE_S} s, searching only): /healthz p50 ${base.h50} ms, p99 ${base.h99} ms, max ${base.hmax} ms; search p50 ${base.s50} ms, p99 ${base.s99} ms; server RSS max ${base.rssMax} MiB`);

    let done: any;
    const t0 = performance.now();
    const load = summary(
      await phase(async () => {
        const jobId = await upload(hostile);
        done = await waitJob(jobId, Date.now() + maxS * 1000);
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const alive = server.proc.exitCode === null && (await fetch(`${server.url}/healthz`).then((r) => r.status === 200).catch(() => false));

    const outcome = new Map<string, any>(done.files.map((f: any) => [f.source, f]));
    console.log(`job ${done.status} in ${seconds.toFixed(1)} s; server alive: ${alive}`);
    console.log(`/healthz: ${load.n} answers, ${load.err} errors; p50 ${load.h50} ms, p99 ${load.h99} ms, max ${load.hmax} ms (slowest: ${load.slowest})`);
    console.log(`search: ${load.sok} ok, ${load.sfail} failed; p50 ${load.s50} ms, p99 ${load.s99} ms`);
    console.log(`RSS: server max ${load.rssMax} MiB (start ${load.rssStart}); server + extraction processes max ${load.totalMax} MiB; up to ${load.children} child processes`);
    for (const f of hostile) {
      const o = outcome.get(f.name);
      console.log(`  ${f.name}: ${o?.status}${o?.errorCode ? ` (${o.errorCode})` : ""}`);
    }

    if (write && !inProcess) {
      const rows = hostile.map((f) => {
        const o = outcome.get(f.name);
        return `| \`${f.name}\` | ${f.what.replace(/</g, "&lt;")} | ${(f.bytes.length / 1024).toFixed(0)} KB | ${o?.status ?? "?"}${o?.errorCode ? ` (\`${o.errorCode}\`)` : ""} |`;
      });
      const body = [
        `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, Node ${process.version}, command \`npm run bench:hostile\`: ` +
          `\`kb serve\` (lexical mode, default limits: KB_EXTRACT_PROCESSES ${Math.max(2, Math.min(4, os.availableParallelism() - 1))}, KB_EXTRACT_TIMEOUT_S ${extractTimeoutS}${extractTimeoutS === 300 ? "" : " (the default is 300, shortened to bound the run)"}, KB_EXTRACT_MAX_RSS_MB 2048, KB_MAX_XML_PART_MB 64, KB_MAX_DOCUMENT_UNCOMPRESSED_MB 100) with ${seeded.counts.succeeded ?? 0} normal documents; ` +
          `the ${hostile.length} files below uploaded in one request while ${CLIENTS} clients search without pause and /healthz is polled every ${HEALTH_EVERY_MS} ms. All on 127.0.0.1. ` +
          `The machine is shared with other work (${os.cpus().length} cores, load average ${loadStart} when the run began); figures vary between runs.`,
        "",
        "| | |",
        "|---|---|",
        `| job | ${done.status}, ${seconds.toFixed(1)} s; server alive afterwards: ${alive ? "yes" : "**no**"} |`,
        `| /healthz during the hostile corpus | ${load.n} answers, ${load.err} errors; p50 ${load.h50} ms, **p99 ${load.h99} ms**, max ${load.hmax} ms |`,
        `| /healthz, same search load, nothing ingested (${BASELINE_S} s before) | ${base.n} answers, ${base.err} errors; p50 ${base.h50} ms, p99 ${base.h99} ms, max ${base.hmax} ms |`,
        `| search (${CLIENTS} clients) during / before | ${load.sok} / ${base.sok} answered, ${load.sfail} / ${base.sfail} failed; p50 ${load.s50} / ${base.s50} ms, p99 ${load.s99} / ${base.s99} ms |`,
        `| server RSS | start ${load.rssStart} MiB, **max ${load.rssMax} MiB** (baseline max ${base.rssMax} MiB) |`,
        `| server + extraction processes RSS | max ${load.totalMax} MiB (up to ${load.children} child process${load.children === 1 ? "" : "es"}) |`,
        "",
        `Against the same search load with nothing being ingested, the hostile corpus moved /healthz p99 by ${(Number(load.h99) - Number(base.h99)).toFixed(1)} ms ` +
          `and the server's RSS by ${load.rssMax - base.rssMax} MiB; what a bomb costs is spent, and capped, in its extraction process.`,
        "",
        "| file | what | size | outcome |",
        "|---|---|---|---|",
        ...rows,
      ].join("\n");
      replaceSection(path.join(root, "docs/benchmarks.md"), "hostile", body);
      console.log("updated docs/benchmarks.md");
    }
  } finally {
    server.proc.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 2000));
    if (server.proc.exitCode === null) server.proc.kill("SIGKILL");
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
