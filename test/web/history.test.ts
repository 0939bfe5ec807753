/**
 * History in the browser: a user's own conversations are listed after asking; the search box
 * finds one by a word that is only in its answer (not its title); a rename survives a reload;
 * one conversation, then all, are deleted (and stay deleted after a reload); another user never
 * sees them, neither in their History nor by opening the conversation's address. axe checks the
 * History screen with content, searched, and empty.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { answered, askQuestion, signInToAsk, TIMEOUT } from "./app.ts";
import { ENGLISH_QUESTION, KOREAN_QUESTION, USERS } from "./fixtures.ts";
import { expectAccessible, skipReason, webTestLifecycle } from "./harness.ts";

/** Opens History from the main navigation and waits until its list (or its empty message) is shown. */
async function openHistory(page: Page): Promise<void> {
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "History", exact: true }).click();
  await page.getByRole("heading", { name: "History", level: 2 }).waitFor({ timeout: TIMEOUT });
  await settled(page);
}

/** Waits until the list has loaded (no spinner). */
async function settled(page: Page): Promise<void> {
  await page.getByRole("img", { name: "Loading…" }).first().waitFor({ state: "detached", timeout: TIMEOUT });
}

/** The conversation titles in the History table (the links of its rows), in order. */
async function titles(page: Page): Promise<string[]> {
  const links = page.getByRole("table").getByRole("link");
  return (await links.allTextContents()).map((t) => t.trim());
}

/** Waits until the table shows exactly these titles (or, for [], the given empty message). */
async function expectTitles(page: Page, expected: string[], empty = "No conversations yet."): Promise<void> {
  if (expected.length === 0) {
    await page.getByText(empty, { exact: true }).waitFor({ timeout: TIMEOUT });
    expect(await page.getByRole("table").count()).toBe(0);
    return;
  }
  const rows = page.getByRole("table").getByRole("link");
  await rows.nth(expected.length - 1).waitFor({ timeout: TIMEOUT });
  await rows.nth(expected.length).waitFor({ state: "detached", timeout: TIMEOUT });
  for (const title of expected) await page.getByRole("table").getByRole("link", { name: title, exact: true }).waitFor({ timeout: TIMEOUT });
  expect((await titles(page)).sort()).toEqual([...expected].sort());
}

describe.skipIf(skipReason())("history", () => {
  const web = webTestLifecycle();

  it("lists, searches, renames and deletes one's own conversations; another user never sees them", async () => {
    const server = await web.server();
    const minji = await web.session(server);
    const { page } = minji;
    await signInToAsk(page, USERS.minji.name, USERS.minji.password);

    // Two conversations: the Korean question, then (a new conversation) the English one.
    await askQuestion(page, KOREAN_QUESTION);
    await answered(page);
    expect(await page.locator('[aria-live="polite"]').innerText()).toContain("15일"); // in the answer, not in the title
    const koreanUrl = new URL(page.url()).pathname;
    expect(koreanUrl).toMatch(/^\/c\//);
    await page.getByRole("button", { name: "New conversation" }).click();
    await page.getByRole("textbox", { name: "Your question" }).waitFor({ timeout: TIMEOUT });
    await askQuestion(page, ENGLISH_QUESTION);
    await answered(page);

    await openHistory(page);
    await expectTitles(page, [KOREAN_QUESTION, ENGLISH_QUESTION]);
    await expectAccessible(page, "history (two conversations)");

    // Search by a word of the answer only (the title is the question, which lacks it).
    const box = page.getByRole("searchbox", { name: "Search your conversations" });
    await box.fill("15일");
    await expectTitles(page, [KOREAN_QUESTION]);
    await box.fill("VPN");
    await expectTitles(page, [ENGLISH_QUESTION]);
    await box.fill("no conversation has this word");
    await expectTitles(page, [], "No conversation matches.");
    await expectAccessible(page, "history (no match)");
    await box.fill("");
    await expectTitles(page, [KOREAN_QUESTION, ENGLISH_QUESTION]);

    // Rename: the new title is shown, and is still there after a reload (stored on the server).
    await page.getByRole("button", { name: `Rename: ${ENGLISH_QUESTION}` }).click();
    const dialog = page.getByRole("dialog", { name: "Rename" });
    const titleBox = dialog.getByRole("textbox", { name: "Title" });
    await titleBox.fill("Remote access notes");
    await dialog.getByRole("button", { name: "Save" }).click();
    await dialog.waitFor({ state: "detached", timeout: TIMEOUT });
    await expectTitles(page, [KOREAN_QUESTION, "Remote access notes"]);
    await page.reload();
    await page.getByRole("heading", { name: "History", level: 2 }).waitFor({ timeout: TIMEOUT });
    await settled(page);
    await expectTitles(page, [KOREAN_QUESTION, "Remote access notes"]);
    // The renamed conversation opens with its messages.
    await page.getByRole("link", { name: "Remote access notes", exact: true }).click();
    await page.getByText(ENGLISH_QUESTION).first().waitFor({ timeout: TIMEOUT });

    // Another user, in another browser context: none of minji's conversations, not even by address.
    const hana = await web.session(server);
    await signInToAsk(hana.page, USERS.hana.name, USERS.hana.password);
    await openHistory(hana.page);
    await expectTitles(hana.page, []);
    await hana.page.goto(koreanUrl);
    await hana.page.getByText("This conversation does not exist.").waitFor({ timeout: TIMEOUT });
    expect(await hana.page.getByText("15일").count()).toBe(0);
    await expectAccessible(hana.page, "history (empty, another user)");

    // Delete one (confirmed), then all.
    await openHistory(page);
    await page.getByRole("button", { name: `Delete: ${KOREAN_QUESTION}` }).click();
    const confirmOne = page.getByRole("dialog", { name: "Delete" });
    await confirmOne.getByRole("button", { name: "Confirm" }).click();
    await confirmOne.waitFor({ state: "detached", timeout: TIMEOUT });
    await expectTitles(page, ["Remote access notes"]);
    await page.reload();
    await page.getByRole("heading", { name: "History", level: 2 }).waitFor({ timeout: TIMEOUT });
    await settled(page);
    await expectTitles(page, ["Remote access notes"]);

    await page.getByRole("button", { name: "Delete all history" }).click();
    const confirmAll = page.getByRole("dialog", { name: "Delete all history" });
    await confirmAll.getByRole("button", { name: "Confirm" }).click();
    await confirmAll.waitFor({ state: "detached", timeout: TIMEOUT });
    await expectTitles(page, []);
    await page.reload();
    await page.getByRole("heading", { name: "History", level: 2 }).waitFor({ timeout: TIMEOUT });
    await settled(page);
    await expectTitles(page, []);
    expect(await page.getByRole("button", { name: "Delete all history" }).isDisabled()).toBe(true);
    await expectAccessible(page, "history (empty)");
  });
});
