/**
 * `npm run docs:screenshots`: screenshots of the main screens for the README, taken from the real
 * app in Debian's Chromium: a temporary data folder (the browser tests' template: demo corpus,
 * accounts), the server on 127.0.0.1, signed in as the tests' users. Writes docs/screenshots/*.png.
 * Not part of the test run.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Page } from "playwright-core";
import { answered, askQuestion, citationLinks, highlightedQuote, search, signInToAsk, TIMEOUT } from "./app.ts";
import { REPO_ROOT, webSkipReason } from "./env.ts";
import { ENGLISH_QUESTION, KOREAN_QUESTION, USERS } from "./fixtures.ts";
import { launchBrowser, newSession, startWebServer } from "./harness.ts";
import { buildTemplate } from "./template.ts";

const OUT = path.join(REPO_ROOT, "docs", "screenshots");

async function shoot(page: Page, name: string): Promise<void> {
  await page.evaluate(async () => {
    await (globalThis as unknown as { document: { fonts: { ready: Promise<unknown> } } }).document.fonts.ready;
  });
  await page.mouse.move(0, 0);
  const file = path.join(OUT, `${name}.png`);
  await page.screenshot({ path: file, animations: "disabled" });
  console.log(`wrote ${path.relative(REPO_ROOT, file)} (${Math.round(fs.statSync(file).size / 1024)} KB)`);
}

async function main(): Promise<void> {
  const reason = webSkipReason();
  if (reason) throw new Error(`cannot take screenshots: ${reason}`);
  fs.mkdirSync(OUT, { recursive: true });
  const template = fs.mkdtempSync(path.join(os.tmpdir(), "kb-shots-template-"));
  await buildTemplate(template);
  const server = await startWebServer({}, { template });
  const browser = await launchBrowser();
  try {
    // English: sign-in, an answer, search, documents, an admin screen.
    const en = await newSession(browser, server, { locale: "en-US" });
    await en.page.goto("/signin");
    await en.page.getByRole("textbox", { name: "User name" }).waitFor({ timeout: TIMEOUT });
    await shoot(en.page, "sign-in");
    await signInToAsk(en.page, USERS.admin.name, USERS.admin.password);
    await askQuestion(en.page, ENGLISH_QUESTION);
    await answered(en.page);
    await shoot(en.page, "ask-en");
    await search(en.page, "VPN certificate expired");
    await shoot(en.page, "search");
    await en.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Documents" }).click();
    await en.page.getByText(/documents you may read$/).waitFor({ timeout: TIMEOUT });
    await shoot(en.page, "documents");
    await en.page.getByRole("navigation", { name: "Administration" }).getByRole("link", { name: "Users" }).click();
    await en.page.getByRole("heading", { name: "Users", level: 2 }).waitFor({ timeout: TIMEOUT });
    await en.page.getByText(USERS.minji.name, { exact: true }).first().waitFor({ timeout: TIMEOUT });
    await shoot(en.page, "admin-users");
    await en.close();

    // Korean: the Done-when question, its cited answer, and the cited page with the quote highlighted.
    const ko = await newSession(browser, server, { locale: "ko-KR" });
    await ko.page.goto("/signin");
    await ko.page.getByRole("textbox", { name: "사용자 이름" }).fill(USERS.minji.name);
    await ko.page.getByRole("textbox", { name: "비밀번호", exact: true }).fill(USERS.minji.password);
    await ko.page.getByRole("button", { name: "로그인", exact: true }).click();
    await ko.page.getByRole("heading", { name: "질문하기", level: 2 }).waitFor({ timeout: TIMEOUT });
    await askQuestion(ko.page, KOREAN_QUESTION);
    await answered(ko.page);
    await shoot(ko.page, "ask-ko");
    await citationLinks(ko.page).first().click();
    await highlightedQuote(ko.page);
    await shoot(ko.page, "document-highlight-ko");
    await ko.close();
  } finally {
    await browser.close();
    await server.close();
    fs.rmSync(template, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
