/**
 * The "Done when", as a new user does it: `kb start` (what `npm start` runs) on an empty
 * data folder ingests the demo corpus and prints the URL and where the first admin's sign-in is;
 * in the browser, open the printed URL, sign in with the printed credentials, ask
 * "연차 휴가는 며칠인가요?", get a cited answer, click the citation, see the quote highlighted on
 * its page. The real command in a child process, not the test harness's server.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answered, askQuestion, citationLinks, highlightedQuote, TIMEOUT } from "./app.ts";
import { REPO_ROOT } from "./env.ts";
import { KOREAN_QUESTION } from "./fixtures.ts";
import { storeForFolder } from "../helpers/kb.ts";
import { confineContext, expectAccessible, launchBrowser, skipReason } from "./harness.ts";

describe.skipIf(skipReason())("first start (npm start → browser)", () => {
  let browser: Browser;
  let child: ChildProcess | undefined;
  let dir: string;
  let store: Awaited<ReturnType<typeof storeForFolder>> | undefined;
  beforeAll(async () => {
    browser = await launchBrowser();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-first-start-"));
    store = await storeForFolder(); // on PostgreSQL (KB_TEST_DATABASE_URL), an empty database of its own
  });
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    }
    await browser?.close();
    await store?.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("signs in with the printed credentials and gets a cited, highlighted answer to the Korean question", async () => {
    child = spawn(process.execPath, ["--import", "tsx", path.join(REPO_ROOT, "src", "cli", "main.ts"), "start", "--port", "0"], {
      cwd: REPO_ROOT,
      env: { ...process.env, KB_DATA_DIR: path.join(dir, "data"), KB_MODELS_DIR: path.join(dir, "models"), KB_LOG_LEVEL: "warn", KB_EMBED_MODEL: "", KB_LLM_MODEL: "", ...store!.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    const signInLine = await new Promise<string>((resolve, reject) => {
      child!.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const line = /^\s*sign in:.*$/m.exec(out)?.[0];
        if (line) resolve(line);
      });
      child!.once("exit", (code) => reject(new Error(`kb start exited (${code}):\n${out}`)));
    });
    // "sign in:   http://127.0.0.1:PORT/ with the name and password in <file> (mode 0600, written now)"
    const m = /sign in:\s+(http:\/\/127\.0\.0\.1:\d+)\/ with the name and password in (\S+) \(mode 0600/.exec(signInLine);
    expect(m, out).not.toBeNull();
    const [, url, file] = m!;
    expect(out).toMatch(/ingested the demo corpus: \d+ documents \(succeeded\)/);
    expect(fs.statSync(file!).mode & 0o777).toBe(0o600);
    const creds = fs.readFileSync(file!, "utf8");
    const name = /^name: (.+)$/m.exec(creds)![1]!;
    const password = /^password: (.+)$/m.exec(creds)![1]!;

    const context = await browser.newContext({ baseURL: url, locale: "ko-KR", viewport: { width: 1280, height: 800 } });
    const guard = await confineContext(context);
    context.setDefaultTimeout(TIMEOUT);
    const page = await context.newPage();
    await page.goto("/");
    await page.getByRole("textbox", { name: "사용자 이름" }).fill(name);
    await page.getByRole("textbox", { name: "비밀번호", exact: true }).fill(password);
    await page.getByRole("button", { name: "로그인", exact: true }).click();
    await page.getByRole("heading", { name: "질문하기", level: 2 }).waitFor({ timeout: TIMEOUT });
    await askQuestion(page, KOREAN_QUESTION);
    await answered(page);
    expect(await page.locator('[aria-live="polite"]').innerText()).toContain("15일");
    await citationLinks(page).first().click();
    expect(await highlightedQuote(page)).toContain("15일");
    await expectAccessible(page, "first start: the cited page");
    await context.close();
    guard.check();
  });
});
