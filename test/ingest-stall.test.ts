/**
 * An ingest job must not stop while files are left (file-pipeline.ts). Seen on PostgreSQL (the
 * Office/HWP bench job after a warm-up, a worker resuming a killed worker's job): files stayed
 * `running` with no extraction process alive while the job's heartbeat went on. The cause: when
 * the loop flushed a batch it had to wait for the previous write (a commit), and every file still
 * staged finished during that wait; the loop then waited for "one more staged file to finish",
 * of which there was none, for ever. A PostgreSQL commit is slow enough for that to happen by
 * itself under load; here another unit of work holds the commit back (as another replica or
 * worker does) while the staged files finish, which makes it happen every time.
 *
 * Real PostgreSQL (skipped with the reason when KB_TEST_DATABASE_URL is absent), real LanceDB,
 * the real markdown extractor behind a gate that holds chosen files (the extractor registry's
 * override, in this process: KB_EXTRACT_PROCESSES=0).
 */
import path from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { overrideExtractor } from "../ingest/formats.ts";
import { markdownExtractor } from "../ingest/extractors/markdown.ts";
import type { Extractor } from "../ingest/types.ts";
import { openTestKb, writeFiles, type TestKb } from "./helpers/kb.ts";
import { pgUnavailable } from "./helpers/pg.ts";
import { STALE_MS } from "../src/services/jobs/worker.ts";
import { SYSTEM_ACTOR } from "../policies/index.ts";

const unavailable = await pgUnavailable(process.env.KB_TEST_DATABASE_URL);
if (unavailable) console.log(`ingest-stall test: skipped: ${unavailable}`);

/** The unit-of-work lock of the PostgreSQL store (pg/metadata-store.ts): every commit of a write takes it. */
const UNIT_OF_WORK_LOCK = 0x6b627478;
/** How long the job's loop waits for a prepared document's company before it flushes (file-pipeline.ts BATCH_WAIT_MS), with room to spare. */
const PAST_THE_BATCH_WAIT_MS = 4000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Markdown extraction that waits until the test opens the gate of a file. */
function gatedMarkdown() {
  const gates = new Map<string, { open: () => void; opened: Promise<void>; extracted: boolean }>();
  const gate = (source: string) => {
    let g = gates.get(source);
    if (!g) {
      let open!: () => void;
      const opened = new Promise<void>((r) => (open = r));
      g = { open, opened, extracted: false };
      gates.set(source, g);
    }
    return g;
  };
  const extractor: Extractor = {
    kinds: ["markdown"],
    async extract(file, type, options) {
      const g = gate(path.basename(file.source));
      await g.opened;
      const doc = await markdownExtractor.extract(file, type, options);
      g.extracted = true;
      return doc;
    },
  };
  return { extractor, open: (source: string) => gate(source).open(), extracted: (source: string) => gate(source).extracted };
}

let t: TestKb | undefined;
let restore = () => {};
afterAll(async () => {
  restore();
  await t?.close();
});

describe.skipIf(unavailable !== null)("an ingest job on PostgreSQL whose staged files all finish while it waits for a commit", () => {
  it("takes them and finishes (it waited for ever for one more file to finish)", { timeout: 180_000 }, async () => {
    const gated = gatedMarkdown();
    restore = overrideExtractor(gated.extractor);
    // In this process, three files staged at once: a, b, c, then d once a is taken.
    t = await openTestKb({ extractProcesses: 0, ingestConcurrency: 3 });
    const kb = t.kb;
    const names = ["a.md", "b.md", "c.md", "d.md"];
    const paths = writeFiles(path.join(t.dir, "in"), Object.fromEntries(names.map((n) => [n, `# ${n}\n\nThe file ${n} is about lanterns and compasses.`])));
    const holder = new pg.Client({ connectionString: kb.config.databaseUrl });
    await holder.connect();
    try {
      const { jobId } = await kb.ingest.submit(SYSTEM_ACTOR, names.map((n, i) => ({ source: n, path: paths[i]! })));
      expect(await kb.metadata.jobs.claimJob(jobId, "stall-test", STALE_MS)).toBe(true);
      // Another unit of work holds the commit lock: the job's first write will wait in its commit.
      await holder.query("BEGIN");
      await holder.query("SELECT pg_advisory_xact_lock($1)", [UNIT_OF_WORK_LOCK]);
      let finished = false;
      const run = kb.jobs.run(jobId, "stall-test").finally(() => (finished = true));

      // a is written (alone: b and c are held) and its commit waits for the lock.
      gated.open("a.md");
      await until("the write of a.md to wait for the commit lock", async () => {
        const r = await holder.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = $1", [UNIT_OF_WORK_LOCK]);
        return r.rows[0].n > 0;
      });
      // b is taken into the next batch; after the batch wait the loop flushes it, which waits
      // for a's write to commit.
      gated.open("b.md");
      await until("b.md to be extracted", () => gated.extracted("b.md"));
      await sleep(PAST_THE_BATCH_WAIT_MS);
      // Meanwhile every other staged file finishes.
      gated.open("c.md");
      gated.open("d.md");
      await until("c.md and d.md to be extracted", () => gated.extracted("c.md") && gated.extracted("d.md"));
      await sleep(200);
      await holder.query("COMMIT");

      // The job goes on to its end. (Before the fix it stayed running with c and d staged.)
      await until("the job to finish", () => finished, 90_000).catch(async (err: Error) => {
        const files = (await kb.metadata.jobs.files(jobId)).map((f) => `${f.source}: ${f.status}`);
        throw new Error(`${err.message}; files: ${files.join(", ")}`);
      });
      const view = await run;
      expect(view.status).toBe("succeeded");
      expect(view.files.map((f) => [f.source, f.status])).toEqual(names.map((n) => [n, "succeeded"]));
    } finally {
      await holder.end().catch(() => {});
    }
  });
});
