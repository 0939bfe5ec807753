/**
 * Web sign-in (issue 12): passwords, cookie sessions, expiry, lock-out, revocation, CSRF, and
 * the cookie's reach, against the real HTTP server on loopback and a real SQLite database.
 * Time is the knowledge base's injected clock (`clock`), moved by the tests: no sleeps.
 */
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { loadConfig } from "../src/config.ts";
import { ADMIN_CREDENTIALS_FILE, ensureAdmin } from "../src/services/bootstrap.ts";
import { backup } from "../src/services/maintenance.ts";
import { startTestServer, openTestKb, sqlRows, storeForFolder, withoutRequestId, type TestServer } from "./helpers/kb.ts";
import { spawnKb } from "./helpers/cli.ts";

const PASSWORD = "correct horse battery staple";
const MINUTE = 60_000;

/** A clock the tests move. */
function testClock(start = Date.parse("2026-01-05T09:00:00Z")) {
  const clock = { now: start, advance: (ms: number) => (clock.now += ms), read: () => clock.now };
  return clock;
}

function login(t: TestServer, name: string, password: string, headers: Record<string, string> = {}) {
  return fetch(`${t.url}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ name, password }) });
}

/** The `kb_session=...` pair of a response's Set-Cookie, and its attributes. */
function sessionCookie(res: Response): { pair: string; attributes: string[] } {
  const header = res.headers.getSetCookie().find((c) => c.startsWith("kb_session="));
  if (!header) throw new Error(`no session cookie in ${JSON.stringify(res.headers.getSetCookie())}`);
  const [pair, ...attributes] = header.split(";").map((s) => s.trim());
  return { pair: pair!, attributes };
}

async function signIn(t: TestServer, name: string, password = PASSWORD): Promise<{ cookie: string; csrf: string }> {
  const res = await login(t, name, password);
  expect(res.status).toBe(200);
  const body = (await res.json()) as { csrfToken: string };
  return { cookie: sessionCookie(res).pair, csrf: body.csrfToken };
}

function withCookie(t: TestServer, cookie: string, pathname: string, init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  headers.set("cookie", cookie);
  return fetch(t.url + pathname, { ...init, headers });
}

/** A same-origin write from the web app: cookie, CSRF token and the server's own Origin. */
function write(t: TestServer, s: { cookie: string; csrf: string }, pathname: string, method: string, body?: unknown, extra: Record<string, string> = {}) {
  return withCookie(t, s.cookie, pathname, {
    method,
    headers: { "content-type": "application/json", "x-csrf-token": s.csrf, origin: t.url, ...extra },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function auditActions(t: TestServer, action: string) {
  return t.kb.audit.repository.query({ action, limit: 100 });
}

describe("sign-in with a password", () => {
  const clock = testClock();
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({}, { clock: clock.read });
    await t.kb.accounts.createUser({ name: "kim", role: "viewer" });
    await t.kb.accounts.createUser({ name: "boss", role: "admin" });
    await t.kb.signIn.setPassword(SYSTEM_ACTOR, "kim", { password: PASSWORD });
    await t.kb.signIn.setPassword(SYSTEM_ACTOR, "boss", { password: PASSWORD });
  });
  afterAll(() => t.close());

  it("stores an argon2id hash with OWASP's parameters, never the password", async () => {
    const row = (await sqlRows(t.kb, "SELECT password_hash FROM user_credentials c JOIN users u ON u.id = c.user_id WHERE u.name = 'kim'"))[0] as { password_hash: string };
    expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(row.password_hash).not.toContain(PASSWORD);
  });

  it("signs in with an HttpOnly, SameSite=Strict, Path=/api cookie (not Secure over plain http) and answers who is signed in", async () => {
    const res = await login(t, "KIM", PASSWORD); // any spelling of the name
    expect(res.status).toBe(200);
    const body = (await res.json()) as { user: { name: string }; role: string; capabilities: string[]; via: string; csrfToken: string; expiresAt: string };
    expect(body).toMatchObject({ user: { name: "kim" }, role: "viewer", capabilities: ["search"], via: "session" });
    expect(body.csrfToken.length).toBeGreaterThan(20);
    expect(Date.parse(body.expiresAt)).toBe(clock.now + 60 * MINUTE);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const { pair, attributes } = sessionCookie(res);
    expect(pair).toMatch(/^kb_session=kbs_[A-Za-z0-9_-]{43}$/);
    expect(attributes).toEqual(expect.arrayContaining(["HttpOnly", "SameSite=Strict", "Path=/api"]));
    expect(attributes).not.toContain("Secure");
    // Only the token's SHA-256 is stored.
    const token = pair.slice("kb_session=".length);
    const stored = (await sqlRows(t.kb, "SELECT token_hash FROM sessions")) as { token_hash: string }[];
    expect(stored.some((r) => r.token_hash.includes(token))).toBe(false);

    const who = await withCookie(t, pair, "/api/v1/auth/session");
    expect(who.status).toBe(200);
    expect(await who.json()).toMatchObject({ user: { name: "kim" }, via: "session", csrfToken: body.csrfToken });
    // The cookie reads the API like a token does.
    expect((await withCookie(t, pair, "/api/v1/documents")).status).toBe(200);
    expect((await auditActions(t, "auth.login")).some((e) => e.actor === "user:kim")).toBe(true);
  });

  it("answers a wrong password, an unknown name and an account without a password alike", async () => {
    await t.kb.accounts.createUser({ name: "nopass", role: "viewer" });
    const answers = await Promise.all([login(t, "kim", "wrong password!!"), login(t, "nobody-here", PASSWORD), login(t, "nopass", PASSWORD)]);
    // Alike but for the request id each answer carries (random, per request).
    const bodies = (await Promise.all(answers.map((r) => r.json()))).map(withoutRequestId);
    for (const [i, r] of answers.entries()) {
      expect(r.status).toBe(401);
      expect(r.headers.getSetCookie()).toEqual([]);
      expect(bodies[i]).toEqual(bodies[0]);
    }
    expect((bodies[0] as { error: { code: string } }).error.code).toBe("invalid_credentials");
    const failed = await auditActions(t, "auth.login.failed");
    expect(failed.some((e) => e.target === "user:kim")).toBe(true);
    // Every failure also reaches the per-address failure log.
    await t.kb.authFailures.flush();
    const aggregated = await auditActions(t, "auth.failed");
    expect(aggregated.reduce((n, e) => n + Number((e.details as { count?: number }).count ?? 0), 0)).toBeGreaterThanOrEqual(3);
  });

  it("the bearer token path answers GET /auth/session too, without a CSRF token", async () => {
    const token = await t.tokenFor("tokenuser");
    const res = await t.fetchAs(token, "/api/v1/auth/session");
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ user: { name: "tokenuser" }, via: "token" });
    expect(body.csrfToken).toBeUndefined();
  });

  it("lists sign-in providers publicly (none yet)", async () => {
    const res = await fetch(`${t.url}/api/v1/auth/providers`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([]);
  });

  it("locks an account after 5 wrong passwords for 15 minutes, refusing even the right one meanwhile, then lets it in", async () => {
    await t.kb.accounts.createUser({ name: "lee", role: "viewer" });
    await t.kb.signIn.setPassword(SYSTEM_ACTOR, "lee", { password: PASSWORD });
    const wrong = withoutRequestId(await (await login(t, "lee", "not the password")).json());
    for (let i = 0; i < 4; i++) expect((await login(t, "lee", "not the password")).status).toBe(401);
    const locked = await login(t, "lee", PASSWORD);
    expect(locked.status).toBe(401);
    expect(withoutRequestId(await locked.json())).toEqual(wrong); // a lock does not say it is one
    expect((await auditActions(t, "auth.lockout")).filter((e) => e.target === "user:lee")).toHaveLength(1);
    clock.advance(14 * MINUTE);
    expect((await login(t, "lee", PASSWORD)).status).toBe(401);
    clock.advance(1 * MINUTE + 1000);
    expect((await login(t, "lee", PASSWORD)).status).toBe(200);
    // A success restarts the count: 4 more failures do not lock.
    for (let i = 0; i < 4; i++) await login(t, "lee", "not the password");
    expect((await login(t, "lee", PASSWORD)).status).toBe(200);
  });

  it("an admin's password reset ends a lock-out at once", async () => {
    await t.kb.accounts.createUser({ name: "park", role: "viewer" });
    await t.kb.signIn.setPassword(SYSTEM_ACTOR, "park", { password: PASSWORD });
    for (let i = 0; i < 5; i++) await login(t, "park", "not the password");
    expect((await login(t, "park", PASSWORD)).status).toBe(401);
    const admin = await signIn(t, "boss");
    const status = (await (await withCookie(t, admin.cookie, "/api/v1/admin/users/park/password")).json()) as { set: boolean; lockedUntil: string | null };
    expect(status.set).toBe(true);
    expect(Date.parse(status.lockedUntil!)).toBe(clock.now + 15 * MINUTE);
    const reset = await write(t, admin, "/api/v1/admin/users/park/password", "PUT", { password: "a brand new passphrase" });
    expect(reset.status).toBe(200);
    expect((await login(t, "park", "a brand new passphrase")).status).toBe(200);
    expect(await (await withCookie(t, admin.cookie, "/api/v1/admin/users/park/password")).json()).toMatchObject({ set: true, lockedUntil: null });
  });

  it("ends a session after 60 idle minutes, and any session 12 hours after sign-in", async () => {
    const s = await signIn(t, "kim");
    clock.advance(59 * MINUTE);
    expect((await withCookie(t, s.cookie, "/api/v1/auth/session")).status).toBe(200); // activity moves the idle deadline
    clock.advance(59 * MINUTE);
    expect((await withCookie(t, s.cookie, "/api/v1/auth/session")).status).toBe(200);
    clock.advance(61 * MINUTE);
    const idle = await withCookie(t, s.cookie, "/api/v1/auth/session");
    expect(idle.status).toBe(401);
    expect(idle.headers.getSetCookie().some((c) => c.startsWith("kb_session=;"))).toBe(true); // cleared

    const busy = await signIn(t, "kim");
    for (let elapsed = 0; elapsed < 12 * 60 - 30; elapsed += 30) {
      clock.advance(30 * MINUTE);
      expect((await withCookie(t, busy.cookie, "/api/v1/auth/session")).status).toBe(200);
    }
    clock.advance(30 * MINUTE); // 12 h after sign-in, however busy
    expect((await withCookie(t, busy.cookie, "/api/v1/auth/session")).status).toBe(401);
  });

  it("signs out: the session ends and the cookie is cleared", async () => {
    const s = await signIn(t, "kim");
    const out = await write(t, s, "/api/v1/auth/logout", "POST");
    expect(out.status).toBe(204);
    expect(out.headers.getSetCookie().some((c) => c.startsWith("kb_session=;") && c.includes("Path=/api"))).toBe(true);
    expect((await withCookie(t, s.cookie, "/api/v1/auth/session")).status).toBe(401);
    expect((await auditActions(t, "auth.logout")).some((e) => e.actor === "user:kim")).toBe(true);
  });

  it("disabling a user ends their sessions for good; deleting one too", async () => {
    await t.kb.accounts.createUser({ name: "choi", role: "viewer" });
    await t.kb.signIn.setPassword(SYSTEM_ACTOR, "choi", { password: PASSWORD });
    const s = await signIn(t, "choi");
    const admin = await signIn(t, "boss");
    expect((await write(t, admin, "/api/v1/admin/users/choi", "PATCH", { disabled: true })).status).toBe(200);
    expect((await withCookie(t, s.cookie, "/api/v1/auth/session")).status).toBe(401);
    expect((await login(t, "choi", PASSWORD)).status).toBe(401);
    expect((await write(t, admin, "/api/v1/admin/users/choi", "PATCH", { disabled: false })).status).toBe(200);
    expect((await withCookie(t, s.cookie, "/api/v1/auth/session")).status).toBe(401); // not revived
    const again = await signIn(t, "choi");
    expect((await write(t, admin, "/api/v1/admin/users/choi", "DELETE")).status).toBe(204);
    expect((await withCookie(t, again.cookie, "/api/v1/auth/session")).status).toBe(401);
  });

  it("changing one's own password needs the current one, keeps this session and ends the others; a reset ends them all", async () => {
    await t.kb.accounts.createUser({ name: "jung", role: "viewer" });
    await t.kb.signIn.setPassword(SYSTEM_ACTOR, "jung", { password: PASSWORD });
    const here = await signIn(t, "jung");
    const elsewhere = await signIn(t, "jung");
    const wrong = await write(t, here, "/api/v1/auth/password", "PUT", { currentPassword: "not it at all", newPassword: "another long passphrase" });
    expect(wrong.status).toBe(403);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe("wrong_password");
    const short = await write(t, here, "/api/v1/auth/password", "PUT", { currentPassword: PASSWORD, newPassword: "short" });
    expect(short.status).toBe(400);
    expect(await short.json()).toMatchObject({ error: { code: "password_too_short", message: expect.stringContaining("at least 12 characters") } });
    const ok = await write(t, here, "/api/v1/auth/password", "PUT", { currentPassword: PASSWORD, newPassword: "another long passphrase" });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ sessionsRevoked: 1 });
    expect((await withCookie(t, here.cookie, "/api/v1/auth/session")).status).toBe(200);
    expect((await withCookie(t, elsewhere.cookie, "/api/v1/auth/session")).status).toBe(401);
    expect((await login(t, "jung", PASSWORD)).status).toBe(401);

    const admin = await signIn(t, "boss");
    const reset = await write(t, admin, "/api/v1/admin/users/jung/password", "PUT", { generate: true });
    const { generated, sessionsRevoked } = (await reset.json()) as { generated: string; sessionsRevoked: number };
    expect(generated).toMatch(/^[A-Za-z0-9_-]{20}$/);
    expect(sessionsRevoked).toBe(1);
    expect((await withCookie(t, here.cookie, "/api/v1/auth/session")).status).toBe(401);
    expect((await login(t, "jung", generated)).status).toBe(200);
    const events = await auditActions(t, "user.password.set");
    expect(events.some((e) => e.actor === "user:boss" && e.target === "user:jung" && !JSON.stringify(e.details).includes(generated))).toBe(true);
  });

  it("lets an admin list and end a user's sessions; a viewer may not see another user's", async () => {
    const a = await signIn(t, "kim");
    const b = await signIn(t, "kim");
    const admin = await signIn(t, "boss");
    const list = (await (await withCookie(t, admin.cookie, "/api/v1/admin/users/kim/sessions")).json()) as { items: { id: string }[] };
    expect(list.items.length).toBeGreaterThanOrEqual(2);
    expect((await withCookie(t, a.cookie, "/api/v1/admin/users/boss/sessions")).status).toBe(403);
    const mine = (await (await withCookie(t, a.cookie, "/api/v1/admin/users/kim/sessions")).json()) as { items: { id: string }[] };
    expect(mine.items.length).toBe(list.items.length);
    const last = list.items.at(-1)!.id; // the newest: b
    expect((await write(t, admin, `/api/v1/admin/sessions/${last}`, "DELETE")).status).toBe(204);
    expect((await withCookie(t, b.cookie, "/api/v1/auth/session")).status).toBe(401);
    expect((await withCookie(t, a.cookie, "/api/v1/auth/session")).status).toBe(200);
    const all = await write(t, admin, "/api/v1/admin/users/kim/sessions", "DELETE");
    expect(((await all.json()) as { revoked: number }).revoked).toBeGreaterThanOrEqual(1);
    expect((await withCookie(t, a.cookie, "/api/v1/auth/session")).status).toBe(401);
    expect((await auditActions(t, "session.revoke")).length).toBe(1);
  });

  it("refuses cookie-authenticated writes without the CSRF token or from another origin (403 csrf); bearer writes need neither", async () => {
    const s = await signIn(t, "kim");
    const search = { query: "anything" };
    const noToken = await withCookie(t, s.cookie, "/api/v1/search", { method: "POST", headers: { "content-type": "application/json", origin: t.url }, body: JSON.stringify(search) });
    expect(noToken.status).toBe(403);
    expect(((await noToken.json()) as { error: { code: string } }).error.code).toBe("csrf");
    const wrongToken = await write(t, { ...s, csrf: s.csrf.slice(0, -2) + "xx" }, "/api/v1/search", "POST", search);
    expect(wrongToken.status).toBe(403);
    const otherOrigin = await write(t, s, "/api/v1/search", "POST", search, { origin: "https://evil.example" });
    expect(otherOrigin.status).toBe(403);
    expect(((await otherOrigin.json()) as { error: { code: string } }).error.code).toBe("csrf");
    const nullOrigin = await write(t, s, "/api/v1/search", "POST", search, { origin: "null" });
    expect(nullOrigin.status).toBe(403);
    // No Origin at all: only with Sec-Fetch-Site: same-origin.
    const bare = () => withCookie(t, s.cookie, "/api/v1/search", { method: "POST", headers: { "content-type": "application/json", "x-csrf-token": s.csrf }, body: JSON.stringify(search) });
    expect((await bare()).status).toBe(403);
    const fetchMeta = await withCookie(t, s.cookie, "/api/v1/search", { method: "POST", headers: { "content-type": "application/json", "x-csrf-token": s.csrf, "sec-fetch-site": "same-origin" }, body: JSON.stringify(search) });
    expect(fetchMeta.status).toBe(200);
    expect((await write(t, s, "/api/v1/search", "POST", search)).status).toBe(200);
    // A refused write is audited like any 403.
    expect((await auditActions(t, "access.denied")).some((e) => (e.details as { code?: string }).code === "csrf")).toBe(true);
    // Reads need no token.
    expect((await withCookie(t, s.cookie, "/api/v1/documents")).status).toBe(200);
    // Bearer tokens: no CSRF token, no Origin.
    const token = await t.tokenFor("bearer-only");
    const bearer = await t.fetchAs(token, "/api/v1/search", { method: "POST", headers: { "content-type": "application/json", origin: "https://evil.example" }, body: JSON.stringify(search) });
    expect(bearer.status).toBe(200);
  });

  it("refuses a browser's sign-in from another origin (login CSRF)", async () => {
    expect((await login(t, "kim", PASSWORD, { origin: "https://evil.example" })).status).toBe(403);
    expect((await login(t, "kim", PASSWORD, { "sec-fetch-site": "cross-site" })).status).toBe(403);
    expect((await login(t, "kim", PASSWORD, { origin: t.url })).status).toBe(200);
  });

  it("signs in again over a live or a stale cookie (another tab), with one new cookie", async () => {
    const s = await signIn(t, "kim");
    for (const cookie of [s.cookie, "kb_session=kbs_stale"]) {
      const again = await withCookie(t, cookie, "/api/v1/auth/login", { method: "POST", headers: { "content-type": "application/json", origin: t.url }, body: JSON.stringify({ name: "kim", password: PASSWORD }) });
      expect(again.status).toBe(200);
      const set = again.headers.getSetCookie().filter((c) => c.startsWith("kb_session="));
      expect(set).toHaveLength(1);
      expect(set[0]).not.toContain(s.cookie);
    }
  });

  it("never accepts the cookie on /v1 (bearer only), and a bearer header wins over a cookie on /api", async () => {
    const s = await signIn(t, "kim");
    expect((await withCookie(t, s.cookie, "/v1/models")).status).toBe(401);
    const chat = await withCookie(t, s.cookie, "/v1/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrf-token": s.csrf, origin: t.url },
      body: JSON.stringify({ model: "private-kb", messages: [{ role: "user", content: "hello" }] }),
    });
    expect(chat.status).toBe(401);
    const badBearer = await withCookie(t, s.cookie, "/api/v1/auth/session", { headers: { authorization: "Bearer kb_not-a-token" } });
    expect(badBearer.status).toBe(401);
  });
});

describe("the per-address limit", () => {
  it("counts every sign-in attempt against the address's budget for unauthenticated requests (429 + Retry-After)", async () => {
    const t = await startTestServer({ anonRateLimitPerMinute: 3 });
    try {
      await t.kb.accounts.createUser({ name: "kim", role: "viewer" });
      await t.kb.signIn.setPassword(SYSTEM_ACTOR, "kim", { password: PASSWORD });
      for (let i = 0; i < 3; i++) expect((await login(t, `guess${i}`, PASSWORD)).status).toBe(401);
      const limited = await login(t, "kim", PASSWORD);
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
      // A signed-in or token-bearing client is not charged: the limit is for the anonymous.
      const token = await t.tokenFor("reader");
      expect((await t.fetchAs(token, "/api/v1/auth/session")).status).toBe(200);
    } finally {
      await t.close();
    }
  });

  it("is stated in /openapi.json, where sign-in and providers need no authentication", async () => {
    const t = await startTestServer();
    try {
      const doc = (await (await fetch(`${t.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { security?: unknown[] }>>; components: { securitySchemes: Record<string, unknown> } };
      expect(doc.paths["/api/v1/auth/login"]!.post!.security).toEqual([]);
      expect(doc.paths["/api/v1/auth/providers"]!.get!.security).toEqual([]);
      expect(doc.paths["/api/v1/auth/session"]!.get).toBeDefined();
      expect(doc.components.securitySchemes.session).toMatchObject({ type: "apiKey", in: "cookie", name: "kb_session" });
    } finally {
      await t.close();
    }
  });
});

describe("sign-in settings", () => {
  it("reads KB_PUBLIC_URL as an origin and the session and lock-out lengths, refusing what is not an http(s) URL", () => {
    const c = loadConfig({ KB_PUBLIC_URL: "https://KB.example.com/some/path", KB_SESSION_IDLE_MINUTES: "30", KB_SESSION_MAX_HOURS: "8", KB_LOGIN_LOCK_AFTER: "3", KB_LOGIN_LOCK_MINUTES: "5" });
    expect(c).toMatchObject({ publicUrl: "https://kb.example.com", sessionIdleMs: 30 * MINUTE, sessionMaxMs: 8 * 60 * MINUTE, loginLockAfter: 3, loginLockMs: 5 * MINUTE });
    expect(loadConfig({})).toMatchObject({ publicUrl: undefined, sessionIdleMs: 60 * MINUTE, sessionMaxMs: 12 * 60 * MINUTE, loginLockAfter: 5, loginLockMs: 15 * MINUTE });
    expect(() => loadConfig({ KB_PUBLIC_URL: "kb.example.com" })).toThrow(/KB_PUBLIC_URL/);
    expect(() => loadConfig({ KB_PUBLIC_URL: "ftp://kb.example.com" })).toThrow(/KB_PUBLIC_URL/);
  });
});

describe("the Secure flag", () => {
  it("is set when KB_PUBLIC_URL is https", async () => {
    const t = await startTestServer({ publicUrl: "https://kb.example.com" });
    try {
      await t.kb.accounts.createUser({ name: "kim", role: "viewer" });
      await t.kb.signIn.setPassword(SYSTEM_ACTOR, "kim", { password: PASSWORD });
      const res = await login(t, "kim", PASSWORD);
      expect(sessionCookie(res).attributes).toContain("Secure");
      // The public origin is the server's own: writes from it pass.
      const s = { cookie: sessionCookie(res).pair, csrf: ((await res.json()) as { csrfToken: string }).csrfToken };
      expect((await write(t, s, "/api/v1/search", "POST", { query: "x" }, { origin: "https://kb.example.com" })).status).toBe(200);
    } finally {
      await t.close();
    }
  });

  it("follows X-Forwarded-Proto only from a trusted proxy", async () => {
    const trusted = await startTestServer({ trustedProxies: ["127.0.0.1", "::1"] });
    const untrusted = await startTestServer();
    try {
      for (const t of [trusted, untrusted]) {
        await t.kb.accounts.createUser({ name: "kim", role: "viewer" });
        await t.kb.signIn.setPassword(SYSTEM_ACTOR, "kim", { password: PASSWORD });
      }
      expect(sessionCookie(await login(trusted, "kim", PASSWORD, { "x-forwarded-proto": "https" })).attributes).toContain("Secure");
      expect(sessionCookie(await login(trusted, "kim", PASSWORD, { "x-forwarded-proto": "http" })).attributes).not.toContain("Secure");
      expect(sessionCookie(await login(untrusted, "kim", PASSWORD, { "x-forwarded-proto": "https" })).attributes).not.toContain("Secure");
    } finally {
      await trusted.close();
      await untrusted.close();
    }
  });
});

describe("first start", () => {
  it("gives the first admin a generated password in admin-credentials (mode 0600) that signs in, once", async () => {
    const previous = process.umask(0o022); // the file's mode must not depend on the umask
    const t = await openTestKb();
    try {
      const first = await ensureAdmin(t.kb);
      expect(first.passwordCreated).toBe(true);
      const file = path.join(t.dir, ADMIN_CREDENTIALS_FILE);
      expect(first.credentialsFile).toBe(file);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      const text = fs.readFileSync(file, "utf8");
      const name = /^name: (.+)$/m.exec(text)![1]!;
      const password = /^password: (.+)$/m.exec(text)![1]!;
      expect(name).toBe("admin");
      const signedIn = await t.kb.signIn.login({ name, password, client: "test" });
      expect(signedIn.actor.role).toBe("admin");
      const second = await ensureAdmin(t.kb);
      expect(second.passwordCreated).toBe(false);
      expect(fs.readFileSync(file, "utf8")).toBe(text);
    } finally {
      await t.close();
      process.umask(previous);
    }
  });
});

describe("backups", () => {
  it("keep admin-credentials with the admin token, as private as the data folder", async () => {
    const t = await openTestKb();
    const dest = fs.mkdtempSync(path.join(os.tmpdir(), "kb-backup-"));
    try {
      await ensureAdmin(t.kb);
      const manifest = await backup(t.dir, path.join(dest, "b"), () => {}, { databaseUrl: t.kb.config.databaseUrl });
      expect(manifest.extras).toEqual(expect.arrayContaining(["admin-token", ADMIN_CREDENTIALS_FILE]));
      const copy = path.join(dest, "b", ADMIN_CREDENTIALS_FILE);
      expect(fs.readFileSync(copy, "utf8")).toBe(fs.readFileSync(path.join(t.dir, ADMIN_CREDENTIALS_FILE), "utf8"));
      expect(fs.statSync(copy).mode & 0o777).toBe(0o600);
    } finally {
      await t.close();
      fs.rmSync(dest, { recursive: true, force: true });
    }
  });
});

describe("first start of this version on an older data folder", () => {
  it("gives an existing admin without a password a generated one, and leaves a user who has one alone", async () => {
    const t = await openTestKb();
    try {
      await t.kb.accounts.createUser({ name: "admin", role: "admin" }); // made by an earlier version: a token, no password
      const r = await ensureAdmin(t.kb);
      expect(r).toMatchObject({ created: false, passwordCreated: true });
      const password = /^password: (.+)$/m.exec(fs.readFileSync(r.credentialsFile!, "utf8"))![1]!;
      await expect(t.kb.signIn.login({ name: "admin", password, client: "test" })).resolves.toBeDefined();
      // The operator removed the file after reading it: no new password behind their back.
      fs.rmSync(r.credentialsFile!);
      const again = await ensureAdmin(t.kb);
      expect(again).toMatchObject({ passwordCreated: false, credentialsFile: null });
      await expect(t.kb.signIn.login({ name: "admin", password, client: "test" })).resolves.toBeDefined();
    } finally {
      await t.close();
    }
  });
});

describe("kb users passwd", () => {
  const run = promisify(execFile);
  const KB = path.resolve("bin/kb.js");
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let store: Awaited<ReturnType<typeof storeForFolder>>;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-passwd-"));
    store = await storeForFolder();
    env = { ...process.env, KB_DATA_DIR: dir, KB_EMBED_MODEL: "none", KB_LOG_LEVEL: "warn", ...store.env };
    await run(process.execPath, [KB, "users", "add", "kim"], { env, timeout: 60_000 });
  });
  afterAll(async () => {
    await store.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Runs `kb` with `input` on standard input; resolves with its exit code and output. */
  const kb = (args: string[], input: string) => spawnKb(args, input, env);

  async function canSignIn(name: string, password: string): Promise<boolean> {
    const t = await openTestKb({ dataDir: dir, ...store.overrides });
    try {
      await t.kb.signIn.login({ name, password, client: "test" });
      return true;
    } catch {
      return false;
    } finally {
      await t.kb.close(); // the data folder is this test's: only the helper's own temp folder goes
      fs.rmSync(t.dir, { recursive: true, force: true });
    }
  }

  it("sets a password read from standard input, refuses a short one clearly, and generates one", async () => {
    const set = await kb(["users", "passwd", "kim", "--password-stdin"], `${PASSWORD}\n`);
    expect(set.code).toBe(0);
    expect(set.stdout).toBe("");
    expect(await canSignIn("kim", PASSWORD)).toBe(true);

    const short = await kb(["users", "passwd", "kim", "--password-stdin"], "short\n");
    expect(short.code).toBe(1);
    expect(short.stderr).toContain("at least 12 characters");
    expect(await canSignIn("kim", PASSWORD)).toBe(true); // unchanged

    const generated = await kb(["users", "passwd", "kim", "--generate"], "");
    expect(generated.code).toBe(0);
    const password = generated.stdout.trim();
    expect(password).toMatch(/^[A-Za-z0-9_-]{20}$/);
    expect(await canSignIn("kim", password)).toBe(true);
    expect(await canSignIn("kim", PASSWORD)).toBe(false);
  }, 120_000);

  // util-linux `script` gives the command a terminal; without it this case cannot be driven.
  const SCRIPT = "/usr/bin/script";
  if (!fs.existsSync(SCRIPT)) console.log(`skipping the terminal case of kb users passwd: ${SCRIPT} is not installed`);
  it.skipIf(!fs.existsSync(SCRIPT))("asks twice on a terminal without echoing what is typed", async () => {
    const typed = "typed on a terminal 한글";
    const child = spawn(SCRIPT, ["-qec", `${process.execPath} ${KB} users passwd kim`, "/dev/null"], { env, stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    let answered = 0;
    child.stdout.on("data", (d) => {
      out += d;
      // Answer each prompt when it appears (no fixed waits).
      if (answered === 0 && out.includes("new password:")) {
        answered = 1;
        child.stdin.write(`${typed}\r`);
      } else if (answered === 1 && out.includes("again:")) {
        answered = 2;
        child.stdin.write(`${typed}\r`);
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(0);
    expect(out).toContain("password of kim set");
    expect(out).not.toContain("typed on a terminal");
    expect(await canSignIn("kim", typed)).toBe(true);
  }, 120_000);
});
