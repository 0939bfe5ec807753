/**
 * axe-core on every screen of the app, as an admin (who sees them all) with content on them
 * (an answered question, a conversation in History, search results, a document page): at
 * 1280×800 and at phone width (390×844, where the navigation is behind the menu button); the
 * main screens also in the dark theme. 0 serious or critical violations; each one is printed when it fails.
 * The other browser tests also run axe on the screens they visit, in their states (errors,
 * uploads, feedback, Korean).
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, it } from "vitest";
import { answered, askQuestion, search, signInToAsk, TIMEOUT } from "./app.ts";
import { KOREAN_QUESTION, USERS } from "./fixtures.ts";
import { documentId, expectAccessible, launchBrowser, newSession, skipReason, startWebServer, type Session, type WebServer } from "./harness.ts";

/** Every screen's address and its level-2 heading. */
const SCREENS: [path: string, heading: string | RegExp][] = [
  ["/history", "History"],
  ["/documents", "Documents"],
  ["/admin/users", "Users"],
  ["/admin/users/minji", /minji|Users/],
  ["/admin/groups", "Groups"],
  ["/admin/tokens", "Tokens"],
  ["/admin/access", "Document access"],
  ["/admin/jobs", "Jobs"],
  ["/admin/personal-data", "Personal data"],
  ["/admin/audit", "Audit"],
  ["/admin/feedback", "Feedback"],
  ["/admin/system", "System"],
];

async function visitAll(page: Page, server: WebServer, label: string): Promise<void> {
  await page.goto("/");
  await page.getByRole("heading", { name: "Ask", level: 2 }).waitFor({ timeout: TIMEOUT });
  await expectAccessible(page, `${label} ask (empty)`);
  await askQuestion(page, KOREAN_QUESTION);
  await answered(page);
  await expectAccessible(page, `${label} ask (answered)`);
  await page.goto(`/documents/${await documentId(server, "demo/휴가-규정.md")}?page=1&quote=${encodeURIComponent("1년 이상 근무한 직원에게는 매년 15일의 연차 휴가가 부여됩니다.")}`);
  await page.locator("role=mark").waitFor({ timeout: TIMEOUT });
  await expectAccessible(page, `${label} document view`);
  for (const [path, heading] of SCREENS) {
    await page.goto(path);
    await page.getByRole("heading", { name: heading, level: 2 }).first().waitFor({ timeout: TIMEOUT });
    await page.getByRole("img", { name: "Loading…" }).first().waitFor({ state: "detached", timeout: TIMEOUT });
    await expectAccessible(page, `${label} ${path}`);
  }
}

describe.skipIf(skipReason())("accessibility of every screen (axe)", () => {
  let browser: Browser;
  let server: WebServer;
  beforeAll(async () => {
    [browser, server] = await Promise.all([launchBrowser(), startWebServer()]);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("at 1280×800, light then dark theme", async () => {
    const s: Session = await newSession(browser, server);
    const { page } = s;
    await page.goto("/signin");
    await page.getByRole("heading", { name: "Sign in" }).waitFor({ timeout: TIMEOUT });
    await expectAccessible(page, "[desktop] sign-in");
    await signInToAsk(page, USERS.admin.name, USERS.admin.password);
    await search(page, "VPN certificate");
    await expectAccessible(page, "[desktop] search (results)");
    await visitAll(page, server, "[desktop]");
    // The dark theme: the screens with the most kinds of elements.
    await page.getByRole("button", { name: "Dark theme" }).click();
    await page.getByRole("button", { name: "Light theme" }).waitFor({ timeout: TIMEOUT });
    await expectAccessible(page, "[desktop, dark] document view");
    for (const [path, heading] of [["/", "Ask"], ["/documents", "Documents"], ["/admin/users", "Users"], ["/admin/jobs", "Jobs"], ["/admin/feedback", "Feedback"]] as const) {
      await page.goto(path);
      await page.getByRole("heading", { name: heading, level: 2 }).first().waitFor({ timeout: TIMEOUT });
      await page.getByRole("img", { name: "Loading…" }).first().waitFor({ state: "detached", timeout: TIMEOUT });
      await expectAccessible(page, `[desktop, dark] ${path}`);
    }
    await s.close();
  });

  it("at phone width (390×844), with the navigation behind the menu button", async () => {
    const s: Session = await newSession(browser, server, { viewport: { width: 390, height: 844 } });
    const { page } = s;
    await page.goto("/signin");
    await page.getByRole("heading", { name: "Sign in" }).waitFor({ timeout: TIMEOUT });
    await expectAccessible(page, "[phone] sign-in");
    await signInToAsk(page, USERS.admin.name, USERS.admin.password);
    const menu = page.getByRole("button", { name: "Open or close the menu" });
    await menu.click();
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Search", exact: true }).waitFor({ timeout: TIMEOUT });
    await expectAccessible(page, "[phone] navigation open");
    await menu.click();
    await visitAll(page, server, "[phone]");
    await s.close();
  });
});
