/**
 * The MCP server (issue 18) with the SDK's own client: over Streamable HTTP against the real
 * server on loopback, and over stdio through `kb mcp` (bin/kb.js, a child process on the same
 * data folder). Tool results are compared with the API's answers for the same user, two users with
 * different access see different results, a random-ACL property checks that no tool result,
 * list or error carries a document its caller may not read, tokens are required, and every call
 * is audited.
 */
import { execFile } from "node:child_process";
import path from "node:path";
import { promisify } from "node:util";
import Ajv from "ajv";
import fc from "fast-check";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { createMcpServer } from "../src/mcp/server.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ingestNow, startTestServer, withoutRequestId, writeFiles, type TestServer } from "./helpers/kb.ts";
import { startModelServer, type ModelServer } from "./helpers/openai-compatible-server.ts";
import { GGUF, HAS_GGUF, NO_GGUF_REASON } from "./llm/fixtures.ts";

if (!HAS_GGUF) console.warn(`${NO_GGUF_REASON} (MCP cancellation tests; the rest still run)`);

const KB = path.resolve("bin/kb.js");
const run = promisify(execFile);
const json = (body: unknown) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

let t: TestServer;
let kim: string; // viewer in group hr: reads everything below
let lee: string; // viewer without groups: not the hr folder
const ids: Record<string, string> = {};
const clients: Client[] = [];

const DOCS = {
  "public/vpn-guide.txt": "VPN guide. If the VPN connection drops, switch to the wired connection and restart the VPN client. Call the help desk at extension 4100 if it still fails.",
  "public/휴가규정.txt": "휴가 규정. 직원은 매년 15일의 유급 연차 휴가를 받는다. 사용하지 않은 연차는 1년간 이월할 수 있다.",
  "hr/salary-bands.txt": "Salary bands 2025. The salary band for engineers is confidential: band E3 pays 91 million won. 연봉 등급표: 엔지니어 E3 등급은 연봉 9100만 원이다.",
};

async function connect(token: string | null): Promise<Client> {
  const client = new Client({ name: "mcp-test", version: "1" });
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  await client.connect(new StreamableHTTPClientTransport(new URL(`${t.url}/mcp`), { requestInit: { headers } }));
  clients.push(client);
  return client;
}

const call = async (client: Client, name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as CallToolResult;
const structured = (r: CallToolResult) => {
  expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
  return r.structuredContent as any;
};
const api = async (token: string, pathname: string, init?: RequestInit) => {
  const res = await t.fetchAs(token, pathname, init);
  return { status: res.status, body: (await res.json()) as any };
};
/** The API's ask answer without the conversation an /api/v1/ask turn is stored in (an MCP ask stores none). */
const answerOf = ({ conversationId: _c, messageId: _m, ...rest }: any) => rest;

beforeAll(async () => {
  t = await startTestServer({ rateLimitPerMinute: 0 });
  kim = await t.tokenFor("kim", "viewer", ["hr"]);
  lee = await t.tokenFor("lee", "viewer");
  const files = writeFiles(path.join(t.dir, "corpus"), DOCS);
  const { job, documents } = await ingestNow(
    t.kb,
    files.map((f) => ({ source: f, path: f, allow: f.includes("/hr/") ? ["group:hr"] : ["group:everyone"] })),
  );
  expect(job.status).toBe("succeeded");
  for (const [i, name] of Object.keys(DOCS).entries()) ids[name] = documents[i]!.id;
});
afterAll(async () => {
  for (const c of clients) await c.close().catch(() => {});
  await t?.close();
});

describe("MCP over Streamable HTTP (/mcp)", () => {
  it("lists the four read-only tools with valid JSON schemas and Korean and English descriptions", async () => {
    const { tools } = await (await connect(kim)).listTools();
    expect(tools.map((x) => x.name).sort()).toEqual(["ask", "get_document_page", "list_sources", "search"]);
    const ajv = new Ajv({ strict: false } as never);
    for (const tool of tools) {
      expect(tool.inputSchema.type).toBe("object");
      expect(tool.outputSchema?.type).toBe("object");
      // Each schema is draft-07 JSON Schema and compiles in a draft-07 validator.
      for (const schema of [tool.inputSchema, tool.outputSchema!]) {
        expect(schema.$schema).toBe("http://json-schema.org/draft-07/schema#");
        expect(() => ajv.compile(schema)).not.toThrow();
      }
      for (const [field, property] of Object.entries(tool.inputSchema.properties ?? {})) expect((property as { description?: string }).description, `${tool.name}.${field}`).toMatch(/[가-힣].*\/ [A-Za-z]/);
      expect(tool.description).toMatch(/[가-힣]/);
      expect(tool.description).toMatch(/[A-Za-z]{4,}/);
      expect(tool.annotations?.readOnlyHint).toBe(true);
    }
    const search = tools.find((x) => x.name === "search")!;
    expect(Object.keys(search.inputSchema.properties ?? {}).sort()).toEqual(["query", "scope", "topK"]);
    expect(search.inputSchema.required).toEqual(["query"]);
    const valid = new Ajv({ strict: false } as never).compile(search.inputSchema);
    expect(valid({ query: "vpn", topK: 3 })).toBe(true);
    expect(valid({ topK: 3 })).toBe(false);
  });

  it("answers search, ask and get_document_page exactly as the API does for the same user", async () => {
    for (const [token, client] of [
      [kim, await connect(kim)],
      [lee, await connect(lee)],
    ] as const) {
      for (const query of ["VPN connection drops", "연차 휴가 이월", "salary band 연봉"]) {
        const viaMcp = structured(await call(client, "search", { query, topK: 5 }));
        const viaApi = await api(token, "/api/v1/search", json({ query, topK: 5 }));
        expect(viaApi.status).toBe(200);
        expect(viaMcp).toEqual(viaApi.body);
      }
      for (const question of ["What should I do if the VPN connection drops?", "사용하지 않은 연차는 어떻게 되나요?"]) {
        const viaMcp = structured(await call(client, "ask", { question }));
        const viaApi = await api(token, "/api/v1/ask", json({ question }));
        expect(viaMcp).toEqual(answerOf(viaApi.body));
        expect(viaMcp.found).toBe(true);
        expect(viaMcp.citations.length).toBeGreaterThan(0);
      }
      const page = structured(await call(client, "get_document_page", { documentId: ids["public/휴가규정.txt"], page: 1 }));
      expect(page).toEqual((await api(token, `/api/v1/documents/${ids["public/휴가규정.txt"]}/pages/1`)).body);
      expect(page.text).toContain("15일");
    }
  });

  it("answers a Korean and an English question with citations, and two users see different documents", async () => {
    const [k, l] = [await connect(kim), await connect(lee)];
    const en = structured(await call(k, "ask", { question: "What does salary band E3 pay engineers?" }));
    expect(en.citations.map((c: any) => c.documentId)).toContain(ids["hr/salary-bands.txt"]);
    const ko = structured(await call(k, "ask", { question: "엔지니어 E3 등급의 연봉은 얼마인가요?" }));
    expect(ko.citations.map((c: any) => c.documentId)).toContain(ids["hr/salary-bands.txt"]);
    expect(ko.answer).toMatch(/9100만/);

    for (const question of ["What does salary band E3 pay engineers?", "엔지니어 E3 등급의 연봉은 얼마인가요?"]) {
      const other = structured(await call(l, "ask", { question }));
      expect(JSON.stringify(other)).not.toContain(ids["hr/salary-bands.txt"]);
      expect(JSON.stringify(other)).not.toMatch(/9100|91 million/);
    }
    const kimSearch = structured(await call(k, "search", { query: "salary band E3 연봉", topK: 10 }));
    const leeSearch = structured(await call(l, "search", { query: "salary band E3 연봉", topK: 10 }));
    expect(kimSearch.results.map((r: any) => r.documentId)).toContain(ids["hr/salary-bands.txt"]);
    expect(leeSearch.results.map((r: any) => r.documentId)).not.toContain(ids["hr/salary-bands.txt"]);

    // list_sources: kim's folders include hr/, lee's do not; counts are of readable documents only.
    const kimSources = structured(await call(k, "list_sources", {}));
    const leeSources = structured(await call(l, "list_sources", {}));
    expect(kimSources.documents).toBe(3);
    expect(leeSources.documents).toBe(2);
    expect(kimSources.folders.map((f: any) => f.folder.replace(/.*corpus/, ""))).toEqual(["/hr/", "/public/"]);
    expect(leeSources.folders.map((f: any) => f.folder.replace(/.*corpus/, ""))).toEqual(["/public/"]);
    expect(leeSources.types).toEqual([{ type: "txt", documents: 2 }]);
    // A listed folder is a scope the search takes.
    const scoped = structured(await call(k, "search", { query: "salary VPN 연차", topK: 10, scope: { folder: kimSources.folders[0].folder } }));
    expect(new Set(scoped.results.map((r: any) => r.documentId))).toEqual(new Set([ids["hr/salary-bands.txt"]]));
  });

  it("gives a hidden document the same not-found error as a missing one", async () => {
    const l = await connect(lee);
    const hidden = await call(l, "get_document_page", { documentId: ids["hr/salary-bands.txt"], page: 1 });
    const missing = await call(l, "get_document_page", { documentId: "no-such-document", page: 1 });
    expect(hidden.isError).toBe(true);
    expect(hidden.structuredContent).toEqual({ error: { code: "not_found", message: "document not found" } });
    expect(withoutRequestId(hidden.structuredContent)).toEqual(missing.structuredContent);
    expect(hidden.content).toEqual(missing.content);
    // The API says the same.
    expect(withoutRequestId((await api(lee, `/api/v1/documents/${ids["hr/salary-bands.txt"]}/pages/1`)).body)).toEqual(hidden.structuredContent);
    // Past the last page of a readable document: the API's page_not_found.
    const past = await call(l, "get_document_page", { documentId: ids["public/vpn-guide.txt"], page: 9 });
    expect((past.structuredContent as any).error.code).toBe("page_not_found");
  });

  it("streams ask progress to a client that asks for it", async () => {
    const progress: { progress: number; message?: string }[] = [];
    const client = await connect(kim);
    const r = (await client.callTool({ name: "ask", arguments: { question: "VPN connection drops" } }, undefined, { onprogress: (p) => void progress.push(p) })) as CallToolResult;
    expect(structured(r).found).toBe(true);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[0]!.message).toMatch(/passages found/);
    expect(progress.map((p) => p.progress)).toEqual(progress.map((_, i) => i + 1));
  });

  it("refuses a missing or invalid token with 401, on the HTTP level", async () => {
    const init = { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }) };
    const none = await t.fetchAs(null, "/mcp", init);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect((await t.fetchAs("kb_not-a-token", "/mcp", init)).status).toBe(401);
    await expect(connect(null)).rejects.toThrow(/401|nauthorized/);
    await expect(connect("kb_not-a-token")).rejects.toThrow(/401|nauthorized/);
    // A stateless server: no standalone stream, no session to delete.
    expect((await t.fetchAs(kim, "/mcp", { method: "GET", headers: { accept: "text/event-stream" } })).status).toBe(405);
  });

  it("applies the token's rate limit as the API does: 429 + Retry-After", async () => {
    const { token } = await t.kb.accounts.createToken("lee", { rateLimitPerMinute: 3 });
    const list = () =>
      t.fetchAs(token, "/mcp", {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 9, method: "tools/list" }),
      });
    for (let i = 0; i < 3; i++) expect((await list()).status).toBe(200);
    const res = await list();
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("audits every call, with the MCP channel", async () => {
    const client = await connect(kim);
    const before = (await t.kb.audit.repository.query({ actor: "user:kim", limit: 1 }))[0]?.id ?? 0;
    await call(client, "search", { query: "VPN" });
    await call(client, "ask", { question: "VPN connection drops" });
    await call(client, "get_document_page", { documentId: ids["public/vpn-guide.txt"], page: 1 });
    await call(client, "list_sources", {});
    const rows = (await t.kb.audit.repository.query({ actor: "user:kim", limit: 50 })).filter((r) => r.id > before).reverse();
    expect(rows.map((r) => [r.action, r.details?.via])).toEqual([
      ["search", "mcp"],
      ["ask", "mcp"],
      ["document.page", "mcp"],
      ["document.sources", "mcp"],
    ]);
    expect(rows[2]!.target).toBe(ids["public/vpn-guide.txt"]);
    // An MCP ask stores no conversation (no tool writes anything).
    expect(rows[1]!.details?.conversationId).toBeUndefined();
  });

  it("keeps a token to its scopes: a search-only token is offered search alone, and refused the rest", async () => {
    const { token } = await t.kb.accounts.createToken("lee", { scopes: ["search"] });
    const client = await connect(token);
    expect((await client.listTools()).tools.map((x) => x.name)).toEqual(["search"]);
    expect(structured(await call(client, "search", { query: "VPN" })).results.length).toBeGreaterThan(0);
    for (const [name, args] of [
      ["ask", { question: "VPN connection drops" }],
      ["get_document_page", { documentId: ids["public/vpn-guide.txt"], page: 1 }],
      ["list_sources", {}],
    ] as const) {
      const refused = await call(client, name, args);
      expect(refused.isError).toBe(true);
      expect(JSON.stringify(refused.content)).toMatch(new RegExp(`Tool ${name} disabled`));
    }
    const { token: reader } = await t.kb.accounts.createToken("lee", { scopes: ["read_documents"] });
    expect((await (await connect(reader)).listTools()).tools.map((x) => x.name).sort()).toEqual(["get_document_page", "list_sources"]);
    // Nothing answered, nothing audited as done.
    const rows = await t.kb.audit.repository.query({ actor: "user:lee", action: "ask", limit: 50 });
    expect(rows.filter((r) => r.details?.via === "mcp" && r.details?.question === "VPN connection drops")).toEqual([]);
  });
});

describe("a call refused by the service", () => {
  it("is the API's scope_denied, audited as auth.scope_denied (a tool listed before the caller's rights shrank)", async () => {
    // As in a long-running `kb mcp` whose actor is authenticated again at each call: listed for
    // the whole role, called with a search-only token's actor.
    const { token } = await t.kb.accounts.createToken("lee", { scopes: ["search"] });
    const narrowed = (await t.kb.accounts.authenticate(token))!.actor;
    const whole = (await t.kb.accounts.authenticate(lee))!.actor;
    const server = createMcpServer(t.kb, { actor: async () => narrowed, listedFor: whole, via: "mcp-test", request: "test" });
    const [a, b] = InMemoryTransport.createLinkedPair();
    await server.connect(a);
    const client = new Client({ name: "in-memory", version: "1" });
    await client.connect(b);
    clients.push(client);
    const refused = await call(client, "ask", { question: "VPN connection drops" });
    expect(refused.isError).toBe(true);
    expect((refused.structuredContent as any).error.code).toBe("scope_denied");
    const denied = await t.kb.audit.repository.query({ action: "auth.scope_denied", actor: "user:lee", limit: 5 });
    expect(denied[0]!.details).toMatchObject({ via: "mcp-test", scopes: ["search"] });
    expect(denied[0]!.target).toBe("test");
  });
});

describe("no tool result, list or error carries a document its caller may not read (random ACLs)", () => {
  const USERS = ["p0", "p1", "p2", "p3"];
  const GROUPS = ["g0", "g1", "g2"];
  const N = 6;
  const memberships = new Map<string, string[]>();
  const acls: { allow: string[]; deny: string[] }[] = [];
  const tokens = new Map<string, string>();
  const docIds: string[] = [];
  let files: string[] = [];

  const visible = (user: string, acl: { allow: string[]; deny: string[] }) => {
    const mine = new Set([`user:${user}`, "group:everyone", ...(memberships.get(user) ?? []).map((g) => `group:${g}`)]);
    return acl.allow.some((p) => mine.has(p)) && !acl.deny.some((p) => mine.has(p));
  };
  const principal = fc.oneof(fc.constantFrom(...USERS).map((u) => `user:${u}`), fc.constantFrom(...GROUPS).map((g) => `group:${g}`), fc.constant("group:everyone"));
  const aclArb = fc.record({ allow: fc.uniqueArray(principal, { minLength: 1, maxLength: 3 }), deny: fc.uniqueArray(principal, { maxLength: 2 }) });

  beforeAll(async () => {
    const groups = fc.sample(fc.uniqueArray(fc.constantFrom(...GROUPS), { maxLength: 2 }), { numRuns: USERS.length, seed: 5 });
    for (const [i, u] of USERS.entries()) {
      memberships.set(u, groups[i]!);
      tokens.set(u, await t.tokenFor(u, "viewer", groups[i]!));
    }
    const initial = fc.sample(aclArb, { numRuns: N, seed: 3 });
    files = writeFiles(
      path.join(t.dir, "acl"),
      Object.fromEntries(initial.map((_, i) => [`team${i}/memo${i}.txt`, `Team memo number ${i}. The codeword of this memo is lynx${i}q. 팀 메모 ${i}번입니다.`])),
    );
    const { documents } = await ingestNow(t.kb, files.map((f, i) => ({ source: f, path: f, ...initial[i]! })));
    acls.push(...initial);
    docIds.push(...documents.map((d) => d.id));
  });

  it("holds for random users while ACLs change between calls", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...USERS), fc.option(fc.tuple(fc.integer({ min: 0, max: N - 1 }), aclArb), { nil: undefined }), fc.integer({ min: 0, max: N - 1 }), async (user, change, target) => {
        if (change) {
          const [i, acl] = change;
          await ingestNow(t.kb, [{ source: files[i]!, path: files[i]!, ...acl }]);
          acls[i] = acl;
        }
        const allowed = new Set(docIds.filter((_, i) => visible(user, acls[i]!)));
        const hidden = docIds.filter((id) => !allowed.has(id));
        const client = await connect(tokens.get(user)!);
        const seen = (value: unknown) => {
          const text = JSON.stringify(value);
          for (const [i, id] of docIds.entries()) {
            if (allowed.has(id)) continue;
            expect(text).not.toContain(id);
            expect(text).not.toContain(`lynx${i}q`);
            expect(text).not.toContain(`memo${i}.txt`);
          }
        };
        const search = await call(client, "search", { query: "team memo codeword 팀 메모", topK: 50 });
        seen(search);
        const found = new Set(structured(search).results.map((r: any) => r.documentId).filter((id: string) => docIds.includes(id)));
        expect(found).toEqual(allowed); // and everything readable stays findable

        seen(await call(client, "ask", { question: `What is the codeword of team memo number ${target}?` }));
        seen(await call(client, "ask", { question: `팀 메모 ${target}번의 코드워드는?` }));
        seen(await call(client, "list_sources", {}));
        const page = await call(client, "get_document_page", { documentId: docIds[target]!, page: 1 });
        if (allowed.has(docIds[target]!)) expect(structured(page).text).toContain(`lynx${target}q`);
        else {
          expect(page.structuredContent).toEqual({ error: { code: "not_found", message: "document not found" } });
          seen(page);
        }
        expect(hidden.length + allowed.size).toBe(N);
        await client.close();
      }),
      { numRuns: 25, seed: 18 },
    );
  });
});

describe("MCP over stdio (kb mcp)", () => {
  const env = (): Record<string, string> => ({
    ...(process.env as Record<string, string>),
    KB_DATA_DIR: t.dir,
    KB_EMBED_MODEL: "none",
    KB_LLM_MODEL: "",
    KB_LOG_LEVEL: "warn",
    ...(t.kb.config.databaseUrl ? { KB_DATABASE_URL: t.kb.config.databaseUrl } : {}),
  });

  it("refuses to start without a valid token", async () => {
    const { KB_TOKEN: _t, ...noToken } = env();
    const missing = await run(process.execPath, [KB, "mcp"], { env: noToken }).catch((e) => e);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/needs an API token/);
    expect(missing.stdout).toBe("");
    const invalid = await run(process.execPath, [KB, "mcp"], { env: { ...noToken, KB_TOKEN: "kb_not-a-token" } }).catch((e) => e);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/invalid, revoked or expired token/);
    expect(invalid.stdout).toBe("");
    const failures = await t.kb.audit.repository.query({ action: "auth.failed", limit: 20 });
    expect(failures.some((r) => r.target === "kb mcp")).toBe(true);
  });

  it("answers a Korean and an English question with citations as the token's user, as the API does", async () => {
    const client = new Client({ name: "mcp-stdio-test", version: "1" });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [KB, "mcp"], env: { ...env(), KB_TOKEN: kim }, stderr: "pipe" }));
    clients.push(client);
    try {
      expect((await client.listTools()).tools.map((x) => x.name).sort()).toEqual(["ask", "get_document_page", "list_sources", "search"]);
      const en = structured(await call(client, "ask", { question: "What does salary band E3 pay engineers?" }));
      expect(en.citations.map((c: any) => c.documentId)).toContain(ids["hr/salary-bands.txt"]);
      expect(en).toEqual(answerOf((await api(kim, "/api/v1/ask", json({ question: "What does salary band E3 pay engineers?" }))).body));
      const ko = structured(await call(client, "ask", { question: "사용하지 않은 연차는 어떻게 되나요?" }));
      expect(ko.citations.map((c: any) => c.documentId)).toContain(ids["public/휴가규정.txt"]);
      const search = structured(await call(client, "search", { query: "연봉 등급", topK: 5 }));
      expect(search).toEqual((await api(kim, "/api/v1/search", json({ query: "연봉 등급", topK: 5 }))).body);
      const audited = await t.kb.audit.repository.query({ actor: "user:kim", action: "search", limit: 5 });
      expect(audited.some((r) => r.details?.via === "mcp-stdio" && r.details?.query === "연봉 등급")).toBe(true);
    } finally {
      await client.close();
    }
  });

  it("stops serving a token revoked while it runs", async () => {
    const { token, info } = await t.kb.accounts.createToken("lee");
    const client = new Client({ name: "mcp-stdio-test", version: "1" });
    await client.connect(new StdioClientTransport({ command: process.execPath, args: [KB, "mcp"], env: { ...env(), KB_TOKEN: token }, stderr: "pipe" }));
    clients.push(client);
    try {
      expect(structured(await call(client, "search", { query: "VPN" })).results.length).toBeGreaterThan(0);
      await t.kb.accounts.revokeToken(info.id);
      const refused = await call(client, "search", { query: "VPN" });
      expect(refused.isError).toBe(true);
      expect((refused.structuredContent as any).error.code).toBe("unauthorized");
    } finally {
      await client.close();
    }
  });
});

async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe.skipIf(!HAS_GGUF)("ask's cancellation, with a model that would write forever (stories260K behind an OpenAI-compatible server)", () => {
  let ms: ModelServer;
  let s: TestServer;
  let token: string;

  beforeAll(async () => {
    ms = await startModelServer({ gguf: GGUF });
    s = await startTestServer({ llmRemote: { url: ms.baseUrl, model: ms.chatModel, apiKey: undefined }, modelHosts: [ms.host], llmContextSize: 2048, llmMaxTokens: 24 }, { llmAnswer: { streamIntervalMs: 0 } });
    token = await s.tokenFor("kim", "viewer");
    const files = writeFiles(path.join(s.dir, "docs"), { "vpn.txt": DOCS["public/vpn-guide.txt"] });
    expect((await ingestNow(s.kb, [{ source: "vpn.txt", path: files[0]! }])).job.status).toBe("succeeded");
    ms.knobs.forceIgnoreEos = true;
    ms.knobs.forceMaxTokens = 1_000_000;
  });
  afterAll(async () => {
    await s?.close();
    await ms?.close();
  });

  const streamingAsk = async (onDelta: (client: Client, ac: AbortController) => void) => {
    const client = new Client({ name: "mcp-cancel-test", version: "1" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${s.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    const ac = new AbortController();
    let deltas = 0;
    const call = client.callTool({ name: "ask", arguments: { question: "What should I do if the VPN connection drops?" } }, undefined, {
      signal: ac.signal,
      timeout: 60_000,
      onprogress: (p) => {
        if (!/passages found/.test(p.message ?? "") && ++deltas === 2) onDelta(client, ac);
      },
    });
    return { client, call, deltas: () => deltas };
  };

  it("stops the answer when the client cancels the call (notifications/cancelled)", async () => {
    const cancelled = ms.stats.cancelled;
    const before = (await s.kb.audit.repository.query({ action: "ask", limit: 1 }))[0]?.id ?? 0;
    const { client, call } = await streamingAsk((_c, ac) => ac.abort("enough"));
    await expect(call).rejects.toThrow(/enough|abort/i);
    await waitFor(() => ms.stats.cancelled === cancelled + 1 && ms.stats.active === 0, "the model server saw the generation go away");
    await waitFor(() => s.kb.llm!.stats().active === 0, "the provider freed its slot");
    // The ask is audited once.
    const rows = (await s.kb.audit.repository.query({ action: "ask", limit: 5 })).filter((r) => r.id > before);
    expect(rows.map((r) => r.details?.via)).toEqual(["mcp"]);
    await client.close();
  });

  it("stops the answer when the client goes away", async () => {
    const cancelled = ms.stats.cancelled;
    const { call } = await streamingAsk((client) => void client.close());
    await call.catch(() => {});
    await waitFor(() => ms.stats.cancelled === cancelled + 1 && ms.stats.active === 0, "the model server saw the generation go away");
  });
});
