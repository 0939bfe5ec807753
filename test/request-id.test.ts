/**
 * Request ids on the real server: every response carries X-Request-Id, error bodies carry it as
 * error.requestId, and the log lines written while the request is served carry it as requestId
 * (captured from the knowledge base's own logger). An incoming id is kept only from a trusted
 * proxy and only when sane.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { startServer, type RunningServer } from "../src/http/server.ts";
import { openKb, type Kb, type KbStores } from "../src/services/container.ts";
import { kbLogger, withRequestContext } from "../src/services/request-context.ts";
import { storeForFolder } from "./helpers/kb.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Server {
  kb: Kb & KbStores;
  server: RunningServer;
  lines: Record<string, unknown>[];
  dir: string;
  drop(): Promise<void>;
}

async function start(trustedProxies: string[]): Promise<Server> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-reqid-"));
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString("utf8").split("\n").filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const store = await storeForFolder(); // on PostgreSQL (KB_TEST_DATABASE_URL), a database of its own
  const config = loadConfig({}, { dataDir: dir, modelsDir: path.join(dir, "models"), embedModel: "none", trustedProxies, ...store.overrides });
  const kb = await openKb(config, { logger: kbLogger("debug", sink) });
  const server = await startServer(kb, { port: 0, host: "127.0.0.1" });
  return { kb, server, lines, dir, drop: store.drop };
}

async function stop(s: Server | undefined): Promise<void> {
  if (!s) return;
  await s.server.close();
  await s.kb.close();
  await s.drop();
  fs.rmSync(s.dir, { recursive: true, force: true });
}

let direct: Server;
let proxied: Server;
beforeAll(async () => {
  direct = await start([]);
  proxied = await start(["127.0.0.1"]);
});
afterAll(async () => {
  await stop(direct);
  await stop(proxied);
});

describe("request ids", () => {
  it("are on every response and on the request's log line", async () => {
    const res = await fetch(`${direct.server.url}/healthz`);
    const id = res.headers.get("x-request-id");
    expect(id).toMatch(UUID);
    const line = direct.lines.find((l) => l.requestId === id);
    expect(line).toMatchObject({ msg: "request", method: "GET", route: "/healthz", status: 200 });
    // Another request, another id.
    expect((await fetch(`${direct.server.url}/healthz`)).headers.get("x-request-id")).not.toBe(id);
  });

  it("are in error bodies, whichever layer answered (a refused token, an unknown route)", async () => {
    for (const [url, init, code] of [
      ["/api/v1/documents", { headers: { authorization: "Bearer nope" } }, "unauthorized"],
      ["/no-such-route", { method: "POST" }, "not_found"],
      ["/api/v1/%E0%A4%A", {}, "malformed_url"],
    ] as const) {
      const res = await fetch(`${direct.server.url}${url}`, init);
      const body = (await res.json()) as { error: { code: string; requestId: string } };
      expect(body.error.code).toBe(code);
      expect(body.error.requestId).toBe(res.headers.get("x-request-id"));
      expect(body.error.requestId).toMatch(UUID);
    }
  });

  it("tag every line logged inside the request's context, from any module", () => {
    withRequestContext({ requestId: "ctx-1" }, () => direct.kb.log.warn("from a service"));
    direct.kb.log.warn("outside any request");
    expect(direct.lines.find((l) => l.msg === "from a service")?.requestId).toBe("ctx-1");
    expect(direct.lines.find((l) => l.msg === "outside any request")).not.toHaveProperty("requestId");
    // A child bound to the id does not get it twice (pino would write the key twice).
    withRequestContext({ requestId: "ctx-2" }, () => direct.kb.log.child({ requestId: "ctx-2" }).warn("from the child"));
    expect(direct.lines.find((l) => l.msg === "from the child")?.requestId).toBe("ctx-2");
  });

  it("keep a sane incoming X-Request-Id only from a trusted proxy", async () => {
    const sane = "edge-7f3a.42:1";
    expect((await fetch(`${direct.server.url}/healthz`, { headers: { "x-request-id": sane } })).headers.get("x-request-id")).toMatch(UUID);
    expect((await fetch(`${proxied.server.url}/healthz`, { headers: { "x-request-id": sane } })).headers.get("x-request-id")).toBe(sane);
    expect(proxied.lines.some((l) => l.requestId === sane && l.msg === "request")).toBe(true);
    for (const insane of ["has space", "x".repeat(129), "semi;colon", "<script>"]) {
      const res = await fetch(`${proxied.server.url}/healthz`, { headers: { "x-request-id": insane } });
      expect(res.headers.get("x-request-id")).toMatch(UUID);
    }
  });
});
