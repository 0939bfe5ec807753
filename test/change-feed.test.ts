/**
 * Change announcements between processes on one metadata store (src/stores/change-feed.ts) and
 * the shared rate-limit counters (src/services/rate-limits.ts), on real stores: SQLite in a temp
 * folder, and PostgreSQL (KB_TEST_DATABASE_URL; those parts skip with the reason printed when no
 * server answers). Two knowledge bases opened on one PostgreSQL database stand for two replicas:
 * each has its own pool, its own LISTEN connection and its own memory.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { TOPICS, StoreChangeFeed, type ChangeEvent } from "../src/stores/change-feed.ts";
import type { MetadataStore } from "../src/stores/metadata.ts";
import { openDb } from "../src/stores/sqlite/db.ts";
import { SqliteMetadataStore } from "../src/stores/sqlite/metadata-store.ts";
import { openPg } from "../src/stores/pg/db.ts";
import { PgMetadataStore } from "../src/stores/pg/metadata-store.ts";
import { PgNotifyListener } from "../src/stores/pg/notify-listener.ts";
import { RateLimits, slidingWaitMs } from "../src/services/rate-limits.ts";
import { openTestKb, type TestKb } from "./helpers/kb.ts";
import { createTestDatabase, pgUnavailable, type TestDatabase } from "./helpers/pg.ts";

const unavailable = await pgUnavailable(process.env.KB_TEST_DATABASE_URL);
if (unavailable) console.log(`change-feed test: PostgreSQL parts skipped: ${unavailable}`);

/** Polls `fn` until it is truthy (never a fixed sleep followed by an assertion). */
async function until<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function sqliteStore(): MetadataStore {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-feed-"));
  const db = openDb(path.join(dir, "app.sqlite"));
  cleanups.push(async () => {
    db.$client.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return new SqliteMetadataStore(db);
}

let database: TestDatabase | null = null;
beforeAll(async () => {
  if (!unavailable) database = await createTestDatabase(process.env.KB_TEST_DATABASE_URL!);
});
afterAll(async () => {
  await database?.drop();
});

async function pgStore(): Promise<PgMetadataStore> {
  const store = new PgMetadataStore(await openPg(database!.url, { max: 4 }));
  cleanups.push(() => store.close());
  return store;
}

const dialects: [string, () => Promise<MetadataStore>][] = [["SQLite", async () => sqliteStore()]];
if (!unavailable) dialects.push(["PostgreSQL", pgStore]);

describe.each(dialects)("rate-limit counters on %s", (_name, open) => {
  it("allow the limit per sliding minute: the previous minute counts by the share of it still in the window; refusals are not counted", async () => {
    const store = await open();
    const key = `k${Math.random()}`;
    const hit = (minute: number, weight: number) => store.rateLimits.hit(key, minute, weight, 3);
    for (let i = 1; i <= 3; i++) expect(await hit(100, 0.9)).toEqual({ allowed: true, count: i, prevCount: 0 });
    expect(await hit(100, 0.5)).toEqual({ allowed: false, count: 3, prevCount: 0 });
    // The next minute's start: 3 × 1.0 + 0 + 1 > 3; half-way: 3 × 0.5 + 0 + 1 ≤ 3.
    expect(await hit(101, 1)).toEqual({ allowed: false, count: 0, prevCount: 3 });
    expect(await hit(101, 0.5)).toEqual({ allowed: true, count: 1, prevCount: 3 });
    // A caller whose clock is a minute behind counts in the row's minute, never resets it.
    expect((await hit(100, 0.5)).prevCount).toBe(3);
    // Two minutes later nothing of it is left.
    expect(await hit(103, 1)).toEqual({ allowed: true, count: 1, prevCount: 0 });
    expect(await store.rateLimits.purgeBefore(104)).toBeGreaterThanOrEqual(1);
  });

  it("announce a change by bumping its topic's version (once per publish)", async () => {
    const store = await open();
    const feed = new StoreChangeFeed(store, { mode: "in-process" });
    const got: ChangeEvent[] = [];
    feed.subscribe(TOPICS.index, (e) => got.push(e));
    const before = await store.changes.version(TOPICS.index);
    await feed.publish(TOPICS.index, { table: "t1" });
    await feed.publish(TOPICS.index, { table: "t2" });
    expect(await store.changes.version(TOPICS.index)).toBe(before + 2);
    expect(got).toEqual([
      { topic: "index", payload: { table: "t1" }, resync: false },
      { topic: "index", payload: { table: "t2" }, resync: false },
    ]);
    // Inside a transaction: this process's handlers run after the commit, never for a rollback.
    await expect(
      store.withTransaction(async () => {
        await feed.publish(TOPICS.index, { table: "rolled back" });
        throw new Error("roll back");
      }),
    ).rejects.toThrow("roll back");
    await store.withTransaction(async () => {
      await feed.publish(TOPICS.index, { table: "t3" });
      expect(got).toHaveLength(2);
    });
    expect(got.map((e) => e.payload)).toEqual([{ table: "t1" }, { table: "t2" }, { table: "t3" }]);
    expect(await store.changes.version(TOPICS.index)).toBe(before + 3);
  });
});

describe.skipIf(unavailable !== null)("the change feed between processes on PostgreSQL", () => {
  it("NOTIFY: another process hears an announcement when its transaction commits, never one rolled back", async () => {
    const [a, b] = [await pgStore(), await pgStore()];
    const fa = new StoreChangeFeed(a, { mode: "notify", listener: new PgNotifyListener(database!.url) });
    const fb = new StoreChangeFeed(b, { mode: "notify", listener: new PgNotifyListener(database!.url) });
    cleanups.push(() => fa.close(), () => fb.close());
    await Promise.all([fa.start(), fb.start()]);
    expect(fb.live).toBe(true);
    const heard: unknown[] = [];
    fb.subscribe("test.topic", (e) => heard.push(e.resync ? "resync" : e.payload));
    await expect(
      a.withTransaction(async () => {
        await fa.publish("test.topic", { n: 1 });
        throw new Error("roll back");
      }),
    ).rejects.toThrow();
    let committed = false;
    await a.withTransaction(async () => {
      await fa.publish("test.topic", { n: 2 });
      // Not delivered while the transaction is open: a round trip on b's side cannot see it either.
      await b.changes.versions();
      expect(heard).toEqual([]);
      committed = true;
    });
    expect(committed).toBe(true);
    // Notifications of one session arrive in commit order: {n: 2} first means {n: 1} never comes.
    await until("b to hear the committed announcement", () => heard.length > 0);
    await fa.publish("test.topic", { n: 3 });
    await until("b to hear the next one", () => heard.length > 1);
    expect(heard).toEqual([{ n: 2 }, { n: 3 }]);
  });

  it("NOTIFY: a lost LISTEN connection tells handlers to resync, reconnects, and announcements flow again", async () => {
    const [a, b] = [await pgStore(), await pgStore()];
    const fa = new StoreChangeFeed(a, { mode: "in-process" }); // publishes (NOTIFY is sent by the store)
    const fb = new StoreChangeFeed(b, { mode: "notify", listener: new PgNotifyListener(database!.url) });
    cleanups.push(() => fb.close());
    await fb.start();
    const heard: string[] = [];
    fb.subscribe("test.reconnect", (e) => heard.push(e.resync ? "resync" : String((e.payload as { n: number }).n)));
    await fa.publish("test.reconnect", { n: 1 });
    await until("the first announcement", () => heard.includes("1"));
    // An operator (or a failover) ends the listening session.
    const admin = new pg.Client({ connectionString: database!.url });
    await admin.connect();
    try {
      const r = await admin.query("SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = $1 AND application_name = 'kb-listen'", [database!.name]);
      expect(r.rows.length).toBeGreaterThanOrEqual(1);
    } finally {
      await admin.end();
    }
    await until("a resync on the lost connection", () => heard.filter((h) => h === "resync").length >= 1);
    await until("the feed to be live again", () => fb.live);
    // Down and up: two resyncs (what was kept meanwhile may be stale).
    expect(heard.filter((h) => h === "resync").length).toBe(2);
    await fa.publish("test.reconnect", { n: 2 });
    await until("an announcement after the reconnect", () => heard.includes("2"));
  });

  it("polling (KB_PG_NOTIFY=off): another process hears an announcement within the poll interval", async () => {
    const [a, b] = [await pgStore(), await pgStore()];
    const fa = new StoreChangeFeed(a, { mode: "in-process" });
    // A long interval, stepped by hand (pollOnce), shows that the poll and nothing else delivers it.
    const fb = new StoreChangeFeed(b, { mode: "poll", pollMs: 3_600_000 });
    cleanups.push(() => fb.close());
    await fb.start();
    expect(fb.live).toBe(true);
    const heard: unknown[] = [];
    fb.subscribe("test.poll", (e) => heard.push(e.payload));
    await fa.publish("test.poll", { n: 1 });
    expect(heard).toEqual([]);
    await fb.pollOnce();
    expect(heard).toEqual([{ n: 1 }]);
    await fb.pollOnce();
    expect(heard).toHaveLength(1); // once per change
    await fa.publish("test.poll", { n: 2 });
    await fa.publish("test.poll", { n: 3 });
    await fb.pollOnce();
    expect(heard).toEqual([{ n: 1 }, { n: 3 }]); // changes between two polls: one call with the last payload
  });
});

describe.skipIf(unavailable !== null)("two knowledge bases on one PostgreSQL database (two replicas)", () => {
  const pair = async (overrides: Parameters<typeof openTestKb>[0] = {}): Promise<[TestKb, TestKb]> => {
    const a = await openTestKb({ databaseUrl: database!.url, ...overrides });
    cleanups.push(() => a.close());
    const b = await openTestKb({ databaseUrl: database!.url, ...overrides });
    cleanups.push(() => b.close());
    return [a, b];
  };

  it("a token revoked or a user disabled through one is refused by the other's next authentication, though it keeps authentications", async () => {
    const [a, b] = await pair();
    const name = `u${Date.now()}`;
    await a.kb.admin.createUser(SYSTEM_ACTOR, { name, role: "viewer" });
    const one = await a.kb.admin.createToken(SYSTEM_ACTOR, name, {});
    const two = await a.kb.admin.createToken(SYSTEM_ACTOR, name, {});
    // b reads and keeps both.
    expect((await b.kb.accounts.authenticate(one.token))?.tokenId).toBe(one.info.id);
    expect((await b.kb.accounts.authenticate(two.token))?.tokenId).toBe(two.info.id);
    // Kept, not re-read: a row changed behind the store's back (no announcement) is not seen...
    const raw = new pg.Client({ connectionString: database!.url });
    await raw.connect();
    try {
      await raw.query("UPDATE api_tokens SET revoked_at = $2 WHERE id = $1", [two.info.id, new Date().toISOString()]);
    } finally {
      await raw.end();
    }
    expect((await b.kb.accounts.authenticate(two.token))?.tokenId).toBe(two.info.id);
    // ...while a revocation through a, on the very next call (no waiting for a notification):
    await a.kb.admin.revokeToken(SYSTEM_ACTOR, one.info.id);
    expect(await b.kb.accounts.authenticate(one.token)).toBeNull();
    // (the moved version drops every kept entry: the raw change is read now too)
    expect(await b.kb.accounts.authenticate(two.token)).toBeNull();
    const three = await a.kb.admin.createToken(SYSTEM_ACTOR, name, {});
    expect((await b.kb.accounts.authenticate(three.token))?.tokenId).toBe(three.info.id);
    await a.kb.admin.updateUser(SYSTEM_ACTOR, name, { disabled: true });
    expect(await b.kb.accounts.authenticate(three.token)).toBeNull();
  });

  it("a switch of the active chunk table made through one is followed by the other by NOTIFY, without reading the pointer per query", async () => {
    const [a, b] = await pair();
    expect(b.kb.index.mustReadPointer).toBe(false);
    const to = { table: `chunks_feed_${Date.now()}`, model: null, dimension: null };
    expect(await a.kb.index.trySwitch(to, await a.kb.index.generation())).toBe(true);
    await until("b to follow the switch", () => b.kb.index.info().table === to.table);
  });

  it("with KB_PG_NOTIFY=off the switch is followed by the poll (KB_CHANGE_POLL_MS)", async () => {
    const [a, b] = await pair({ changeFeed: { notify: false, pollMs: 100 } });
    expect(b.kb.changes.mode).toBe("poll");
    expect(b.kb.index.mustReadPointer).toBe(false);
    const to = { table: `chunks_poll_${Date.now()}`, model: null, dimension: null };
    expect(await a.kb.index.trySwitch(to, await a.kb.index.generation())).toBe(true);
    await until("b to follow the switch by polling", () => b.kb.index.info().table === to.table);
  });

  it("share rate-limit counters: requests spread over both are limited at the configured total", async () => {
    const [a, b] = await pair();
    const limits = [a.kb.rateLimits, b.kb.rateLimits];
    expect(limits.every((l) => l.shared)).toBe(true);
    const key = `token-${Date.now()}`;
    // 40 requests alternating between the replicas, a limit of 10 a minute: 10 allowed in all.
    const answers: number[] = [];
    for (let i = 0; i < 40; i++) answers.push(await limits[i % 2]!.takeToken(key, 10));
    expect(answers.filter((r) => r === 0)).toHaveLength(10);
    expect(answers.slice(0, 10).every((r) => r === 0)).toBe(true);
    expect(answers.slice(10).every((r) => r > 0)).toBe(true);
    // Concurrent requests too (one upsert each): 30 at once against a fresh key's 12.
    const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => limits[i % 2]!.takeToken(`${key}-burst`, 12)));
    expect(burst.filter((r) => r === 0)).toHaveLength(12);
  });
});

describe("rate limits in memory (SQLite mode)", () => {
  it("are per process: the service counts in memory when no shared store is given", async () => {
    const limits = new RateLimits({ perMinute: 2, anonPerMinute: 1 }, null, () => 1_000_000);
    expect(limits.shared).toBe(false);
    expect(await limits.takeToken("t", null)).toBe(0);
    expect(await limits.takeToken("t", null)).toBe(0);
    expect(await limits.takeToken("t", null)).toBeGreaterThan(0);
    expect(await limits.takeToken("u", 0)).toBe(0); // a token's own 0: unlimited
  });

  it("compute Retry-After for the sliding window", () => {
    // Refused at the start of a minute with 3 counted in the previous one (limit 3): wait a third of a minute.
    expect(slidingWaitMs(3, 0, 3, 0)).toBeCloseTo(20_000);
    // 3 counted in this minute (limit 3): wait for the next minute, and then until 1/3 of it has passed.
    expect(slidingWaitMs(0, 3, 3, 0.5)).toBeCloseTo(30_000 + 20_000);
  });
});
