/**
 * Erasure: deleting a document leaves none of its text anywhere under the data folder: not in
 * the raw bytes of any file (LanceDB data and index files, SQLite and its WAL, originals), not
 * in any remaining version of any LanceDB table (strings may be compressed on disk, so every
 * version is also read back through LanceDB), and conversations that quoted it show
 * "[deleted]". Originals are removed once no document's live version needs them.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { DocumentWriter, ERASURE_KEY } from "../src/services/document-writer.ts";
import { STALE_MS } from "../src/services/jobs/worker.ts";
import { BlobStore } from "../src/stores/blob-store.ts";
import { openTestKb, sqlRows, startTestServer, tableNames, waitForJob, type TestServer } from "./helpers/kb.ts";

let t: TestServer;
let admin: string;

beforeAll(async () => {
  t = await startTestServer();
  admin = await t.tokenFor("root", "admin");
});
afterAll(async () => t?.close());

const post = (body: unknown) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

async function upload(files: { name: string; content: string }[], pathname = "/api/v1/documents"): Promise<{ id: string }[]> {
  const fd = new FormData();
  for (const f of files) fd.append("file", new Blob([f.content]), f.name);
  const res = await t.fetchAs(admin, pathname, { method: pathname.endsWith("/content") ? "PUT" : "POST", body: fd });
  const body = (await res.json()) as any;
  expect(res.status, JSON.stringify(body)).toBe(202);
  expect((await waitForJob(t, admin, body.jobId)).status).toBe("succeeded");
  return body.documents;
}

async function del(id: string): Promise<void> {
  expect((await t.fetchAs(admin, `/api/v1/documents/${id}`, { method: "DELETE" })).status).toBe(204);
}

/** Files under the data folder whose raw bytes contain `needle`. */
function filesContaining(needle: string): string[] {
  const bytes = Buffer.from(needle);
  const hits: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && fs.readFileSync(p).includes(bytes)) hits.push(path.relative(t.dir, p));
    }
  };
  walk(t.dir);
  return hits;
}

/** A JSON column's value: SQLite returns the text, PostgreSQL the parsed jsonb. */
const json = (v: unknown): any => (typeof v === "string" ? JSON.parse(v) : v);

/** "table.column" for every metadata value (SQLite or PostgreSQL) that mentions `needle` (names the place when the raw scan finds it). */
async function metadataRowsContaining(needle: string): Promise<string[]> {
  const hits: string[] = [];
  for (const name of await tableNames(t.kb)) {
    for (const row of await sqlRows(t.kb, `SELECT * FROM "${name}"`)) {
      for (const [column, value] of Object.entries(row)) if ((typeof value === "string" ? value : JSON.stringify(value) ?? "").includes(needle)) hits.push(`${name}.${column}`);
    }
  }
  return hits;
}

/** "table@version" for every version of every LanceDB table whose rows mention `needle`. */
async function versionsContaining(needle: string): Promise<string[]> {
  const db = await lancedb.connect(path.join(t.dir, "lancedb"));
  const hits: string[] = [];
  try {
    for (const name of await db.tableNames()) {
      const table = await db.openTable(name);
      for (const v of await table.listVersions()) {
        await table.checkout(v.version);
        const rows = await table.query().toArray();
        const text = JSON.stringify(rows, (_k, x) => (typeof x === "bigint" ? String(x) : x instanceof Float32Array ? [] : x));
        if (text.includes(needle)) hits.push(`${name}@${v.version}`);
      }
      table.close();
    }
  } finally {
    db.close();
  }
  return hits;
}

describe("erasure", () => {
  it("leaves no trace of a deleted document under the data folder or in any LanceDB table version", async () => {
    const marker = crypto.randomBytes(16).toString("hex");
    // Neighbours share the marked document's fragment once the table is compacted; enough of
    // them that its rows are under LanceDB's 10% threshold for rewriting a fragment on its own.
    await upload([
      { name: "cafeteria.md", content: "# Cafeteria\n\nThe cafeteria opens at eight and serves lunch until two.\n" },
      { name: "parking.md", content: "# Parking\n\nThe parking garage is under building B; badges open the gate.\n" },
      ...Array.from({ length: 20 }, (_, i) => ({ name: `room-${i}.md`, content: `# Room ${i}\n\nMeeting room ${i} seats ${i + 4} people and has a projector.\n` })),
    ]);
    const [secret] = await upload([
      { name: "incident.md", content: `# Incident ${marker}\n\nThe incident code ${marker} names the server room breach of March.\n` },
    ]);
    const [after] = await upload([{ name: "holidays.md", content: "# Holidays\n\nThe office closes on national holidays.\n" }]);

    // A rollback table that also holds the document: re-embed into a new (lexical) table.
    const reembed = await t.fetchAs(admin, "/api/v1/jobs/reembed", post({ model: null, force: true }));
    expect(reembed.status).toBe(202);
    expect((await waitForJob(t, admin, ((await reembed.json()) as any).jobId)).status).toBe("succeeded");
    const previous = (await t.kb.index.previous())?.table;
    expect(previous).toBeDefined();
    expect(previous).not.toBe((await t.kb.index.pointer()).table);
    // One fragment for all documents in the active table, so erasing must rewrite the neighbours' rows.
    await (await t.kb.index.writeTarget()).store.optimize(new Date());

    // A conversation quotes it.
    const asked = await t.fetchAs(admin, "/api/v1/ask", post({ question: "Which breach does the incident code name?" }));
    const answer = (await asked.json()) as any;
    expect(answer.citations.some((c: any) => c.documentId === secret!.id)).toBe(true);
    // Feedback keeps a copy of that answer, and a review names the document as expected.
    const fb = (await (await t.fetchAs(admin, "/api/v1/feedback", post({ messageId: answer.messageId, rating: "down" }))).json()) as any;
    expect((await t.fetchAs(admin, `/api/v1/admin/feedback/${fb.id}/review`, { ...post({ expectedDocumentIds: [secret!.id, after!.id] }), method: "PUT" })).status).toBe(200);
    expect((await metadataRowsContaining(marker)).some((r) => r.startsWith("answer_feedback"))).toBe(true);

    // Before: the marker is on disk and in both tables.
    expect(filesContaining(marker).length).toBeGreaterThan(0);
    const before = await versionsContaining(marker);
    expect(before.some((v) => v.startsWith(`${previous}@`))).toBe(true);
    const blob = (await t.kb.metadata.documents.byId(secret!.id))!.blobPath!;
    expect(fs.existsSync(blob)).toBe(true);

    await del(secret!.id);
    expect((await metadataRowsContaining(marker))).toEqual([]);

    expect(filesContaining(marker)).toEqual([]);
    expect(await versionsContaining(marker)).toEqual([]);
    expect(fs.existsSync(blob)).toBe(false);

    // Stored turns: the answer that cited it and its quotes of it are "[deleted]"; the question stays.
    // (Reading the conversation back already withholds an answer citing a document the reader cannot read.)
    const stored = (await sqlRows(t.kb, "SELECT role, content, citations FROM conversation_messages WHERE conversation_id = ? ORDER BY id", answer.conversationId)) as any[];
    expect(stored.map((m) => m.role)).toEqual(["user", "assistant"]);
    expect(stored[0].content).toBe("Which breach does the incident code name?");
    expect(stored[1].content).toBe("[deleted]");
    const quoted = (json(stored[1].citations) as any[]).filter((c) => c.documentId === secret!.id);
    expect(quoted.length).toBeGreaterThan(0);
    for (const c of quoted) expect(c).toMatchObject({ quote: "[deleted]", title: "[deleted]", source: "[deleted]" });

    // The feedback's copy of the answer likewise; its sources keep ids and pages, the review loses the id.
    const kept = (await sqlRows(t.kb, "SELECT answer, sources, expected_document_ids AS expected FROM answer_feedback WHERE id = ?", fb.id))[0] as any;
    expect(kept.answer).toBe("[deleted]");
    expect(json(kept.sources).some((x: any) => x.documentId === secret!.id)).toBe(true);
    expect(json(kept.expected)).toEqual([after!.id]);

    // The audit keeps the event, by id.
    const events = (await t.kb.audit.query(SYSTEM_ACTOR, { action: "document.delete" })).items;
    expect(events.map((e) => e.target)).toContain(secret!.id);

    // The neighbours are intact and still found, in both tables.
    const hits = await t.fetchAs(admin, "/api/v1/search", post({ query: "parking garage badges" }));
    expect(((await hits.json()) as any).results.length).toBeGreaterThan(0);
    // Every other document keeps all its rows in both tables (the rewrite moved them, lost none).
    const expected = (await t.kb.metadata.documents.all()).reduce((n, d) => n + d.chunkCount, 0);
    expect(expected).toBeGreaterThan(20);
    expect(await t.kb.chunks.count()).toBe(expected);
    expect(await (await t.kb.index.table(previous!)).count()).toBe(expected);
    expect((await t.kb.metadata.documents.byId(after!.id))?.status).toBe("ready");
  });

  it("keeps an original another document still uses, and removes a superseded one", async () => {
    const content = `# Shared\n\nThe same bytes uploaded twice ${crypto.randomBytes(8).toString("hex")}.\n`;
    const [a, b] = await upload([
      { name: "shared-a.md", content },
      { name: "shared-b.md", content },
    ]);
    const blob = (await t.kb.metadata.documents.byId(a!.id))!.blobPath!;
    expect((await t.kb.metadata.documents.byId(b!.id))!.blobPath).toBe(blob);

    await del(a!.id);
    expect(fs.existsSync(blob)).toBe(true);
    expect((await t.fetchAs(admin, `/api/v1/documents/${b!.id}/text`)).status).toBe(200);

    // A new version of b: its old original is named by nothing any more.
    await upload([{ name: "shared-b.md", content: "# Shared\n\nA new version.\n" }], `/api/v1/documents/${b!.id}/content`);
    const newBlob = (await t.kb.metadata.documents.byId(b!.id))!.blobPath!;
    expect(newBlob).not.toBe(blob);
    expect(fs.existsSync(blob)).toBe(false);
    expect(fs.existsSync(newBlob)).toBe(true);

    await del(b!.id);
    expect(fs.existsSync(newBlob)).toBe(false);
  });

  it("finishes an erasure interrupted after the delete committed (the next job does it)", async () => {
    const marker = crypto.randomBytes(16).toString("hex");
    await upload(Array.from({ length: 12 }, (_, i) => ({ name: `desk-${i}.md`, content: `# Desk ${i}\n\nHot desk ${i} is on floor ${i % 3}.\n` })));
    const [doc] = await upload([{ name: "memo.md", content: `# Memo\n\nThe memo reference is ${marker}.\n` }]);
    await (await t.kb.index.writeTarget()).store.optimize(new Date());

    // The delete commits, then the process "dies" before erasing: a writer of our own that never erases.
    const writer = new DocumentWriter({ documents: t.kb.metadata.documents, index: t.kb.index, blobs: new BlobStore(path.join(t.dir, "blobs")), erasure: t.kb.metadata.erasure });
    expect(await writer.delete(doc!.id)).toBe(true);
    expect((await t.kb.metadata.documents.byId(doc!.id))).toBeUndefined();
    // The window: gone from search, still in the table's files and older versions.
    expect(await t.kb.chunks.count(`document_id = '${doc!.id}'`)).toBe(0);
    expect(filesContaining(marker).length).toBeGreaterThan(0);
    expect((await t.kb.metadata.settings.get(ERASURE_KEY))).toBeDefined();

    // Any job run afterwards finishes it before it reports done.
    const job = await t.fetchAs(admin, "/api/v1/jobs/optimize", post({}));
    expect(job.status).toBe(202);
    expect((await waitForJob(t, admin, ((await job.json()) as any).jobId)).status).toBe("succeeded");
    expect(filesContaining(marker)).toEqual([]);
    expect(await versionsContaining(marker)).toEqual([]);
    expect((await t.kb.metadata.settings.get(ERASURE_KEY))).toBeUndefined();
  });

  it("keeps an original that a queued upload of the same bytes will read", async () => {
    const k = await openTestKb(); // no worker: the second upload's job stays queued
    const run = async (jobId: string) => {
      expect((await k.kb.metadata.jobs.claimJob(jobId, "test", STALE_MS))).toBe(true);
      return k.kb.jobs.run(jobId, "test");
    };
    try {
      const bytes = new TextEncoder().encode(`# Twice\n\nUploaded twice ${crypto.randomBytes(8).toString("hex")}.\n`);
      const first = await k.kb.documents.upload(SYSTEM_ACTOR, [{ name: "first.md", bytes }], {});
      expect((await run(first.jobId)).status).toBe("succeeded");
      const blob = (await k.kb.metadata.documents.byId(first.documents[0]!.id))!.blobPath!;
      const second = await k.kb.documents.upload(SYSTEM_ACTOR, [{ name: "second.md", bytes }], {});

      await k.kb.documents.delete(SYSTEM_ACTOR, first.documents[0]!.id);
      expect(fs.existsSync(blob)).toBe(true);
      expect((await run(second.jobId)).status).toBe("succeeded");
      expect((await k.kb.metadata.documents.byId(second.documents[0]!.id))).toMatchObject({ status: "ready", blobPath: blob });
    } finally {
      await k.close();
    }
  });
});
