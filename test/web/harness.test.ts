/**
 * The harness's own guarantees, which every other browser test relies on: the browser reaches
 * 127.0.0.1 only (any other host is aborted and recorded, so Session.close fails the test), and
 * the CSP violation recorder works.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser, newSession, skipReason, startWebServer, type WebServer } from "./harness.ts";

describe.skipIf(skipReason())("browser harness", () => {
  let browser: Browser;
  let server: WebServer;
  beforeAll(async () => {
    [browser, server] = await Promise.all([launchBrowser(), startWebServer()]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("lets the page reach the test server and records (and aborts) every other host", async () => {
    const s = await newSession(browser, server);
    const res = await s.page.goto("/healthz");
    expect(res?.status()).toBe(200);
    const outcome = await s.page.evaluate(async () => {
      try {
        await fetch("http://outside.example/collect?x=1");
        return "reached";
      } catch {
        return "failed";
      }
    });
    expect(outcome).toBe("failed");
    expect(s.outside).toEqual(["http://outside.example/collect?x=1"]);
    // close() must refuse a session that tried to leave 127.0.0.1.
    await expect(s.close()).rejects.toThrow(/hosts other than 127.0.0.1/);
  });

  it("a page that stays on 127.0.0.1 closes cleanly", async () => {
    const s = await newSession(browser, server);
    await s.page.goto("/healthz");
    expect(await s.cspViolations()).toEqual([]);
    await s.close();
  });
});
