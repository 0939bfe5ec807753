/**
 * The web app in a real browser (Debian's Chromium through playwright-core), on the demo corpus
 * with lexical retrieval and extractive answers (what `npm start` gives without models):
 *
 * - first token visible: from the Enter key in the ask box to the first frame after the answer's
 *   first text is in the DOM (a keydown listener and a MutationObserver + requestAnimationFrame in
 *   the page), over `asks` questions (after 3 warm-up asks); beside it, the first `delta` of the
 *   same question over SSE from Node (the server's share);
 * - initial JavaScript transferred: the compressed bytes (Resource Timing `encodedBodySize`) of
 *   every script a cold load of the sign-in page fetches, and of the ask screen after signing in;
 * - time to interactive on a cold load: a fresh browser context (empty cache) opens the app; the
 *   first frame after the sign-in form's inputs exist (the app's code has run and rendered).
 *
 * Usage: npm run bench:web [-- asks=30 loads=10]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { signInToAsk, TIMEOUT } from "../test/web/app.ts";
import { webSkipReason } from "../test/web/env.ts";
import { USERS } from "../test/web/fixtures.ts";
import { launchBrowser, newSession, startWebServer, type WebServer } from "../test/web/harness.ts";
import { buildTemplate } from "../test/web/template.ts";

const args = Object.fromEntries(process.argv.slice(2).map((a) => a.split("=") as [string, string]));
const ASKS = Number(args.asks ?? 30);
const LOADS = Number(args.loads ?? 10);
const QUESTIONS = ["연차 휴가는 며칠인가요?", "How do I connect to the VPN?", "재택근무는 일주일에 며칠까지 할 수 있나요?", "What is the daily meal allowance on a business trip?", "비밀번호는 얼마나 자주 바꿔야 하나요?"];

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
const ms = (v: number) => `${v.toFixed(0)} ms`;
const summary = (v: number[]) => `p50 ${ms(pct(v, 50))}, p95 ${ms(pct(v, 95))}, min ${ms(Math.min(...v))}, max ${ms(Math.max(...v))} (n=${v.length})`;

/**
 * In-page probes: the Enter key's time and the first frame with the newest answer's text; the
 * first frame with the sign-in form. A string, so no bundler helper ends up in the page.
 */
const PROBES = `(() => {
  const w = window;
  addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) { w.__kbEnterAt = performance.now(); w.__kbFirstTextAt = undefined; }
  }, true);
  const onMutation = () => {
    if (w.__kbEnterAt !== undefined && w.__kbFirstTextAt === undefined && !w.__kbPending) {
      const answers = document.querySelectorAll('[data-testid="answer"]');
      const last = answers[answers.length - 1];
      const text = (last && last.querySelector(".kb-markdown") || {}).textContent || "";
      if (text.length > 0) {
        w.__kbPending = true;
        requestAnimationFrame(() => { w.__kbFirstTextAt = performance.now(); w.__kbPending = false; });
      }
    }
    if (w.__kbInteractiveAt === undefined && !w.__kbPendingI && document.querySelector('input[name="username"]') && document.querySelector('input[name="password"]')) {
      w.__kbPendingI = true;
      requestAnimationFrame(() => { w.__kbInteractiveAt = performance.now(); });
    }
  };
  new MutationObserver(onMutation).observe(document, { subtree: true, childList: true, characterData: true });
})();`;

async function scriptBytes(page: Page): Promise<{ encoded: number; decoded: number; files: number }> {
  return page.evaluate(() => {
    const entries = performance.getEntriesByType("resource") as unknown as { name: string; encodedBodySize: number; decodedBodySize: number }[];
    const js = entries.filter((e) => /\.m?js(\?|$)/.test(e.name));
    return { encoded: js.reduce((s, e) => s + e.encodedBodySize, 0), decoded: js.reduce((s, e) => s + e.decodedBodySize, 0), files: js.length };
  });
}

async function coldLoads(browser: Browser, server: WebServer) {
  const tti: number[] = [];
  const dcl: number[] = [];
  let signInJs = { encoded: 0, decoded: 0, files: 0 };
  let askJs = { encoded: 0, decoded: 0, files: 0 };
  for (let i = 0; i < LOADS; i++) {
    const s = await newSession(browser, server); // a new context: empty cache, no cookies
    await s.context.addInitScript({ content: PROBES });
    await s.page.goto("/");
    await s.page.waitForFunction(() => (globalThis as unknown as { __kbInteractiveAt?: number }).__kbInteractiveAt !== undefined, undefined, { timeout: TIMEOUT });
    const t = await s.page.evaluate(() => {
      const nav = (performance.getEntriesByType as (t: string) => unknown[])("navigation")[0] as { startTime: number; domContentLoadedEventEnd: number };
      return { interactive: (globalThis as unknown as { __kbInteractiveAt: number }).__kbInteractiveAt - nav.startTime, dcl: nav.domContentLoadedEventEnd - nav.startTime };
    });
    tti.push(t.interactive);
    dcl.push(t.dcl);
    if (i === 0) {
      signInJs = await scriptBytes(s.page);
      await signInToAsk(s.page, USERS.minji.name, USERS.minji.password);
      askJs = await scriptBytes(s.page);
    }
    await s.close();
  }
  return { tti, dcl, signInJs, askJs };
}

async function firstTokens(browser: Browser, server: WebServer) {
  const s = await newSession(browser, server);
  await s.context.addInitScript({ content: PROBES });
  await signInToAsk(s.page, USERS.minji.name, USERS.minji.password);
  const browserMs: number[] = [];
  for (let i = 0; i < ASKS + 3; i++) {
    const q = QUESTIONS[i % QUESTIONS.length]!;
    const fresh = s.page.getByRole("button", { name: "New conversation" });
    if (await fresh.count()) await fresh.click();
    const box = s.page.getByRole("textbox", { name: /Your question|Follow-up question/ });
    await box.fill(q);
    await box.press("Enter");
    await s.page.waitForFunction(() => (globalThis as unknown as { __kbFirstTextAt?: number }).__kbFirstTextAt !== undefined, undefined, { timeout: TIMEOUT });
    const v = await s.page.evaluate(() => {
      const w = globalThis as unknown as { __kbFirstTextAt: number; __kbEnterAt: number };
      return w.__kbFirstTextAt - w.__kbEnterAt;
    });
    await s.page.getByRole("button", { name: "Ask", exact: true }).waitFor({ timeout: TIMEOUT }); // the answer is complete
    if (i >= 3) browserMs.push(v);
  }
  await s.close();

  // The same questions over SSE from Node: the first `delta` (the server's share of the above).
  const token = (await server.kb.accounts.createToken(USERS.minji.name)).token;
  const sseMs: number[] = [];
  for (let i = 0; i < ASKS + 3; i++) {
    const t0 = performance.now();
    const res = await fetch(`${server.url}/api/v1/ask`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "text/event-stream" }, body: JSON.stringify({ question: QUESTIONS[i % QUESTIONS.length] }) });
    const reader = res.body!.getReader();
    let buf = "";
    let first: number | null = null;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += Buffer.from(value).toString("utf8");
      if (first === null && /event: delta/.test(buf)) first = performance.now() - t0;
    }
    if (i >= 3 && first !== null) sseMs.push(first);
  }
  return { browserMs, sseMs };
}

const reason = webSkipReason();
if (reason) {
  console.error(`bench:web cannot run: ${reason}`);
  process.exit(1);
}
const template = fs.mkdtempSync(path.join(os.tmpdir(), "kb-bench-web-"));
await buildTemplate(template);
const server = await startWebServer({ rateLimitPerMinute: 100_000 }, { template });
const browser = await launchBrowser();
try {
  const loads = await coldLoads(browser, server);
  const asks = await firstTokens(browser, server);
  console.log(`\nweb app on the demo corpus, lexical + extractive (${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? ""}); Chromium ${browser.version()}`);
  console.log(`first token visible after Enter (browser): ${summary(asks.browserMs)}`);
  console.log(`first delta over SSE (Node client):        ${summary(asks.sseMs)}`);
  console.log(`cold load to interactive sign-in form:     ${summary(loads.tti)}; DOMContentLoaded ${summary(loads.dcl)}`);
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  console.log(`JavaScript, cold load of the sign-in page: ${kb(loads.signInJs.encoded)} transferred (compressed), ${kb(loads.signInJs.decoded)} decoded, ${loads.signInJs.files} files`);
  console.log(`JavaScript, after signing in (ask screen): ${kb(loads.askJs.encoded)} transferred (compressed), ${kb(loads.askJs.decoded)} decoded, ${loads.askJs.files} files`);
} finally {
  await browser.close();
  await server.close();
  fs.rmSync(template, { recursive: true, force: true });
}
