/**
 * Anonymous abuse through the real server: failed authentication cannot grow the audit log
 * without bound, and unauthenticated traffic is rate-limited per client address
 * (X-Forwarded-For believed only from trusted proxies).
 */
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { ClientAddressResolver } from "../src/http/client-address.ts";
import { RateLimiter } from "../src/http/middleware/rate-limit.ts";
import { MAX_TARGET_BYTES, truncateUtf8 } from "../src/services/audit.ts";
import { AuthFailureLog } from "../src/services/auth-failures.ts";
import { openTestKb, reopenTestKb, sqlRows, startTestServer, type TestKb, type TestServer } from "./helpers/kb.ts";

let t: TestServer | TestKb | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function failedAuthRows(kb: TestKb["kb"]) {
  return await kb.audit.repository.query({ action: "auth.failed", limit: 10_000 });
}

const auditRowCount = async (kb: TestKb["kb"]) => Number((await sqlRows(kb, "SELECT count(*) AS n FROM audit_events"))[0]!.n);

const LONG = `/api/v1/documents/${"a".repeat(15 * 1024)}`;

describe("failed authentication in the audit log", () => {
  it("200 anonymous requests with 15 KB paths from one address add two rows: the first, then one with the count", async () => {
    const s = await startTestServer({ anonRateLimitPerMinute: 0 }); // aggregation alone, no 429s
    t = s;
    const rowsBefore = (await auditRowCount(s.kb));
    for (let i = 0; i < 200; i++) {
      const res = await s.fetchAs(i % 2 ? "kb_wrong" : null, LONG);
      expect(res.status).toBe(401);
      await res.arrayBuffer();
    }
    // While the window is open only the first failure is a row.
    expect((await auditRowCount(s.kb)) - rowsBefore).toBe(1);
    await s.kb.authFailures.flush(); // what closing the window or the server does
    const rows = await failedAuthRows(s.kb);
    expect(rows).toHaveLength(2);
    expect((await auditRowCount(s.kb)) - rowsBefore).toBe(2);
    for (const r of rows) {
      expect(Buffer.byteLength(r.target!)).toBeLessThanOrEqual(MAX_TARGET_BYTES);
      expect(r.target!.startsWith("/api/v1/documents/aaaa")).toBe(true);
      expect(r.details).toMatchObject({ client: "127.0.0.1" });
    }
    const [aggregated, first] = rows; // newest first
    expect(first!.details).toMatchObject({ count: 1, reason: "missing bearer token", targetBytes: LONG.length });
    expect(aggregated!.details).toMatchObject({ count: 199, reasons: { "missing bearer token": 99, "invalid, revoked or expired token": 100 } });
    expect(rows.reduce((n, r) => n + (r.details!.count as number), 0)).toBe(200);
  });

  it("writes pending counts when the knowledge base closes", async () => {
    const s = await startTestServer({ anonRateLimitPerMinute: 0 });
    for (let i = 0; i < 5; i++) await (await s.fetchAs(null, "/api/v1/search")).arrayBuffer();
    await s.server.close();
    await s.kb.close();
    const reopened = await reopenTestKb(s);
    t = reopened;
    expect((await failedAuthRows(reopened.kb)).map((r) => r.details!.count)).toEqual([4, 1]);
  });

  it("windows: a flood is one row per window; a quiet address is forgotten; new addresses beyond the budget are pooled; memory is bounded", async () => {
    const k = await openTestKb();
    t = k;
    let now = 1_000_000;
    const log = new AuthFailureLog(k.kb.audit, { windowMs: 60_000, newAddressesPerWindow: 3, maxAddresses: 4, now: () => now });
    const rows = async () => (await failedAuthRows(k.kb)).reverse(); // oldest first
    await log.record("10.0.0.1", "/x", "missing bearer token");
    for (let i = 0; i < 9; i++) await log.record("10.0.0.1", "/x", "missing bearer token");
    expect(await rows()).toHaveLength(1);
    now += 60_000; // window closed: the next failure writes the 9 and starts counting again
    await log.record("10.0.0.1", "/x", "missing bearer token");
    expect((await rows()).map((r) => r.details!.count)).toEqual([1, 9]);
    now += 60_000;
    await log.closeWindows(); // the timer's sweep: writes the 1
    expect((await rows()).map((r) => r.details!.count)).toEqual([1, 9, 1]);
    now += 60_000;
    await log.closeWindows(); // quiet for a window: forgotten
    expect(log.tracked).toBe(0);
    await log.record("10.0.0.1", "/x", "missing bearer token"); // written at once again
    expect(await rows()).toHaveLength(4);

    // Budget 3 new addresses per window: 10.0.0.1 used one, two more get rows, the rest are pooled.
    for (let i = 2; i <= 9; i++) await log.record(`10.0.0.${i}`, "/y", "invalid, revoked or expired token");
    expect(await rows()).toHaveLength(6);
    expect(log.tracked).toBeLessThanOrEqual(4);
    await log.close();
    const pooled = (await rows()).find((r) => r.details!.client === "*")!;
    // Six addresses pooled; distinct ones are counted only up to maxAddresses (memory bound).
    expect(pooled.details).toMatchObject({ count: 6, clients: 4 });
    expect((await rows()).reduce((n, r) => n + (r.details!.count as number), 0)).toBe(10 + 1 + 1 + 8);
  });

  it("cuts long targets of any audit event to 1 KB without splitting a character", () => {
    const s = "가".repeat(1000); // 3 bytes each
    const cut = truncateUtf8(s, MAX_TARGET_BYTES);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(MAX_TARGET_BYTES);
    expect(cut.endsWith("가…")).toBe(true);
    expect(truncateUtf8("short", MAX_TARGET_BYTES)).toBe("short");
  });
});

describe("rate limit of unauthenticated traffic", () => {
  it("answers 429 + Retry-After per client address after the limit; valid tokens and /healthz are not charged", async () => {
    // 2 a minute: the bucket refills one request per 30 s, far longer than this test.
    const s = await startTestServer({ anonRateLimitPerMinute: 2 });
    t = s;
    const token = await s.tokenFor("kim");
    expect((await s.fetchAs(null, "/api/v1/documents")).status).toBe(401);
    expect((await s.fetchAs("kb_wrong", "/v1/models")).status).toBe(401);
    for (const path of ["/api/v1/documents", "/v1/models", "/readyz", "/openapi.json", "/no-such-route"]) {
      const res = await s.fetchAs(null, path);
      expect(res.status, path).toBe(429);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(((await res.json()) as any).error.code).toBe("rate_limited");
    }
    for (let i = 0; i < 5; i++) expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
    expect((await s.fetchAs(token, "/api/v1/documents")).status).toBe(200);
    await s.kb.authFailures.flush();
    const counts = (await failedAuthRows(s.kb)).map((r) => r.details);
    expect(counts).toEqual([expect.objectContaining({ count: 3, rateLimited: 2 }), expect.objectContaining({ count: 1 })]);
  });

  it("is documented in OpenAPI: /readyz may answer 429", async () => {
    const s = await startTestServer();
    t = s;
    const doc = (await (await fetch(`${s.url}/openapi.json`)).json()) as any;
    expect(Object.keys(doc.paths["/readyz"].get.responses)).toContain("429");
    expect(Object.keys(doc.paths["/api/v1/documents"].get.responses)).toContain("429");
  });

  it("keeps memory bounded: the least recently seen key is evicted", () => {
    const limiter = new RateLimiter(1, 3);
    expect(limiter.take("a")).toBe(0);
    expect(limiter.take("a")).toBeGreaterThan(0);
    for (const k of ["b", "c", "d", "e"]) limiter.take(k);
    expect(limiter.size).toBe(3);
  });
});

describe("client address", () => {
  it("ignores X-Forwarded-For from a peer that is not a trusted proxy", async () => {
    const s = await startTestServer({ anonRateLimitPerMinute: 1, trustedProxies: [] });
    t = s;
    expect((await s.fetchAs(null, "/api/v1/documents", { headers: { "x-forwarded-for": "203.0.113.7" } })).status).toBe(401);
    // Another claimed address is still the same peer: its bucket is empty.
    expect((await s.fetchAs(null, "/api/v1/documents", { headers: { "x-forwarded-for": "203.0.113.8" } })).status).toBe(429);
    expect((await failedAuthRows(s.kb))[0]!.details).toMatchObject({ client: "127.0.0.1" });
  });

  it("honours X-Forwarded-For from a trusted proxy, walking from the right past trusted hops", async () => {
    const s = await startTestServer({ anonRateLimitPerMinute: 1, trustedProxies: ["127.0.0.1", "10.0.0.0/8"] });
    t = s;
    const as = (xff: string) => s.fetchAs(null, "/api/v1/documents", { headers: { "x-forwarded-for": xff } });
    expect((await as("203.0.113.7")).status).toBe(401);
    expect((await as("203.0.113.8")).status).toBe(401); // another client behind the proxy
    expect((await as("203.0.113.7")).status).toBe(429);
    // A client cannot choose its address by prepending one: the rightmost untrusted hop counts.
    expect((await as("198.51.100.1, 203.0.113.7, 10.1.2.3")).status).toBe(429);
    expect((await as("203.0.113.7, 198.51.100.2, 10.1.2.3")).status).toBe(401);
    await s.kb.authFailures.flush();
    const clients = (await failedAuthRows(s.kb)).map((r) => r.details!.client);
    expect(new Set(clients)).toEqual(new Set(["203.0.113.7", "203.0.113.8", "198.51.100.2"]));
  });

  it("resolves addresses like nginx's real_ip_recursive", () => {
    const r = new ClientAddressResolver(["127.0.0.1", "10.0.0.0/8", "fd00::/8"]);
    expect(r.resolve("127.0.0.1", undefined)).toBe("127.0.0.1");
    expect(r.resolve("::ffff:127.0.0.1", "203.0.113.7")).toBe("203.0.113.7");
    expect(r.resolve("192.0.2.1", "203.0.113.7")).toBe("192.0.2.1"); // untrusted peer
    expect(r.resolve("fd00::1", "10.0.0.2, 10.0.0.3")).toBe("10.0.0.2"); // all trusted: the leftmost
    expect(r.resolve("10.0.0.1", "203.0.113.7:5555, [2001:db8::1]:443")).toBe("2001:db8::1");
    expect(r.resolve("10.0.0.1", "203.0.113.7, garbage, 10.0.0.9")).toBe("10.0.0.9"); // walk stops at garbage
    expect(r.resolve(undefined, "203.0.113.7")).toBe("unknown");
  });

  it("validates KB_TRUSTED_PROXIES", () => {
    expect(loadConfig({ KB_TRUSTED_PROXIES: " 10.0.0.0/8, ::1 ,fd00::/8" }).trustedProxies).toEqual(["10.0.0.0/8", "::1", "fd00::/8"]);
    expect(loadConfig({}).trustedProxies).toEqual([]);
    for (const bad of ["10.0.0.0/33", "proxy.local", "10.0.0.1/8/1", "::1/129"]) {
      expect(() => loadConfig({ KB_TRUSTED_PROXIES: bad }), bad).toThrow(/KB_TRUSTED_PROXIES/);
    }
  });
});
