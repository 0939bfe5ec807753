/**
 * Crash safety: a real `kb worker` child process is killed with SIGKILL at random points of
 * multi-file jobs, restarted, and the state after each job is compared with a clean run's.
 *
 * One data folder goes through a chain of jobs (ingest, folder syncs with added, changed,
 * touched and deleted files, reindexes, ACL changes, re-embeds into new tables with another
 * model and dimension, a rollback). Each job is one trial: the worker is killed once or twice
 * while the job runs (at a random count of finished files, or after a random delay), a new
 * worker is started (it finds the dead worker and resumes at once), and when the job is done
 * the documents and the active chunk table must equal, after normalising ids, those of a
 * clean in-process run of the same chain — no duplicate or orphan chunks, no half-written
 * document, no lost file. The restarted worker then takes the next job, so each trial costs
 * about one process start.
 *
 * Seeded: CRASH_SEED=<n> replays a run; CRASH_TRIALS=<n> shortens or lengthens the chain.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { loadConfig } from "../src/config.ts";
import { openKb, type Kb, type KbStores } from "../src/services/container.ts";
import { STALE_MS } from "../src/services/jobs/worker.ts";
import { modelsWithVariant } from "./helpers/embed-variant.ts";
import { onPostgres, storeForFolder } from "./helpers/kb.ts";
import { seededRandom as prng } from "./helpers/seeded-random.ts";

const KB_BIN = path.resolve("bin/kb.js");
const SEED = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
// On PostgreSQL (CI's second pass) half the chain: each trial starts a worker process and the
// seed differs per run, so the two passes together still try 30 kill points per CI run.
const TRIALS = Number(process.env.CRASH_TRIALS ?? (onPostgres() ? 10 : 20));


/* ------------------------------------------------------------------------------------------ */
/* The chain of jobs (deterministic: the same for the clean run and the crashed one)           */
/* ------------------------------------------------------------------------------------------ */

const WORDS = ["cafeteria", "parking", "vacation", "security", "badge", "expense", "printer", "network", "contract", "meeting", "budget", "report"];
const KO = ["연차 휴가는 인사 시스템에서 신청합니다.", "주차장은 지하 2층에 있습니다.", "보안 교육은 매년 실시합니다.", "회의실 예약은 사내 포털에서 합니다.", "경비 보고서는 월말까지 제출합니다."];

function text(rng: () => number, name: string, version: number): string {
  const paras: string[] = [];
  const n = 1 + Math.floor(rng() * 7);
  for (let p = 0; p < n; p++) {
    const words = Array.from({ length: 30 + Math.floor(rng() * 90) }, () => WORDS[Math.floor(rng() * WORDS.length)]).join(" ");
    paras.push(`${words}. ${KO[Math.floor(rng() * KO.length)]} (${name} v${version} p${p})`);
  }
  return paras.join("\n\n");
}

function fileContent(rng: () => number, name: string, version: number): string {
  const body = text(rng, name, version);
  if (name.endsWith(".md")) return `# ${name} title\n\n${body.replace("\n\n", "\n\n## Section two\n\n")}`;
  if (name.endsWith(".html")) return `<html><head><title>${name}</title></head><body><main>${body.split("\n\n").map((p) => `<p>${p}</p>`).join("")}</main></body></html>`;
  return body;
}

type StepKind = "ingest" | "sync" | "reindex" | "acl" | "reembed-base" | "reembed-variant" | "rollback";

function chain(n: number): StepKind[] {
  const cycle: StepKind[] = ["sync", "reindex", "sync", "acl"];
  const special: Record<number, StepKind> = { [Math.floor(n * 0.5)]: "reembed-base", [Math.floor(n * 0.7)]: "reembed-variant", [Math.floor(n * 0.85)]: "rollback" };
  const steps: StepKind[] = ["ingest"];
  for (let k = 0; steps.length < n; ) steps.push(special[steps.length] ?? cycle[k++ % cycle.length]!);
  return steps;
}

/** Changes the corpus for step `i` (same changes in both corpora) and submits the step's job. */
async function runStep(kb: Kb, corpus: string, kind: StepKind, i: number, models: { base: string; variant: string }): Promise<string> {
  const rng = prng(1000 + i);
  const stamp = new Date(Date.UTC(2026, 0, 1) + i * 3_600_000); // distinct, deterministic mtimes
  const write = (name: string) => {
    const p = path.join(corpus, name);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, fileContent(rng, name, i));
    fs.utimesSync(p, stamp, stamp);
  };
  const files = () => fs.readdirSync(corpus, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(corpus, path.join(e.parentPath, e.name))).sort();
  const all = () => files().map((f) => ({ source: path.join(corpus, f), path: path.join(corpus, f) }));
  switch (kind) {
    case "ingest":
      for (let k = 0; k < 12; k++) write(`${k < 4 ? "sub/" : ""}f${k}.${["md", "txt", "html"][k % 3]}`);
      return (await kb.ingest.submit(SYSTEM_ACTOR, all())).jobId;
    case "sync": {
      const have = files();
      const pick = () => have[Math.floor(rng() * have.length)]!;
      for (let k = 0; k < 3; k++) write(pick()); // changed
      for (let k = 0; k < 2; k++) {
        const gone = pick();
        if (fs.existsSync(path.join(corpus, gone)) && files().length > 6) fs.rmSync(path.join(corpus, gone)); // deleted
      }
      for (let k = 0; k < 2; k++) write(`${rng() < 0.3 ? "sub/" : ""}n${i}_${k}.${["md", "txt", "html"][k % 3]}`); // added
      const touched = path.join(corpus, pick());
      if (fs.existsSync(touched)) fs.utimesSync(touched, stamp, stamp); // same content, new mtime
      return (await kb.jobs.submitSync(SYSTEM_ACTOR, { folder: corpus })).jobId;
    }
    case "reindex":
      return (await kb.jobs.submitReindex(SYSTEM_ACTOR)).jobId;
    case "acl": {
      const have = files();
      write(have[Math.floor(rng() * have.length)]!); // one content change along with the ACL change
      return (await kb.ingest.submit(SYSTEM_ACTOR, all().map((f) => ({ ...f, allow: [`group:g${i % 3}`], deny: i % 2 ? ["user:mallory"] : undefined })))).jobId;
    }
    case "reembed-base":
      return (await kb.jobs.submitReembed(SYSTEM_ACTOR, { model: models.base })).jobId;
    case "reembed-variant":
      return (await kb.jobs.submitReembed(SYSTEM_ACTOR, { model: models.variant })).jobId;
    case "rollback":
      return (await kb.jobs.submitReembed(SYSTEM_ACTOR, { rollback: true })).jobId;
  }
}

/* ------------------------------------------------------------------------------------------ */
/* State snapshots, normalised (document ids are random; sources differ by corpus folder)      */
/* ------------------------------------------------------------------------------------------ */

interface Snapshot {
  layout: string;
  documents: string[];
  chunks: string[];
  problems: string[];
}

/**
 * A corpus folder under `base`. The words of a source's last three folders are part of each
 * chunk's document context (its analyzed terms and its embedding text), so both runs' corpora end
 * in the same three folder names and their rows compare as they are.
 */
function corpusIn(base: string): string {
  const corpus = path.join(base, "kb", "crash", "corpus");
  fs.mkdirSync(corpus, { recursive: true });
  return corpus;
}

async function snapshot(kb: Kb & KbStores, corpus: string): Promise<Snapshot> {
  await kb.index.refresh();
  const problems: string[] = [];
  const docs = (await kb.metadata.documents.all());
  const rel = new Map(docs.map((d) => [d.id, path.relative(corpus, d.source)]));
  const documents = docs
    .map((d) =>
      JSON.stringify([rel.get(d.id), d.title, d.mime, d.contentHash, d.version, d.status, d.aclAllow, d.aclDeny, d.classification, d.pageCount, d.chunkCount, d.sizeBytes, d.error]),
    )
    .sort();
  for (const d of docs) {
    if (d.status !== "ready") problems.push(`document ${rel.get(d.id)} is ${d.status}`);
    if (!d.blobPath || !fs.existsSync(d.blobPath)) problems.push(`document ${rel.get(d.id)} has no stored original`);
  }
  const onDisk = new Set(fs.readdirSync(corpus, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.relative(corpus, path.join(e.parentPath, e.name))));
  for (const f of onDisk) if (![...rel.values()].includes(f)) problems.push(`file ${f} has no document`);
  const store = kb.chunks.snapshot();
  const rows = await store.rowsOf(docs.map((d) => d.id).concat(["__none__"]), true);
  const total = await store.count();
  if (total !== rows.length) problems.push(`${total - rows.length} chunks belong to no document`);
  const ids = new Set<string>();
  const perDoc = new Map<string, number>();
  const chunks = rows
    .map((r) => {
      if (ids.has(r.chunkId)) problems.push(`duplicate chunk ${r.chunkId}`);
      ids.add(r.chunkId);
      perDoc.set(r.documentId, (perDoc.get(r.documentId) ?? 0) + 1);
      const doc = docs.find((d) => d.id === r.documentId)!;
      if (r.documentVersion !== doc.version) problems.push(`chunk ${r.chunkId} is of version ${r.documentVersion}, the document of ${doc.version}`);
      const vec = r.vector ? `${r.vector.length}:${Array.from(r.vector.slice(0, 4), (x) => x.toFixed(3)).join(",")}` : "none";
      const id = `${rel.get(r.documentId)}:${r.documentVersion}:${r.ordinal}`;
      if (r.chunkId !== `${r.documentId}:${r.documentVersion}:${r.ordinal}`) problems.push(`chunk id ${r.chunkId} does not match its row`);
      return JSON.stringify([id, r.title, r.source === path.join(corpus, rel.get(r.documentId)!), r.pageStart, r.pageEnd, r.headings, r.text, r.analyzed, r.context, r.allow, r.deny, r.classification, vec]);
    })
    .sort();
  for (const d of docs) if ((perDoc.get(d.id) ?? 0) !== d.chunkCount) problems.push(`document ${rel.get(d.id)} has ${perDoc.get(d.id) ?? 0} chunks, expected ${d.chunkCount}`);
  const v = store.vectors;
  return { layout: v ? `${v.model}/${v.dimension}` : "lexical", documents, chunks, problems };
}

/* ------------------------------------------------------------------------------------------ */

let root: string;
let models: ReturnType<typeof modelsWithVariant>;
/** Each data folder's metadata store: nothing to add on SQLite, a fresh database on PostgreSQL (KB_TEST_DATABASE_URL). */
const stores = new Map<string, Awaited<ReturnType<typeof storeForFolder>>>();
const storeOf = async (dataDir: string) => {
  if (!stores.has(dataDir)) stores.set(dataDir, await storeForFolder());
  return stores.get(dataDir)!;
};
const open = async (dataDir: string) =>
  openKb(loadConfig({}, { dataDir, modelsDir: models.modelsDir, embedModel: "none", logLevel: "silent", ...(await storeOf(dataDir)).overrides }), { logger: pino({ level: "silent" }) });

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "kb-crash-"));
  models = modelsWithVariant(root, 48);
});
afterAll(async () => {
  for (const s of stores.values()) await s.drop();
  fs.rmSync(root, { recursive: true, force: true });
});

describe("crash safety", () => {
  it(`kill -9 of a kb worker at random points of ${TRIALS} jobs, then restart, ends as a clean run does`, { timeout: 900_000 }, async () => {
    const steps = chain(TRIALS);
    console.log(`crash test: seed ${SEED}, ${steps.length} jobs: ${steps.join(" ")}`);
    const rng = prng(SEED);

    // 1. The clean run, in this process.
    const refCorpus = corpusIn(path.join(root, "ref"));
    const ref = await open(path.join(root, "ref-data"));
    const expected: Snapshot[] = [];
    const durations: number[] = [];
    try {
      for (const [i, kind] of steps.entries()) {
        const t0 = Date.now();
        const jobId = await runStep(ref, refCorpus, kind, i, models);
        expect((await ref.metadata.jobs.claimJob(jobId, "clean", STALE_MS))).toBe(true);
        const v = await ref.jobs.run(jobId, "clean");
        expect(v.status, `${kind} ${JSON.stringify(v.files.filter((f) => f.status === "failed"))}`).toBe("succeeded");
        durations.push(Date.now() - t0);
        const snap = await snapshot(ref, refCorpus);
        expect(snap.problems).toEqual([]);
        expected.push(snap);
      }
    } finally {
      await ref.close();
    }

    // 2. The same chain, run by a `kb worker` that keeps getting killed.
    const corpus = corpusIn(path.join(root, "run"));
    const dataDir = path.join(root, "data");
    const kb = await open(dataDir);
    const env = { ...process.env, KB_DATA_DIR: dataDir, KB_MODELS_DIR: models.modelsDir, KB_EMBED_MODEL: "none", KB_LOG_LEVEL: "warn", KB_SYNC_SOURCES: "", ...(await storeOf(dataDir)).env };
    let child: ChildProcess | null = null;
    let stderr = "";
    let died: string | null = null;
    const killed = new Set<ChildProcess>();
    const startWorker = () => {
      const c = spawn(process.execPath, [KB_BIN, "worker", "--no-schedules"], { env, stdio: ["ignore", "ignore", "pipe"] });
      c.stderr!.on("data", (d) => (stderr = (stderr + d).slice(-20_000)));
      c.once("exit", (code, signal) => {
        if (!killed.has(c)) died = `the worker exited by itself (code ${code}, signal ${signal}):\n${stderr}`;
      });
      child = c;
      return c;
    };
    const kill = async () => {
      const c = child!;
      killed.add(c);
      const exited = c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once("exit", r)) : Promise.resolve();
      c.kill("SIGKILL");
      await exited; // reaped: its pid is gone, so the next worker reclaims its job at once
    };
    const sleep = (ms: number) => {
      if (died) throw new Error(died);
      return new Promise((r) => setTimeout(r, ms));
    };
    const job = async (id: string) => (await kb.metadata.jobs.byId(id))!;
    let kills = 0;
    const restartMs: number[] = [];
    let midJob = 0;
    const started = Date.now();
    try {
      startWorker();
      for (const [i, kind] of steps.entries()) {
        const jobId = await runStep(kb, corpus, kind, i, models);
        const nKills = rng() < 0.2 ? 2 : 1;
        for (let k = 0; k < nKills; k++) {
          // Wait until the (possibly just restarted) worker has claimed the job.
          const claimDeadline = Date.now() + 60_000;
          while ((await job(jobId)).status === "queued" && Date.now() < claimDeadline) await sleep(10);
          if (rng() < 0.5) {
            // At a random number of finished files, plus a little.
            const j = (await job(jobId));
            const target = Math.floor(rng() * Math.max(j.total, 1));
            while ((await job(jobId)).status === "running" && (await job(jobId)).done < target) await sleep(5);
            await sleep(rng() * 40);
          } else {
            await sleep(rng() * durations[i]! * 1.2);
          }
          const running = (await job(jobId)).status === "running";
          if (running) midJob++;
          kills++;
          const holder = (await job(jobId)).workerId;
          await kill();
          const t = Date.now();
          startWorker();
          if (running) {
            // Until the new worker has taken the job over (it finds the dead worker at start).
            const deadline = Date.now() + 60_000;
            while ((await job(jobId)).status === "running" && (await job(jobId)).workerId === holder && Date.now() < deadline) await sleep(10);
            restartMs.push(Date.now() - t);
          }
        }
        const deadline = Date.now() + 120_000;
        while (["queued", "running"].includes((await job(jobId)).status)) {
          if (Date.now() > deadline) throw new Error(`job ${i} (${kind}) did not finish: ${JSON.stringify(await kb.jobs.view(jobId))}\n${stderr}`);
          await sleep(20);
        }
        const view = (await kb.jobs.view(jobId))!;
        expect(view.status, `${kind}: ${JSON.stringify(view.files.filter((f) => f.status !== "succeeded" && f.status !== "unchanged"))}\n${stderr}`).toBe("succeeded");
        expect(view.progress.done).toBe(view.progress.total);
        const got = await snapshot(kb, corpus);
        expect(got.problems, `after job ${i} (${kind})`).toEqual([]);
        expect(got.layout, `after job ${i} (${kind})`).toBe(expected[i]!.layout);
        expect(got.documents, `after job ${i} (${kind})`).toEqual(expected[i]!.documents);
        expect(got.chunks, `after job ${i} (${kind})`).toEqual(expected[i]!.chunks);
      }
      // Workers killed while appending audit events never leave a forked or half-written chain.
      const chain = await kb.audit.verify(SYSTEM_ACTOR);
      expect(chain.broken).toBeUndefined();
      expect(chain.checked).toBeGreaterThan(0);
    } finally {
      if (child && (child as ChildProcess).exitCode === null && (child as ChildProcess).signalCode === null) await kill();
      await kb.close();
    }
    console.log(
      `crash test: ${kills} kills (${midJob} while the job was running) over ${steps.length} jobs in ${Math.round((Date.now() - started) / 1000)} s; ` +
        `clean run ${Math.round(durations.reduce((a, b) => a + b, 0) / 1000)} s; restart to resume ${Math.round(restartMs.reduce((a, b) => a + b, 0) / restartMs.length)} ms on average`,
    );
    expect(midJob).toBeGreaterThanOrEqual(Math.ceil(steps.length * 0.6));
  });
});
