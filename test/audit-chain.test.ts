/**
 * The tamper-evident audit log: every row chains to the one before it (stores/audit-chain.ts).
 * Verification names the first broken row when a row is edited or deleted in the database directly;
 * concurrent appends (in one process and from several) never fork the chain; a retention purge
 * and a document erasure keep it verifiable; rows from before the chain are sealed at start.
 */
import { execFile, spawn } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { ingestNow, openTestKb, reopenTestKb, sqlRows, writeFiles, type TestKb } from "./helpers/kb.ts";

const run = promisify(execFile);
const KB = path.resolve("bin/kb.js");

let t: TestKb | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function recordMany(k: TestKb, n: number, actor = "user:kim"): Promise<void> {
  await Promise.all(Array.from({ length: n }, (_, i) => k.kb.audit.record(actor, "search", null, { query: `q${i}`, nested: { b: 1, a: [i, "x"] } })));
}

const ids = async (k: TestKb) => (await sqlRows(k.kb, "SELECT id FROM audit_events ORDER BY id")).map((r) => Number(r.id));

describe("audit hash chain", () => {
  it("chains concurrent appends without a fork, and verify checks every row", async () => {
    t = await openTestKb();
    await recordMany(t, 50);
    const rows = (await sqlRows(t.kb, "SELECT id, hash FROM audit_events ORDER BY id")).map((r) => ({ id: Number(r.id), hash: r.hash as string | null }));
    expect(rows.length).toBeGreaterThanOrEqual(50);
    expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.hash ?? ""))).toBe(true);
    expect(new Set(rows.map((r) => r.hash)).size).toBe(rows.length);
    const r = await t.kb.audit.verify(SYSTEM_ACTOR);
    expect(r).toMatchObject({ ok: true, checked: rows.length, anchor: null, last: { id: rows.at(-1)!.id, hash: rows.at(-1)!.hash } });
    // The check itself is audited (and chained).
    expect((await t.kb.audit.repository.query({ action: "audit.verify" }))[0]!.details).toMatchObject({ ok: true, checked: rows.length });
  });

  it("names the row that was edited in the database directly", async () => {
    t = await openTestKb();
    await recordMany(t, 10);
    const all = await ids(t);
    const victim = all[Math.floor(all.length / 2)]!;
    await sqlRows(t.kb, "UPDATE audit_events SET actor = 'user:mallory' WHERE id = ?", victim);
    const r = await t.kb.audit.verify(SYSTEM_ACTOR);
    expect(r.ok).toBe(false);
    expect(r.broken).toEqual({ id: victim, reason: "its content or hash was changed" });
    expect(r.checked).toBe(all.indexOf(victim));
  });

  it("names the row after one deleted mid-chain, and an edit inside the details JSON", async () => {
    t = await openTestKb();
    await recordMany(t, 10);
    const all = await ids(t);
    const gone = all[3]!;
    await sqlRows(t.kb, "DELETE FROM audit_events WHERE id = ?", gone);
    let r = await t.kb.audit.verify(SYSTEM_ACTOR);
    expect(r.broken).toEqual({ id: all[4]!, reason: `it does not chain to the row before it (rows ${gone} are missing)` });

    await t.close();
    t = await openTestKb();
    await recordMany(t, 10);
    const id = (await ids(t))[5]!;
    const setQuery = t.kb.metadataKind === "sqlite" ? "json_set(details, '$.query', 'something else')" : `jsonb_set(details, '{query}', '"something else"')`;
    await sqlRows(t.kb, `UPDATE audit_events SET details = ${setQuery} WHERE id = ?`, id);
    r = await t.kb.audit.verify(SYSTEM_ACTOR);
    expect(r.broken?.id).toBe(id);
  });

  it("keeps appends from several processes on one database in one chain", async () => {
    t = await openTestKb();
    const store = t.env.KB_DATABASE_URL ?? path.join(t.dir, "app.sqlite");
    const child = (actor: string) =>
      new Promise<void>((resolve, reject) => {
        const c = spawn(process.execPath, ["--import", "tsx", "test/fixtures/append-audit.ts", store, "150", actor], { stdio: ["ignore", "ignore", "pipe"] });
        let err = "";
        c.stderr!.on("data", (d) => (err += d));
        c.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`append-audit exited ${code}: ${err}`))));
      });
    const before = (await ids(t)).length;
    await Promise.all([child("user:a"), child("user:b"), recordMany(t, 150, "user:parent")]);
    const r = await t.kb.audit.verify(SYSTEM_ACTOR);
    expect(r.ok).toBe(true);
    expect(r.checked).toBe(before + 450);
    for (const actor of ["user:a", "user:b", "user:parent"]) expect(await t.kb.audit.repository.query({ actor, limit: 1000 })).toHaveLength(150);
  });

  it("stays verifiable after a retention purge, from the anchor it records", async () => {
    t = await openTestKb();
    // Old events (as if written long ago), then new ones.
    for (let i = 0; i < 5; i++) await sqlRows(t.kb, "INSERT INTO audit_events (at, actor, action, outcome) VALUES (?, 'user:old', 'search', 'ok')", `2001-01-0${i + 1}T00:00:00.000Z`);
    await recordMany(t, 5);
    expect((await t.kb.audit.verify(SYSTEM_ACTOR)).ok).toBe(true); // the hand-inserted rows were sealed by the next append
    const [old] = await sqlRows(t.kb, "SELECT id, hash FROM audit_events WHERE actor = 'user:old' ORDER BY id DESC LIMIT 1");
    const lastOld = { id: Number(old!.id), hash: old!.hash as string };
    expect(await t.kb.audit.purgeOlderThan(365)).toBeGreaterThanOrEqual(5);
    const r = await t.kb.audit.verify(SYSTEM_ACTOR);
    expect(r.ok).toBe(true);
    expect(r.anchor).toEqual({ id: lastOld.id, hash: lastOld.hash });
    expect((await t.kb.audit.repository.query({ action: "audit.purge" }))[0]!.details).toMatchObject({ anchor: { id: lastOld.id, hash: lastOld.hash } });
    // Deleting the first row after the anchor is still seen.
    const first = (await ids(t))[0]!;
    await sqlRows(t.kb, "DELETE FROM audit_events WHERE id = ?", first);
    expect((await t.kb.audit.verify(SYSTEM_ACTOR)).broken?.id).toBe((await ids(t))[0]);
  });

  it("seals rows written before the chain existed at the next start", async () => {
    t = await openTestKb();
    await recordMany(t, 3);
    // As the upgrade leaves them: the new column empty.
    await sqlRows(t.kb, "UPDATE audit_events SET hash = NULL");
    const n = (await ids(t)).length;
    await t.kb.close();
    const closed = t;
    t = await reopenTestKb(closed);
    const [nulls] = await sqlRows(t.kb, "SELECT count(*) AS n FROM audit_events WHERE hash IS NULL");
    expect(Number(nulls!.n)).toBe(0);
    const r = await t.kb.audit.verify(SYSTEM_ACTOR);
    expect(r).toMatchObject({ ok: true, checked: n });
  });

  it("stays verifiable when a deleted document's names are scrubbed from its events", async () => {
    t = await openTestKb();
    const [file] = writeFiles(path.join(t.dir, "in"), { "secret-plan.txt": "The acquisition plan for next year is confidential." });
    const { documents } = await ingestNow(t.kb, [{ source: "secret-plan.txt", path: file! }]);
    const id = documents[0]!.id;
    await t.kb.audit.record(SYSTEM_ACTOR, "document.view", id, { title: "secret-plan", source: "secret-plan.txt" });
    await t.kb.documents.delete(SYSTEM_ACTOR, id);
    const scrubbed = (await t.kb.audit.repository.query({ target: id, limit: 100 })).filter((e) => e.details?._erasedDigest);
    expect(scrubbed.length).toBeGreaterThan(0);
    expect(JSON.stringify(scrubbed)).not.toContain("secret-plan");
    const r = await t.kb.audit.verify(SYSTEM_ACTOR);
    expect(r.ok).toBe(true);
    expect(r.erased).toEqual(expect.arrayContaining(scrubbed.map((e) => e.id)));
  });

  it("`kb audit verify` exits 1 naming the broken event, 0 when intact", async () => {
    t = await openTestKb();
    await recordMany(t, 5);
    const env = { ...process.env, ...t.env, KB_EMBED_MODEL: "none", KB_LOG_LEVEL: "silent" };
    const ok = await run(process.execPath, [KB, "audit", "verify"], { env });
    expect(ok.stdout).toMatch(/^audit chain intact: \d+ events/);
    const victim = (await ids(t))[2]!;
    await sqlRows(t.kb, "UPDATE audit_events SET outcome = 'denied' WHERE id = ?", victim);
    const bad = await run(process.execPath, [KB, "audit", "verify"], { env }).then(
      () => null,
      (err: { code: number; stdout: string }) => err,
    );
    expect(bad?.code).toBe(1);
    expect(bad?.stdout).toContain(`audit chain BROKEN at event ${victim}: its content or hash was changed`);
  });
});
