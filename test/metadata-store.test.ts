/**
 * The SQLite implementation of the metadata store's transaction (stores/sqlite/metadata-store.ts):
 * an async callback committed or rolled back as one, isolated from other callers in the same
 * process, and refused when it waits on anything but the store (it would hold the write lock).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDb, type Db } from "../src/stores/sqlite/db.ts";
import { SqliteMetadataStore } from "../src/stores/sqlite/metadata-store.ts";
import { Accounts } from "../src/services/accounts.ts";
import { AuditLog } from "../src/services/audit.ts";

let dir: string;
let db: Db;
let store: SqliteMetadataStore;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-meta-"));
  db = openDb(path.join(dir, "app.sqlite"));
  store = new SqliteMetadataStore(db);
});
afterEach(() => {
  db.$client.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("SqliteMetadataStore.withTransaction", () => {
  it("commits the callback's writes when it resolves", async () => {
    const id = await store.withTransaction(async (tx) => {
      const c = await tx.conversations.create("kim", "t");
      await tx.conversations.append("kim", c.id, [{ role: "user", content: "q" }]);
      return c.id;
    });
    expect(await store.conversations.messages("kim", id)).toHaveLength(1);
    expect(db.$client.inTransaction).toBe(false);
  });

  it("rolls every write back when the callback rejects", async () => {
    await expect(
      store.withTransaction(async (tx) => {
        await tx.conversations.create("kim", "t", "conv_x");
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(await store.conversations.get("kim", "conv_x")).toBeUndefined();
    expect(db.$client.inTransaction).toBe(false);
  });

  it("makes a caller outside the transaction wait for it, so its statement is not inside it", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const inside = store.withTransaction(async (tx) => {
      await tx.conversations.create("kim", "t", "conv_a");
      await gate;
      throw new Error("roll back");
    });
    // Another request of the same process while the transaction is open (BEGIN has run).
    expect(db.$client.inTransaction).toBe(true);
    const outside = store.conversations.create("lee", "u", "conv_b");
    release();
    await expect(inside).rejects.toThrow("roll back");
    await outside;
    expect(await store.conversations.get("kim", "conv_a")).toBeUndefined();
    // Had it run inside the open transaction, the rollback would have taken it too.
    expect(await store.conversations.get("lee", "conv_b")).toBeDefined();
  });

  it("rolls back a callback that waits on other I/O (it would hold the write lock)", async () => {
    await expect(
      store.withTransaction(async (tx) => {
        await tx.conversations.create("kim", "t", "conv_io");
        await fs.promises.readFile(path.join(dir, "app.sqlite"));
      }),
    ).rejects.toThrow(/awaited something other than the metadata store/);
    expect(await store.conversations.get("kim", "conv_io")).toBeUndefined();
    expect(db.$client.inTransaction).toBe(false);
  });

  it("commits or rolls back documents, settings and jobs as one, a job method's own transaction included", async () => {
    const unit = (suffix: string, fail: boolean) =>
      store.withTransaction(async (tx) => {
        await tx.documents.insert({ id: `doc_${suffix}`, source: `${suffix}.md`, title: suffix, status: "processing", aclAllow: [], aclDeny: [] });
        // create() is a multi-statement write transaction of its own in the SQLite repository: here a savepoint.
        await tx.jobs.create({ id: `job_${suffix}`, kind: "ingest", createdBy: null }, [{ ordinal: 0, source: `${suffix}.md`, path: `/tmp/${suffix}.md`, documentId: `doc_${suffix}` }]);
        await tx.settings.set(`test.${suffix}`, 1);
        if (fail) throw new Error("boom");
      });
    await expect(unit("a", true)).rejects.toThrow("boom");
    expect(await store.documents.byId("doc_a")).toBeUndefined();
    expect(await store.jobs.byId("job_a")).toBeUndefined();
    expect(await store.settings.get("test.a")).toBeUndefined();
    await unit("b", false);
    expect(await store.documents.byId("doc_b")).toMatchObject({ status: "processing", version: 0 });
    expect(await store.jobs.files("job_b")).toHaveLength(1);
    expect(await store.settings.get("test.b")).toBe(1);
    // The claim is its own write transaction, outside any callback.
    expect(await store.jobs.claim("wrk_1", 15_000)).toBe("job_b");
    expect(await store.jobs.claim("wrk_2", 15_000)).toBeUndefined();
    expect(db.$client.inTransaction).toBe(false);
  });

  it("refuses a nested transaction instead of waiting for itself", async () => {
    await expect(store.withTransaction(async () => store.withTransaction(async () => 1))).rejects.toThrow(/inside a transaction/);
  });
});

describe("account changes through the async store (services/accounts.ts)", () => {
  it("creates a user with its groups in one transaction: a refused group leaves neither the user nor a group made on the fly", async () => {
    const accounts = new Accounts(store);
    await accounts.createGroup("mike");
    // "rnike" looks like the existing group "mike": refused after "newgrp" was made on the fly.
    await expect(accounts.createUser({ name: "kim", groups: ["newgrp", "rnike"] })).rejects.toThrow(/looks like the existing group/);
    expect(await store.users.byName("kim")).toBeUndefined();
    expect(await store.users.groupExists("newgrp")).toBe(false);
    expect(db.$client.inTransaction).toBe(false);
    const kim = await accounts.createUser({ name: "kim", groups: ["newgrp"] });
    expect(await store.users.directGroups(kim.name)).toEqual(["newgrp"]);
  });

  it("resolves a token at once after revocation (nothing cached) and records its use in the audit store", async () => {
    const accounts = new Accounts(store, { audit: new AuditLog(store.audit) });
    await accounts.createUser({ name: "lee" });
    const { token, info } = await accounts.createToken("lee");
    expect((await accounts.authenticate(token))?.actor.name).toBe("lee");
    expect((await store.audit.query({ action: "token.use" })).map((e) => e.target)).toEqual([info.id]);
    await accounts.revokeToken(info.id);
    expect(await accounts.authenticate(token)).toBeNull();
  });
});
