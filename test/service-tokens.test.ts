/**
 * Issue 13 part 6 through the real HTTP server: scoped API tokens (a token keeps only what both
 * its user's role and its scopes allow; anything else is 403 `scope_denied`, audited as
 * `auth.scope_denied`), per-token rate limits, service accounts (tokens only, never a password
 * sign-in), and no configuration value in /readyz or the admin status.
 */
import crypto from "node:crypto";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { hashPassword, SESSION_TOKEN_PREFIX } from "../src/services/sign-in.ts";
import { sha256Hex } from "../src/stores/ids.ts";
import { ingestNow, startTestServer, writeFiles, type TestServer } from "./helpers/kb.ts";

const PASSWORD = "correct horse battery staple";
const json = (method: string, body?: unknown) => ({ method, headers: { "content-type": "application/json" }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });

async function call(t: TestServer, token: string, method: string, p: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await t.fetchAs(token, p, method === "GET" ? {} : json(method, body));
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

function upload(t: TestServer, token: string): Promise<Response> {
  const form = new FormData();
  form.append("file", new Blob(["A new note about vacations."], { type: "text/plain" }), "note.txt");
  return t.fetchAs(token, "/api/v1/documents", { method: "POST", body: form });
}

describe("scoped tokens", () => {
  let t: TestServer;
  let docId: string;
  let full: string; // the admin's unscoped token
  beforeAll(async () => {
    t = await startTestServer({ rateLimitPerMinute: 0 });
    full = await t.tokenFor("root", "admin");
    const files = writeFiles(path.join(t.dir, "corpus"), { "handbook.txt": "The employee handbook explains the vacation policy. Vacation requests go through the portal." });
    const { job, documents } = await ingestNow(t.kb, [{ source: files[0]!, path: files[0]! }]);
    expect(job.status).toBe("succeeded");
    docId = documents[0]!.id;
  });
  afterAll(() => t?.close());

  it("a search-only token (of an admin) searches, and is refused everything else with 403 scope_denied, audited", async () => {
    const created = await call(t, full, "POST", "/api/v1/admin/users/root/tokens", { name: "search bot", scopes: ["search"] });
    expect(created.status).toBe(201);
    expect(created.body.info).toMatchObject({ scopes: ["search"], rateLimitPerMinute: null });
    const token = created.body.token as string;

    const found = await call(t, token, "POST", "/api/v1/search", { query: "vacation policy" });
    expect(found.status).toBe(200);
    expect(found.body.results.map((r: { documentId: string }) => r.documentId)).toContain(docId);

    // The admin's role allows every one of these; the token's scope does not.
    const refused = [
      await call(t, token, "GET", "/api/v1/admin/users"),
      await call(t, token, "POST", "/api/v1/admin/users", { name: "mallory", role: "admin" }),
      await call(t, token, "GET", "/api/v1/audit"),
      await call(t, token, "POST", "/api/v1/ask", { question: "What is the vacation policy?" }),
      await call(t, token, "GET", "/api/v1/documents"),
      await call(t, token, "GET", `/api/v1/documents/${docId}`),
      await call(t, token, "DELETE", `/api/v1/documents/${docId}`),
    ];
    for (const r of refused) {
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe("scope_denied");
    }
    const up = await upload(t, token);
    expect(up.status).toBe(403);
    expect(((await up.json()) as { error: { code: string } }).error.code).toBe("scope_denied");
    // Nothing was done: the user was not created, the document is still there.
    expect((await t.kb.accounts.listUsers()).some((u) => u.name === "mallory")).toBe(false);
    expect((await call(t, full, "GET", `/api/v1/documents/${docId}`)).status).toBe(200);

    // Who am I: the capabilities are the role's narrowed to the scope.
    const me = await call(t, token, "GET", "/api/v1/me");
    expect(me.body).toMatchObject({ name: "root", role: "admin", scopes: ["search"] });
    expect([...me.body.capabilities].sort()).toEqual(["read_all_documents", "search", "view_sensitive"]);

    const denied = await t.kb.audit.repository.query({ action: "auth.scope_denied", limit: 100 });
    expect(denied.length).toBe(refused.length + 1);
    expect(denied.find((e) => e.target === "POST /api/v1/admin/users")).toMatchObject({
      actor: "user:root",
      outcome: "denied",
      details: { action: "create", resource: "users", scopes: ["search"], tokenId: created.body.info.id },
    });
  });

  it("an unscoped token keeps everything its role allows; scopes never add to the role", async () => {
    expect((await call(t, full, "GET", "/api/v1/admin/users")).status).toBe(200);
    expect((await call(t, full, "GET", "/api/v1/me")).body.scopes).toBeNull();
    // A viewer's admin-scoped token: the scope names user management, the role does not.
    await t.kb.accounts.createUser({ name: "kim", role: "viewer" });
    const { token } = await t.kb.admin.createToken(SYSTEM_ACTOR, "kim", { scopes: ["admin", "search"] });
    const r = await call(t, token, "GET", "/api/v1/admin/users");
    expect(r.status).toBe(403);
    expect(r.body.error.code).toBe("forbidden"); // the role's refusal, not the scope's
    expect((await call(t, token, "GET", "/api/v1/me")).body.capabilities).toEqual(["search"]);
    expect((await call(t, token, "POST", "/api/v1/search", { query: "vacation" })).status).toBe(200);
  });

  it("an admin-scoped token administers but cannot search; write_documents uploads but cannot administer", async () => {
    const admin = (await t.kb.admin.createToken(SYSTEM_ACTOR, "root", { scopes: ["admin"] })).token;
    expect((await call(t, admin, "GET", "/api/v1/admin/users")).status).toBe(200);
    expect((await call(t, admin, "POST", "/api/v1/search", { query: "vacation" })).status).toBe(403);

    const writer = (await t.kb.admin.createToken(SYSTEM_ACTOR, "root", { scopes: ["write_documents"] })).token;
    expect((await upload(t, writer)).status).toBe(202);
    expect((await call(t, writer, "GET", "/api/v1/admin/users")).status).toBe(403);
    expect((await call(t, writer, "POST", "/api/v1/ask", { question: "vacation?" })).status).toBe(403);

    const ask = (await t.kb.admin.createToken(SYSTEM_ACTOR, "root", { scopes: ["ask"] })).token;
    expect((await call(t, ask, "POST", "/api/v1/ask", { question: "What is the vacation policy?" })).status).toBe(200);
    expect((await call(t, ask, "POST", "/api/v1/search", { query: "vacation" })).status).toBe(403);
    // The OpenAI-compatible API is asking too.
    const chat = { messages: [{ role: "user", content: "What is the vacation policy?" }] };
    expect((await call(t, ask, "POST", "/v1/chat/completions", chat)).status).toBe(200);
    const searchOnly = (await t.kb.admin.createToken(SYSTEM_ACTOR, "root", { scopes: ["search"] })).token;
    const refused = await call(t, searchOnly, "POST", "/v1/chat/completions", chat);
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe("scope_denied");
  });

  it("refuses unknown scopes and an empty scope list", async () => {
    const unknown = await call(t, full, "POST", "/api/v1/admin/users/root/tokens", { scopes: ["everything"] });
    expect(unknown.status).toBe(400);
    await expect(t.kb.admin.createToken(SYSTEM_ACTOR, "root", { scopes: ["search", "root"] })).rejects.toThrow(/unknown scope "root"/);
    await expect(t.kb.admin.createToken(SYSTEM_ACTOR, "root", { scopes: [] })).rejects.toThrow(/at least one scope/);
  });
});

describe("per-token rate limits", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ rateLimitPerMinute: 100 });
  });
  afterAll(() => t?.close());

  it("a token with its own limit gets its own bucket of that size; other tokens of the same user keep the server's", async () => {
    await t.kb.accounts.createUser({ name: "bot", role: "viewer", kind: "service" });
    const { token, info } = await t.kb.admin.createToken(SYSTEM_ACTOR, "bot", { scopes: ["search"], rateLimitPerMinute: 3 });
    expect(info.rateLimitPerMinute).toBe(3);
    const other = (await t.kb.admin.createToken(SYSTEM_ACTOR, "bot", {})).token;
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await call(t, token, "POST", "/api/v1/search", { query: "vacation" })).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const refused = await call(t, token, "GET", "/api/v1/me");
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    // The server's limit (100 a minute) still applies to the user's other token.
    for (let i = 0; i < 6; i++) expect((await call(t, other, "POST", "/api/v1/search", { query: "vacation" })).status).toBe(200);
  });

  it("a token's own limit may be higher than the server's", async () => {
    const server = await startTestServer({ rateLimitPerMinute: 2 });
    try {
      await server.kb.accounts.createUser({ name: "bot", role: "viewer" });
      const plain = (await server.kb.admin.createToken(SYSTEM_ACTOR, "bot")).token;
      const roomy = (await server.kb.admin.createToken(SYSTEM_ACTOR, "bot", { rateLimitPerMinute: 10 })).token;
      const plainStatuses: number[] = [];
      const roomyStatuses: number[] = [];
      for (let i = 0; i < 3; i++) plainStatuses.push((await call(server, plain, "GET", "/api/v1/me")).status);
      for (let i = 0; i < 3; i++) roomyStatuses.push((await call(server, roomy, "GET", "/api/v1/me")).status);
      expect(plainStatuses).toEqual([200, 200, 429]);
      expect(roomyStatuses).toEqual([200, 200, 200]);
    } finally {
      await server.close();
    }
  });

  it("refuses a negative or fractional limit", async () => {
    await expect(t.kb.admin.createToken(SYSTEM_ACTOR, "bot", { rateLimitPerMinute: -1 })).rejects.toThrow(/invalid rate limit/);
    await expect(t.kb.admin.createToken(SYSTEM_ACTOR, "bot", { rateLimitPerMinute: 1.5 })).rejects.toThrow(/invalid rate limit/);
  });
});

describe("service accounts", () => {
  let t: TestServer;
  let admin: string;
  beforeAll(async () => {
    t = await startTestServer({ rateLimitPerMinute: 0 });
    admin = await t.tokenFor("root", "admin");
  });
  afterAll(() => t?.close());

  const login = (name: string, password: string) =>
    fetch(`${t.url}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name, password }) });

  it("is created through the admin API, listed with its kind, uses tokens, and can never sign in with a password", async () => {
    const created = await call(t, admin, "POST", "/api/v1/admin/users", { name: "crawler", kind: "service", role: "viewer" });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: "crawler", kind: "service", role: "viewer" });
    const list = await call(t, admin, "GET", "/api/v1/admin/users");
    expect(list.body.items.find((u: { name: string }) => u.name === "crawler")).toMatchObject({ kind: "service" });
    expect(list.body.items.find((u: { name: string }) => u.name === "root")).toMatchObject({ kind: "person" });

    // No password can be set on it.
    const set = await call(t, admin, "PUT", "/api/v1/admin/users/crawler/password", { password: PASSWORD });
    expect(set.status).toBe(400);
    expect(set.body.error.code).toBe("service_account");
    // Even a password hash stored behind the service's back signs nobody in, with the same answer as a wrong password.
    const crawler = (await t.kb.accounts.listUsers()).find((u) => u.name === "crawler")!;
    await t.kb.metadata.credentials.set(crawler.id, await hashPassword(PASSWORD), new Date().toISOString());
    const res = await login("crawler", PASSWORD);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("invalid_credentials");
    expect(res.headers.getSetCookie()).toEqual([]);

    // A person with the same stored password does sign in (the refusal is the kind, not the hash).
    await t.kb.accounts.createUser({ name: "kim", role: "viewer" });
    await t.kb.signIn.setPassword(SYSTEM_ACTOR, "kim", { password: PASSWORD });
    expect((await login("kim", PASSWORD)).status).toBe(200);

    const token = (await call(t, admin, "POST", "/api/v1/admin/users/crawler/tokens", { scopes: ["search"] })).body.token as string;
    expect((await call(t, token, "POST", "/api/v1/search", { query: "anything" })).status).toBe(200);
  });

  it("a session row of a service account (however it was written) authenticates nothing", async () => {
    const crawler = (await t.kb.accounts.listUsers()).find((u) => u.name === "crawler")!;
    const now = Date.now();
    const session = `${SESSION_TOKEN_PREFIX}${crypto.randomBytes(32).toString("base64url")}`;
    await t.kb.metadata.sessions.insert({
      id: "ses_forged",
      userId: crawler.id,
      tokenHash: sha256Hex(session),
      createdAt: new Date(now).toISOString(),
      lastSeenAt: new Date(now).toISOString(),
      expiresAt: new Date(now + 3_600_000).toISOString(),
      revokedAt: null,
      client: "127.0.0.1",
      userAgent: null,
      method: "password",
      provider: null,
      opSid: null,
      idToken: null,
    });
    const res = await fetch(`${t.url}/api/v1/auth/session`, { headers: { cookie: `kb_session=${session}` } });
    expect(res.status).toBe(401);
    // The same row for a person is a live session (the refusal is the account's kind).
    const kim = (await t.kb.accounts.listUsers()).find((u) => u.name === "kim")!;
    await t.kb.metadata.sessions.insert({ id: "ses_person", userId: kim.id, tokenHash: sha256Hex(`${session}x`), createdAt: new Date(now).toISOString(), lastSeenAt: new Date(now).toISOString(), expiresAt: new Date(now + 3_600_000).toISOString(), revokedAt: null, client: "127.0.0.1", userAgent: null, method: "password", provider: null, opSid: null, idToken: null });
    expect((await fetch(`${t.url}/api/v1/auth/session`, { headers: { cookie: `kb_session=${session}x` } })).status).toBe(200);
  });
});

describe("no configuration value in /readyz or the admin status", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ rateLimitPerMinute: 0, publicUrl: "https://kb.example.internal:8443" });
  });
  afterAll(() => t?.close());

  it("answers with modes, models and counts, never a path, URL or other setting of the configuration", async () => {
    const admin = await t.tokenFor("root", "admin");
    const bodies = [
      await (await t.fetchAs(null, "/readyz")).text(),
      await (await t.fetchAs(admin, "/readyz")).text(),
      await (await t.fetchAs(admin, "/api/v1/admin/status")).text(),
    ];
    expect(JSON.parse(bodies[2]!)).toHaveProperty("index");
    const values = Object.entries(t.kb.config)
      .filter(([, v]) => typeof v === "string" && v.length >= 6)
      .map(([k, v]) => [k, v as string] as const);
    expect(values.map(([k]) => k)).toEqual(expect.arrayContaining(["dataDir", "publicUrl"]));
    for (const body of bodies) for (const [key, value] of values) expect(body.includes(value), `${key} appears in ${body}`).toBe(false);
  });
});
