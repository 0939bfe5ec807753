/**
 * Browser-test harness: the real server on 127.0.0.1 (an ephemeral port) over a copy of the
 * data-folder template, Debian's Chromium driven by the playwright-core library, one browser per
 * file and a fresh context per test. A context can reach 127.0.0.1 only: every other request is
 * aborted and recorded, and `close()` fails the test when one was attempted.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import pino from "pino";
import pg from "pg";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, expect, inject } from "vitest";
import type { Config } from "../../src/config.ts";
import { startServer, type RunningServer } from "../../src/http/server.ts";
import { openKb, type Kb, type KbStores, type OpenKbOptions } from "../../src/services/container.ts";
import { sqlRows } from "../helpers/kb.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/pg.ts";
import { CHROMIUM, webSkipReason } from "./env.ts";
import { copyTemplate, webTestConfig } from "./template.ts";

export { webSkipReason };

/** Why this file's tests skip (printed once per file), or null. */
export function skipReason(): string | null {
  const reason = webSkipReason() ?? (inject("KB_WEB_TEMPLATE") ? null : "no data-folder template (the web project's globalSetup did not build one)");
  if (reason) console.warn(`[web tests] skipped: ${reason}`);
  return reason;
}

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

export interface WebServer {
  url: string;
  kb: Kb & KbStores;
  dir: string;
  close(): Promise<void>;
}

/**
 * The real server (createApp via startServer, as `kb serve` runs it) over a fresh template copy:
 * the folder, and on PostgreSQL (KB_TEST_DATABASE_URL) a copy of the template's database.
 */
export async function startWebServer(overrides: Partial<Config> = {}, options: Pick<OpenKbOptions, "llmProvider"> & { template?: string } = {}): Promise<WebServer> {
  const template = options.template ?? inject("KB_WEB_TEMPLATE");
  const dir = copyTemplate(template);
  const templateDb = options.template ? "" : inject("KB_WEB_TEMPLATE_DB");
  let database: TestDatabase | null = null;
  let kb: Kb & KbStores;
  try {
    if (templateDb && process.env.KB_TEST_DATABASE_URL) {
      database = await createTestDatabase(process.env.KB_TEST_DATABASE_URL, { template: templateDb });
      await pointPathsAt(database.url, template, dir);
    }
    kb = await openKb(webTestConfig(dir, { databaseUrl: database?.url, ...overrides }), { llmProvider: options.llmProvider, logger: pino({ level: "silent" }) });
  } catch (err) {
    await database?.drop();
    throw err;
  }
  await kb.startWorker();
  let server: RunningServer;
  try {
    server = await startServer(kb, { port: 0, host: "127.0.0.1" });
  } catch (err) {
    await kb.close();
    await database?.drop();
    throw err;
  }
  return {
    url: server.url,
    kb,
    dir,
    async close() {
      try {
        await server.close();
        await kb.close();
      } finally {
        await database?.drop();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * The copy's stored paths (originals, files still to read) moved from the template's folder to
 * the copy's. SQLite mode does this itself when it opens a moved data folder
 * (stores/sqlite/blob-paths.ts); PostgreSQL mode does not (its replicas share one database, each
 * with its own folder path: docs/architecture.md), so the harness does it for the copy.
 */
async function pointPathsAt(databaseUrl: string, from: string, to: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const move = (table: string, column: string) =>
      client.query(`UPDATE ${table} SET ${column} = $2 || substr(${column}, length($1) + 1) WHERE starts_with(${column}, $1)`, [from + path.sep, to + path.sep]);
    await move("documents", "blob_path");
    await move("job_files", "path");
  } finally {
    await client.end();
  }
}

/**
 * Rows of a SQL statement on the server's metadata store, SQLite or PostgreSQL (setup and
 * inspection a user cannot do from the browser); `?` placeholders, helpers/kb.ts's sqlRows.
 */
export function sql(server: WebServer, text: string, ...params: unknown[]): Promise<Record<string, unknown>[]> {
  return sqlRows(server.kb, text, ...params);
}

/** The id of the template's document with this source (fixtures.ts DOCS, or `demo/<file>`). */
export async function documentId(server: WebServer, source: string): Promise<string> {
  const [row] = await sql(server, "SELECT id FROM documents WHERE source = ?", source);
  if (!row) throw new Error(`no document ${source} in the template`);
  return String(row.id);
}

/** Only the test server's own origin host is reachable. */
function isAllowed(url: string): boolean {
  if (url.startsWith("data:") || url.startsWith("blob:") || url.startsWith("about:")) return true;
  try {
    return new URL(url).hostname === "127.0.0.1";
  } catch {
    return false;
  }
}

export interface Session {
  context: BrowserContext;
  page: Page;
  /**
   * Every request to a host other than 127.0.0.1 that the page attempted, whether the page's CSP
   * blocked it or it got as far as the network (where the route aborted it).
   */
  outside: string[];
  /** Those of `outside` that the CSP did not stop: they reached the network layer (and were aborted there). */
  reachedNetwork: string[];
  /** Uncaught exceptions in the page. */
  pageErrors: string[];
  /** Content-Security-Policy violations the page reported (what the CSP blocked). */
  cspViolations(): Promise<string[]>;
  /** Closes the context; fails when the page tried to reach another host or threw. */
  close(): Promise<void>;
}

export interface SessionOptions {
  locale?: string;
  viewport?: { width: number; height: number };
}

/**
 * Confines a browser context to 127.0.0.1: every request to another host is aborted and recorded
 * (`outside`: attempted, CSP-blocked ones included; `reachedNetwork`: got past the page's CSP).
 * `check()` fails when there was any.
 */
export async function confineContext(context: BrowserContext): Promise<{ outside: string[]; reachedNetwork: string[]; check(): void }> {
  const outside: string[] = [];
  const reachedNetwork: string[] = [];
  const record = (url: string) => {
    if (!outside.includes(url)) outside.push(url);
  };
  await context.route(
    (url) => !isAllowed(url.href),
    async (route) => {
      record(route.request().url());
      reachedNetwork.push(route.request().url());
      await route.abort("blockedbyclient");
    },
  );
  await context.routeWebSocket(
    (url) => !isAllowed(url.href),
    (ws) => {
      record(ws.url());
      void ws.close();
    },
  );
  context.on("request", (req) => {
    if (!isAllowed(req.url())) record(req.url());
  });
  return {
    outside,
    reachedNetwork,
    check: () => expect(outside, "requests to hosts other than 127.0.0.1").toEqual([]),
  };
}

/** A fresh browser context (own cookies and storage) with one page, confined to 127.0.0.1. */
export async function newSession(browser: Browser, server: WebServer, options: SessionOptions = {}): Promise<Session> {
  const context = await browser.newContext({
    baseURL: server.url,
    locale: options.locale ?? "en-US",
    viewport: options.viewport ?? { width: 1280, height: 800 },
    serviceWorkers: "block",
  });
  const { outside, reachedNetwork } = await confineContext(context);
  // Records what the CSP blocked; init scripts run before the page's own and are not subject to its CSP.
  await context.addInitScript(() => {
    const w = globalThis as unknown as { __kbCsp: string[]; addEventListener(t: string, f: (e: { violatedDirective: string; blockedURI: string }) => void): void };
    w.__kbCsp = [];
    w.addEventListener("securitypolicyviolation", (e) => w.__kbCsp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const pageErrors: string[] = [];
  page.on("pageerror", (err) => pageErrors.push(String(err.stack ?? err)));
  return {
    context,
    page,
    outside,
    reachedNetwork,
    pageErrors,
    async cspViolations() {
      const all: string[] = [];
      for (const p of context.pages()) all.push(...(await p.evaluate(() => (globalThis as unknown as { __kbCsp?: string[] }).__kbCsp ?? [])));
      return all;
    },
    async close() {
      await context.close();
      expect(outside, "requests to hosts other than 127.0.0.1").toEqual([]);
      expect(pageErrors, "uncaught errors in the page").toEqual([]);
    },
  };
}

const require = createRequire(import.meta.url);
let axeSource: string | null = null;

/**
 * Runs axe-core in the page and fails on any serious or critical violation (printed in full).
 * axe is evaluated through the DevTools protocol rather than a <script> tag: the app's CSP
 * (rightly) refuses inline scripts, and the tests must not turn the CSP off.
 */
export async function expectAccessible(page: Page, screen: string): Promise<void> {
  axeSource ??= fs.readFileSync(path.join(path.dirname(require.resolve("axe-core")), "axe.min.js"), "utf8");
  const hasAxe = await page.evaluate(() => typeof (globalThis as unknown as { axe?: unknown }).axe !== "undefined");
  if (!hasAxe) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: { id: string; impact: string | null; help: string; helpUrl: string; nodes: { target: unknown[]; html: string; failureSummary?: string }[] }[] }> } }).axe;
    const doc = (globalThis as unknown as { document: unknown }).document;
    const r = await axe.run(doc, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target.join(" "), html: n.html.slice(0, 200), summary: n.failureSummary ?? "" })) }));
  });
  const bad = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  const text = bad.map((v) => `  [${v.impact}] ${v.id}: ${v.help}\n${v.nodes.map((n) => `      ${n.target}  ${n.html}\n        ${n.summary.replace(/\n/g, "\n        ")}`).join("\n")}`).join("\n");
  if (bad.length > 0) console.error(`axe on ${screen}: ${bad.length} serious/critical violation(s)\n${text}`);
  expect(bad.map((v) => `${v.impact} ${v.id} (${v.nodes.length} nodes)`), `axe serious/critical violations on ${screen}:\n${text}`).toEqual([]);
}

/**
 * The browser tests' lifecycle, registered in the calling `describe`: one Chromium for the file;
 * the servers and sessions a test opens through `server()` and `session()` are closed after it,
 * sessions first (closing one fails the test when a page reached for a host other than
 * 127.0.0.1), servers even when that fails.
 */
export function webTestLifecycle(): {
  server(...args: Parameters<typeof startWebServer>): Promise<WebServer>;
  session(server: WebServer, options?: SessionOptions): Promise<Session>;
} {
  let browser: Browser | undefined;
  const servers: WebServer[] = [];
  const sessions: Session[] = [];
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    try {
      for (const s of sessions.splice(0)) await s.close();
    } finally {
      for (const s of servers.splice(0)) await s.close();
    }
  });
  return {
    async server(...args) {
      const s = await startWebServer(...args);
      servers.push(s);
      return s;
    },
    async session(server, options) {
      if (!browser) throw new Error("webTestLifecycle: session() before the browser started");
      const s = await newSession(browser, server, options);
      sessions.push(s);
      return s;
    },
  };
}
