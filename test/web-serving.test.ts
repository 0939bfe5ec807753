/**
 * The web app's serving rules (src/http/web.ts) on the real server: app routes get index.html
 * with a strict CSP, hashed assets are long-cached, API paths keep their JSON 404s, nothing
 * outside the build folder is served, and a missing build says how to build it.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../src/http/server.ts";
import { openTestKb, type TestKb } from "./helpers/kb.ts";

const INDEX = '<!doctype html><html><head><script type="module" src="/assets/index-abc123.js"></script></head><body><div id="root"></div></body></html>';

describe("web app serving", () => {
  let t: TestKb;
  let built: RunningServer;
  let unbuilt: RunningServer;
  let webDir: string;

  beforeAll(async () => {
    t = await openTestKb();
    webDir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-web-"));
    fs.mkdirSync(path.join(webDir, "assets"));
    fs.mkdirSync(path.join(webDir, "pdfjs", "cmaps"), { recursive: true });
    fs.writeFileSync(path.join(webDir, "index.html"), INDEX);
    fs.writeFileSync(path.join(webDir, "assets", "index-abc123.js"), "console.log('app')");
    fs.writeFileSync(path.join(webDir, "assets", "index-abc123.css"), "body{}");
    fs.writeFileSync(path.join(webDir, "favicon.svg"), "<svg/>");
    fs.writeFileSync(path.join(webDir, "pdfjs", "cmaps", "UniKS-UTF16-H.bcmap"), "x");
    fs.writeFileSync(path.join(path.dirname(webDir), path.basename(webDir) + "-secret.txt"), "outside");
    built = await startServer(t.kb, { port: 0, host: "127.0.0.1", webDir });
    unbuilt = await startServer(t.kb, { port: 0, host: "127.0.0.1", webDir: path.join(webDir, "missing") });
  });
  afterAll(async () => {
    await built?.close();
    await unbuilt?.close();
    await t?.close();
    fs.rmSync(webDir, { recursive: true, force: true });
    fs.rmSync(path.join(path.dirname(webDir), path.basename(webDir) + "-secret.txt"), { force: true });
  });

  it("answers / and app routes with index.html under a strict CSP", async () => {
    for (const p of ["/", "/documents/abc?page=2&quote=x", "/admin/users", "/history", "/c/123"]) {
      const res = await fetch(built.url + p);
      expect(res.status, p).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/html/);
      expect(await res.text()).toBe(INDEX);
      const csp = res.headers.get("content-security-policy") ?? "";
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toMatch(/script-src[^;]*'unsafe-(inline|eval)'/);
      expect(csp).toContain("object-src 'none'");
      expect(csp).toContain("base-uri 'none'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("connect-src 'self'");
      expect(csp).toContain("img-src 'self' data: blob:");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("referrer-policy")).toBe("no-referrer");
      expect(res.headers.get("cache-control")).toBe("no-cache");
    }
  });

  it("serves hashed assets with a long cache and the right type; a missing one is a 404, not the app", async () => {
    const js = await fetch(built.url + "/assets/index-abc123.js");
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(js.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(js.headers.get("x-content-type-options")).toBe("nosniff");
    expect(await js.text()).toBe("console.log('app')");
    const css = await fetch(built.url + "/assets/index-abc123.css");
    expect(css.headers.get("content-type")).toMatch(/^text\/css/);
    const icon = await fetch(built.url + "/favicon.svg");
    expect(icon.status).toBe(200);
    expect(icon.headers.get("cache-control")).toBe("no-cache");
    expect((await fetch(built.url + "/pdfjs/cmaps/UniKS-UTF16-H.bcmap")).status).toBe(200);
    for (const p of ["/assets/index-zzz999.js", "/assets/nope", "/missing.png"]) {
      const res = await fetch(built.url + p);
      expect(res.status, p).toBe(404);
      expect(res.headers.get("content-type"), p).toMatch(/^application\/json/);
    }
  });

  it("sends text files gzip-compressed to clients that accept it", async () => {
    const big = "console.log('" + "x".repeat(5000) + "');";
    fs.writeFileSync(path.join(webDir, "assets", "big-abc123.js"), big);
    // Node's fetch asks for gzip and decompresses; the headers say what was sent.
    const res = await fetch(built.url + "/assets/big-abc123.js");
    expect(res.headers.get("content-encoding")).toBe("gzip");
    expect(res.headers.get("vary")).toBe("Accept-Encoding");
    expect(await res.text()).toBe(big);
    const plain = await fetch(built.url + "/assets/big-abc123.js", { headers: { "accept-encoding": "identity" } });
    expect(plain.headers.get("content-encoding")).toBeNull();
    expect(await plain.text()).toBe(big);
  });

  it("never shadows API paths: they keep their JSON answers", async () => {
    for (const p of ["/api/v1/nope", "/api", "/v1/nope", "/scim/v2/Users", "/scim/nope", "/metrics", "/healthz/x", "/readyz/x", "/openapi.json/x"]) {
      const res = await fetch(built.url + p);
      expect(res.headers.get("content-type"), p).toMatch(p.startsWith("/scim/v2") ? /^application\/scim\+json/ : /^application\/json/);
      expect([401, 404], p).toContain(res.status);
      expect(res.headers.get("content-security-policy"), p).toBeNull();
    }
    const notFound = await fetch(built.url + "/scim/nope");
    expect(await notFound.json()).toMatchObject({ error: { code: "not_found" } });
    // SCIM answers its own errors (routes/scim/), as SCIM Error objects.
    expect(await (await fetch(built.url + "/scim/v2/Users")).json()).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "401" });
    expect((await fetch(built.url + "/healthz")).status).toBe(200);
    expect((await fetch(built.url + "/openapi.json")).headers.get("content-type")).toMatch(/^application\/json/);
  });

  it("serves nothing outside the build folder", async () => {
    const secret = "/..%2F" + encodeURIComponent(path.basename(webDir) + "-secret.txt");
    for (const p of [secret, "/assets/..%2F..%2F" + encodeURIComponent(path.basename(webDir) + "-secret.txt"), "/%2e%2e/%2e%2e/etc/passwd"]) {
      const res = await fetch(built.url + p);
      const text = await res.text();
      expect(text, p).not.toContain("outside");
      // Either refused, or (a path the URL parser normalized to an app route) the app itself.
      if (res.status !== 404) expect(text, p).toBe(INDEX);
    }
  });

  it("without a build, app routes answer a page saying how to build it; the API is unaffected", async () => {
    const res = await fetch(unbuilt.url + "/");
    expect(res.status).toBe(503);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await res.text()).toContain("npm run build:web");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect((await fetch(unbuilt.url + "/documents/x")).status).toBe(503);
    expect((await fetch(unbuilt.url + "/healthz")).status).toBe(200);
    expect((await fetch(unbuilt.url + "/api/v1/nope")).status).toBe(401);
  });

  it("does not count the app's files against the anonymous rate limit; its pages count", async () => {
    const limited = await openTestKb({ anonRateLimitPerMinute: 3 });
    const server = await startServer(limited.kb, { port: 0, host: "127.0.0.1", webDir });
    try {
      for (let i = 0; i < 10; i++) expect((await fetch(server.url + "/assets/index-abc123.js")).status).toBe(200);
      for (let i = 0; i < 5; i++) expect((await fetch(server.url + "/favicon.svg")).status).toBe(200);
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await fetch(server.url + "/history")).status);
      expect(statuses.slice(0, 3)).toEqual([200, 200, 200]);
      expect(statuses).toContain(429);
    } finally {
      await server.close();
      await limited.close();
    }
  });
});
