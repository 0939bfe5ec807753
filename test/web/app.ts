/**
 * How the tests use the app: by accessible role, label and text only (what a screen reader
 * offers), never by CSS class or test id. English strings unless a test switches language.
 */
import type { Page } from "playwright-core";
import { expect } from "vitest";

/** Waits for a locator-like condition without fixed sleeps (Playwright's own auto-waiting). */
export const TIMEOUT = 15_000;

export async function signIn(page: Page, name: string, password: string): Promise<void> {
  await page.goto("/signin");
  await page.getByRole("textbox", { name: "User name" }).fill(name);
  await page.getByRole("textbox", { name: "Password", exact: true }).fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

/** Signs in and waits for the ask screen. */
export async function signInToAsk(page: Page, name: string, password: string): Promise<void> {
  await signIn(page, name, password);
  await page.getByRole("heading", { name: "Ask", level: 2 }).waitFor({ timeout: TIMEOUT });
}

export async function signOut(page: Page, name: string): Promise<void> {
  await page.getByRole("button", { name: `Account: ${name}` }).click();
  await page.getByRole("menuitem", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor({ timeout: TIMEOUT });
}

/** Types a question into the ask box and presses Enter. */
export async function askQuestion(page: Page, question: string): Promise<void> {
  const box = page.getByRole("textbox", { name: /Your question|Follow-up question|질문|후속 질문/ });
  await box.fill(question);
  await box.press("Enter");
}

/**
 * Records every text the page's polite live region (where answers stream, and what a screen
 * reader announces) shows, from now on; read with `liveTexts`.
 */
export async function recordLiveRegion(page: Page): Promise<void> {
  await page.evaluate(() => {
    const g = globalThis as unknown as { document: { querySelector(s: string): { textContent: string | null } | null }; MutationObserver: new (cb: () => void) => { observe(n: unknown, o: unknown): void }; __kbLive: string[] };
    const region = g.document.querySelector('[aria-live="polite"]');
    if (!region) throw new Error("no polite live region on the page");
    g.__kbLive = [];
    new g.MutationObserver(() => {
      const text = region.textContent ?? "";
      if (g.__kbLive[g.__kbLive.length - 1] !== text) g.__kbLive.push(text);
    }).observe(region, { subtree: true, childList: true, characterData: true });
  });
}

export function liveTexts(page: Page): Promise<string[]> {
  return page.evaluate(() => (globalThis as unknown as { __kbLive?: string[] }).__kbLive ?? []);
}

/**
 * Waits until the `n`th answer (1-based) is complete: its copy button is shown once the answer is
 * done or stopped (while it streams, the sources list may already hold links).
 */
export async function answered(page: Page, n = 1): Promise<void> {
  await page.getByRole("button", { name: /^(Copy the answer|답변 복사)$/ }).nth(n - 1).waitFor({ timeout: TIMEOUT });
}

/** The `[n]` citation links in the answers (named "[n] <title>"). */
export function citationLinks(page: Page) {
  return page.getByRole("link", { name: /^\[\d+\] / });
}

/** The highlighted quote on the document page. */
export async function highlightedQuote(page: Page): Promise<string> {
  const mark = page.locator("role=mark"); // <mark>: ARIA role "mark" (not in getByRole's type yet)
  await mark.first().waitFor({ timeout: TIMEOUT });
  expect(await mark.count()).toBe(1);
  return (await mark.textContent()) ?? "";
}

/** Runs a search from the Search screen; returns the titles of the results (their links). */
export async function search(page: Page, query: string): Promise<string[]> {
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Search", exact: true }).click();
  const form = page.getByRole("search", { name: "Search the documents" });
  await form.getByRole("searchbox", { name: "Search terms" }).fill(query);
  // The app may show a cached answer to the same query while it asks again: wait for this
  // search's own answer, then for the screen to show as many results as it holds.
  const answered = page.waitForResponse((r) => r.request().method() === "POST" && new URL(r.url()).pathname === "/api/v1/search", { timeout: TIMEOUT });
  await form.getByRole("button", { name: "Search", exact: true }).click();
  const n = ((await (await answered).json()) as { results: unknown[] }).results.length;
  await page.getByRole("status").filter({ hasText: new RegExp(`^${n} results?$`) }).waitFor({ timeout: TIMEOUT });
  const results = page.getByRole("list", { name: "Results" }).getByRole("listitem");
  if (n > 0) await results.nth(n - 1).waitFor({ timeout: TIMEOUT });
  await results.nth(n).waitFor({ state: "detached", timeout: TIMEOUT }); // exactly n
  const titles: string[] = [];
  for (const item of await results.all()) titles.push(((await item.getByRole("link").first().textContent()) ?? "").trim());
  return titles;
}
