/**
 * Model change without downtime: re-embedding into a shadow table while queries keep
 * answering, the atomic switch (this process at once, another process within its poll),
 * a different dimension, writes during the copy, and rollback.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { loadConfig } from "../src/config.ts";
import { openKb, type Kb, type KbStores } from "../src/services/container.ts";
import { modelsWithVariant } from "./helpers/embed-variant.ts";
import { ingestNow, storeForFolder, writeFiles } from "./helpers/kb.ts";

let dir: string;
let kb: Kb & KbStores;
let reader: Kb & KbStores; // a second process's view (kb serve beside kb worker)
let models: ReturnType<typeof modelsWithVariant>;
/** Both processes' metadata store: SQLite in the data folder, or one PostgreSQL database (KB_TEST_DATABASE_URL). */
let store: Awaited<ReturnType<typeof storeForFolder>>;
const TOPICS = ["cafeteria menu", "parking garage", "vacation policy", "VPN setup", "security badge", "expense report", "printer queue", "office hours"];

const open = (embedModel: string) =>
  openKb(loadConfig({}, { dataDir: path.join(dir, "data"), modelsDir: models.modelsDir, embedModel, logLevel: "silent", ...store.overrides }), { logger: pino({ level: "silent" }) });

async function runJob(k: Kb, jobId: string) {
  const job = await k.jobs.runHere(jobId);
  expect(job).toBeDefined();
  return job!;
}

/** Runs `job` while querying in a loop from both processes; every query must answer with results. */
async function whileQuerying<T>(job: () => Promise<T>): Promise<{ result: T; queries: number; modes: Set<string> }> {
  let done = false;
  let queries = 0;
  const modes = new Set<string>();
  const loop = async (k: Kb) => {
    let i = 0;
    while (!done) {
      const topic = TOPICS[i++ % TOPICS.length]!;
      const r = await k.retriever.retrieve(SYSTEM_ACTOR, topic, { topK: 5 });
      if (r.chunks.length === 0) throw new Error(`no results for "${topic}" (mode ${r.mode})`);
      modes.add(`${r.mode}`);
      queries++;
      await new Promise((res) => setImmediate(res));
    }
  };
  const loops = [loop(kb), loop(reader)];
  try {
    const result = await job();
    // Let the other process follow the switch while still querying.
    const want = (await kb.index.pointer()).table;
    for (let t = 0; reader.chunks.name !== want && t < 100; t++) await new Promise((r) => setTimeout(r, 50));
    return { result, queries, modes };
  } finally {
    done = true;
    await Promise.all(loops);
  }
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-reembed-"));
  models = modelsWithVariant(dir, 48);
  store = await storeForFolder();
  kb = await open("none");
  const files: Record<string, string> = {};
  for (let i = 0; i < 40; i++) {
    const topic = TOPICS[i % TOPICS.length]!;
    files[`doc${String(i).padStart(2, "0")}.md`] = `# ${topic} ${i}\n\nNotes on the ${topic}, part ${i}. 문서 ${i}번은 ${topic}에 관한 내용입니다.\n\n## Details\n\nMore about the ${topic} for team ${i % 5}.`;
  }
  const paths = writeFiles(path.join(dir, "docs"), files);
  const { job } = await ingestNow(kb, paths.map((p) => ({ source: p, path: p })));
  expect(job.status).toBe("succeeded");
  reader = await open("none");
});
afterAll(async () => {
  await reader?.close();
  await kb?.close();
  await store?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("re-embedding with a new model", () => {
  it("adds vectors to an index built without them, queries answering throughout", async () => {
    expect(kb.retriever.mode).toBe("lexical");
    const before = await kb.chunks.list(null, ["chunk_id", "text", "allow", "version_at"]);
    expect(before.every((r) => typeof r.version_at === "string")).toBe(true);
    const { jobId } = await kb.jobs.submitReembed(SYSTEM_ACTOR, { model: models.base });
    // A document written while the copy runs must reach the new table too.
    const extra = writeFiles(path.join(dir, "docs"), { "late.md": "# late arrival\n\nThe cafeteria menu changes on Mondays." })[0]!;
    const { result: view, queries } = await whileQuerying(async () => {
      const [v] = await Promise.all([runJob(kb, jobId), ingestNow(kb, [{ source: extra, path: extra }])]);
      return v;
    });
    expect(view.status).toBe("succeeded");
    expect(queries).toBeGreaterThan(5);
    expect(kb.retriever.mode).toBe("hybrid");
    expect(kb.models.embedding).toEqual({ model: models.base, dimension: 32 });
    expect(reader.retriever.mode).toBe("hybrid"); // the other process followed the pointer
    expect(kb.chunks.name).toMatch(/^chunks_tiny-embed_32_/);
    const after = await kb.chunks.list(null, ["chunk_id", "text", "allow", "version_at"]);
    // The scope columns are copied with the rest (version_at: the date scope).
    const plain = (rows: Record<string, unknown>[]) => rows.map((r) => `${r.chunk_id}|${r.text}|${[...(r.allow as string[])].join()}|${String(r.version_at)}`).sort();
    const late = (await kb.metadata.documents.bySource(extra))!;
    expect(plain(after.filter((r) => !String(r.chunk_id).startsWith(late.id)))).toEqual(plain(before));
    expect(after.length).toBe(before.length + late.chunkCount);
    const vectors = await kb.chunks.list(null, ["chunk_id", "vector"]);
    expect(vectors.every((r) => r.vector && (r.vector as { length: number }).length === 32)).toBe(true);
    const hit = await kb.retriever.retrieve(SYSTEM_ACTOR, "late arrival cafeteria", { topK: 3 });
    expect(hit.chunks[0]!.vectorScore).toBeTypeOf("number");
    expect((await kb.index.previous())?.table).toBe("chunks");
  });

  it("switches to a model with another dimension, and rolls back", async () => {
    const first = kb.chunks.name;
    const rows = async () => (await kb.chunks.list(null, ["chunk_id", "text"])).map((r) => `${r.chunk_id}|${r.text}`).sort();
    const before = await rows();
    const { result: v } = await whileQuerying(async () => runJob(kb, (await kb.jobs.submitReembed(SYSTEM_ACTOR, { model: models.variant })).jobId));
    expect(v.status).toBe("succeeded");
    expect(kb.models.embedding).toEqual({ model: models.variant, dimension: 48 });
    expect(reader.models.embedding).toEqual({ model: models.variant, dimension: 48 });
    expect(await rows()).toEqual(before);
    expect((await kb.retriever.retrieve(SYSTEM_ACTOR, "parking garage", { topK: 3 })).chunks[0]!.vectorScore).toBeTypeOf("number");
    // The lexical table two switches back was dropped; the previous one stays for rollback.
    expect((await kb.chunks.tableNames()).sort()).toEqual([first, kb.chunks.name].sort());

    const { result: back } = await whileQuerying(async () => runJob(kb, (await kb.jobs.submitReembed(SYSTEM_ACTOR, { rollback: true })).jobId));
    expect(back.status).toBe("succeeded");
    expect(kb.chunks.name).toBe(first);
    expect(kb.models.embedding).toEqual({ model: models.base, dimension: 32 });
    expect(back.counts).toEqual({ unchanged: back.progress.total }); // nothing changed since: nothing copied
    expect(await rows()).toEqual(before);
  });

  it("re-running for the active model changes nothing", async () => {
    const v = await runJob(kb, (await kb.jobs.submitReembed(SYSTEM_ACTOR, { model: models.base })).jobId);
    expect(v).toMatchObject({ status: "succeeded", params: { noop: true } });
  });

  it("an ACL change made by another process right after the switch lands in the new table", async () => {
    const v = await runJob(kb, (await kb.jobs.submitReembed(SYSTEM_ACTOR, { model: models.variant })).jobId);
    expect(v.status).toBe("succeeded");
    const active = (await kb.index.pointer()).table;
    // The other process (kb serve) follows the pointer within its one-second poll; its admin
    // changes an ACL in that window.
    const behind = reader.chunks.name !== active;
    const doc = (await kb.metadata.documents.bySource(path.join(dir, "docs", "doc03.md")))!;
    await reader.access.setAcl(SYSTEM_ACTOR, doc.id, { allow: ["group:finance"], deny: [] });
    const rows = await kb.chunks.rowsOf([doc.id], false);
    expect(kb.chunks.name).toBe(active);
    expect(rows.length).toBe(doc.chunkCount);
    expect(rows.every((r) => r.allow.join() === "group:finance")).toBe(true);
    if (!behind) console.log("[note] the reader had already followed the switch; the window was not exercised this run");
  });
});
