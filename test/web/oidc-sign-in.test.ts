/**
 * Single sign-on in the browser (issue 13): Chromium clicks the provider's button on the
 * sign-in page, signs in on the OpenID Provider's own login page (oidc-provider over HTTPS on
 * loopback, with a test CA the context is told to accept), lands in the app as the directory
 * user with the groups its claims map to, asks a question only that group's document answers,
 * and signs out through the provider (RP-initiated logout) back to the sign-in page.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answered, askQuestion, TIMEOUT } from "./app.ts";
import { DOCS } from "./fixtures.ts";
import { confineContext, expectAccessible, launchBrowser, skipReason, startWebServer, type WebServer } from "./harness.ts";
import { startTestOp } from "../helpers/oidc-op.ts";

const PROVIDER = "corp";
const HR_GROUP_ID = "b7e2c1d0-2f4a-4c8e-9d1b-5a6f7e8d9c0b";

describe.skipIf(skipReason())("single sign-on (OpenID Connect)", () => {
  let op: Awaited<ReturnType<typeof startTestOp>>;
  let server: WebServer;
  let browser: Browser;
  let dir: string;

  beforeAll(async () => {
    op = await startTestOp();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-web-oidc-"));
    const caFile = path.join(dir, "ca.pem");
    fs.writeFileSync(caFile, op.caPem);
    const secretFile = path.join(dir, "secret");
    fs.writeFileSync(secretFile, op.clientSecret, { mode: 0o600 });
    const policyDir = path.join(dir, "policies");
    fs.mkdirSync(policyDir);
    fs.writeFileSync(
      path.join(policyDir, "oidc-providers.json"),
      JSON.stringify({
        providers: [
          {
            id: PROVIDER,
            name: { en: "Corporate account", ko: "회사 계정" },
            issuer: op.issuer,
            caFile,
            clientId: op.clientId,
            clientSecret: { file: secretFile },
            scopes: ["openid", "profile", "email", "groups"],
            groups: { [HR_GROUP_ID]: "hr" },
          },
        ],
      }),
    );
    server = await startWebServer({ policyDir });
    op.setApp(server.url, PROVIDER);
    op.accounts.set("jisoo", { name: "박지수", email: "jisoo@example.com", groups: [HR_GROUP_ID] });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await op?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("signs in on the provider's page, asks a question answered from the mapped group's document, and signs out through the provider", async () => {
    // The OP's certificate comes from the test's own CA: this context accepts it (the product
    // trusts it through caFile, never by switching checks off).
    const context = await browser.newContext({ baseURL: server.url, locale: "en-US", ignoreHTTPSErrors: true, serviceWorkers: "block" });
    const confined = await confineContext(context);
    context.setDefaultTimeout(TIMEOUT);
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (err) => pageErrors.push(String(err)));
    try {
      await page.goto("/");
      await page.getByRole("heading", { name: "Sign in" }).waitFor();
      await page.getByRole("link", { name: "Sign in with Corporate account" }).click();

      // The provider's own login page.
      await page.getByRole("heading", { name: "Test identity provider" }).waitFor();
      expect(new URL(page.url()).origin).toBe(op.issuer);
      await page.getByRole("textbox", { name: "Username" }).fill("jisoo");
      await page.getByRole("button", { name: "Sign in to test OP" }).click();

      // Back in the app, signed in as the directory user.
      await page.getByRole("heading", { name: "Ask", level: 2 }).waitFor();
      expect(new URL(page.url()).origin).toBe(server.url);
      const user = (await server.kb.directory.findUser(`oidc:${PROVIDER}`, "jisoo"))!;
      expect(user.displayName).toBe("박지수");
      await page.getByRole("button", { name: `Account: ${user.name}` }).click();
      await page.getByText("Signed in with Corporate account").waitFor();
      await page.keyboard.press("Escape");

      // HR's payroll document is readable through the group the claim maps to.
      await askQuestion(page, "급여 이체일은 매월 며칠인가요?");
      await answered(page);
      await page.getByRole("link", { name: new RegExp(`^\\[\\d+\\] ${DOCS.payroll.title}`) }).first().waitFor();

      // Sign-out ends our session and goes to the provider's sign-out page, then back.
      await page.getByRole("button", { name: `Account: ${user.name}` }).click();
      await page.getByRole("menuitem", { name: "Sign out" }).click();
      await page.waitForURL((u) => u.origin === op.issuer);
      await page.getByRole("button", { name: /yes/i }).click();
      await page.getByRole("heading", { name: "Sign in" }).waitFor();
      expect(new URL(page.url()).origin).toBe(server.url);
      const live = await server.kb.metadata.sessions.liveOf(user.id, new Date().toISOString());
      expect(live.filter((s) => !s.revokedAt)).toEqual([]);
    } finally {
      await context.close();
    }
    confined.check();
    expect(pageErrors).toEqual([]);
  });

  it("labels the button in Korean, and brings a failed sign-in back to the sign-in page with a message", async () => {
    const context = await browser.newContext({ baseURL: server.url, locale: "ko-KR", serviceWorkers: "block" });
    const confined = await confineContext(context);
    context.setDefaultTimeout(TIMEOUT);
    const page = await context.newPage();
    try {
      await page.goto("/signin");
      await page.getByRole("link", { name: "회사 계정(으)로 로그인" }).waitFor();
      await expectAccessible(page, "sign-in with a single sign-on button");
      // A callback this browser never started (no login state): refused, back on the sign-in page.
      await page.goto("/api/v1/auth/oidc/corp/callback?code=forged&state=forged");
      await page.getByRole("alert").filter({ hasText: "통합 로그인(SSO)에 실패했습니다" }).waitFor();
      expect(new URL(page.url()).pathname).toBe("/signin");
    } finally {
      await context.close();
    }
    confined.check();
  });
});
