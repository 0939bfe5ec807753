/**
 * Asking in the browser. Korean on the demo corpus with the extractive answerer (what
 * `npm start` gives): a cited answer whose citation opens the document at the cited page with the
 * quote highlighted. Streaming, in Korean and in English: a scripted model (scripted-llm.ts)
 * pauses mid-answer, so the test sees the answer partly written (more than one state of the live
 * region before completion), then lets it finish and follows the citation; Stop ends a
 * generation. axe checks the answer and the document screens.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { answered, askQuestion, citationLinks, highlightedQuote, liveTexts, recordLiveRegion, signInToAsk, TIMEOUT } from "./app.ts";
import { DOCS, ENGLISH_QUESTION, KOREAN_QUESTION, USERS } from "./fixtures.ts";
import { expectAccessible, skipReason, webTestLifecycle } from "./harness.ts";
import { ScriptedLlm } from "./scripted-llm.ts";

const LIVE = '[aria-live="polite"]';

/** The text of the answers' live region (what a screen reader announces). */
function liveText(page: Page): Promise<string> {
  return page.locator(LIVE).innerText();
}

/** Follows the first citation in the answer; returns the highlighted quote on the page it opens. */
async function followFirstCitation(page: Page, expectedTitle: RegExp): Promise<string> {
  const link = citationLinks(page).first();
  await link.waitFor({ timeout: TIMEOUT });
  expect(await link.getAttribute("aria-label")).toMatch(expectedTitle);
  await link.click();
  await page.getByRole("heading", { name: expectedTitle, level: 2 }).waitFor({ timeout: TIMEOUT });
  expect(new URL(page.url()).pathname).toMatch(/^\/documents\//);
  expect(new URL(page.url()).searchParams.get("page")).toBe("1");
  await page.getByRole("region", { name: "Page 1" }).waitFor({ timeout: TIMEOUT });
  return highlightedQuote(page);
}

describe.skipIf(skipReason())("asking", () => {
  const web = webTestLifecycle();

  it("answers the Korean question with a citation that opens the cited page with the quote highlighted (extractive)", async () => {
    const server = await web.server();
    const session = await web.session(server);
    const { page } = session;
    await signInToAsk(page, USERS.minji.name, USERS.minji.password);
    await askQuestion(page, KOREAN_QUESTION);
    await answered(page);
    const answer = await liveText(page);
    expect(answer).toContain("15일");
    await expectAccessible(page, "ask (answered)");

    const quote = await followFirstCitation(page, /휴가/);
    expect(quote).toContain("15일");
    expect(answer.replace(/\s+/g, " ")).toContain(quote.replace(/\s+/g, " ").trim()); // the answer's own sentence
    await expectAccessible(page, "document view (highlighted quote)");
  });

  it("lands on the cited page of a multi-page document (page 2 of 3), the quote highlighted there", async () => {
    const server = await web.server();
    const session = await web.session(server);
    const { page } = session;
    await signInToAsk(page, USERS.minji.name, USERS.minji.password);
    await askQuestion(page, "How much is the equipment deposit for the laptop?");
    await answered(page);
    const link = citationLinks(page).first();
    expect(await link.getAttribute("aria-label")).toContain(DOCS.handbook.title);
    await link.click();
    await page.getByRole("heading", { name: DOCS.handbook.title, level: 2 }).waitFor({ timeout: TIMEOUT });
    expect(new URL(page.url()).searchParams.get("page")).toBe("2");
    await page.getByRole("region", { name: "Page 2" }).waitFor({ timeout: TIMEOUT });
    expect(await highlightedQuote(page)).toBe(DOCS.handbook.quote);
    expect(await page.getByRole("region", { name: "Page 2" }).getByText("Mentors").count()).toBe(0); // page 3's text is not on page 2
    await expectAccessible(page, "document view (page 2 of 3)");
  });

  for (const lang of ["en", "ko"] as const) {
    it(`streams a ${lang === "en" ? "English" : "Korean"} answer token by token, then cites the right page`, async () => {
      const llm = new ScriptedLlm((q) =>
        /VPN/.test(q)
          ? { cite: "Install the VPN client", text: "Install the VPN client from the software center on your company laptop [{n}]. Then sign in with your company account and approve the MFA prompt [{n}]." }
          : { cite: "매년 15일의 연차", text: "1년 이상 근무한 직원에게는 매년 15일의 연차 휴가가 부여됩니다 [{n}]. 3년 이상 근속하면 2년마다 1일씩 가산됩니다 [{n}]." },
      );
      const server = await web.server({}, { llmProvider: llm });
      const session = await web.session(server);
      const { page } = session;
      await signInToAsk(page, USERS.minji.name, USERS.minji.password);
      await recordLiveRegion(page);
      await askQuestion(page, lang === "en" ? ENGLISH_QUESTION : KOREAN_QUESTION);

      // The model pauses after its first word and after its third (scripted-llm.ts); each state
      // is on screen before the next word is written.
      const [one, three, later] = lang === "en" ? ["Install", "Install the VPN", "software center"] : ["1년", "1년 이상 근무한", "15일의"];
      const live = page.locator(LIVE);
      await live.getByText(one).waitFor({ timeout: TIMEOUT });
      expect(await liveText(page)).not.toContain(three);
      await page.getByRole("button", { name: "Stop" }).waitFor({ timeout: TIMEOUT }); // still answering
      llm.resume();
      await live.getByText(three).waitFor({ timeout: TIMEOUT });
      expect(await liveText(page)).not.toContain(later);
      llm.resume();
      await answered(page);
      expect(await liveText(page)).toMatch(lang === "en" ? /approve the MFA prompt/ : /2년마다 1일씩 가산/);
      // The live region went through at least two partial states before the complete answer.
      const states = await liveTexts(page);
      const partial = states.filter((t) => t.includes(one) && !t.includes(later));
      expect(partial.length, `live region states: ${JSON.stringify(states)}`).toBeGreaterThanOrEqual(2);

      const quote = await followFirstCitation(page, lang === "en" ? /VPN/ : /휴가/);
      expect(quote).toContain(lang === "en" ? "Install the VPN client" : "15일");
    });
  }

  it("stops a generation: the partial answer stays, marked as stopped, and the model is told to stop", async () => {
    const llm = new ScriptedLlm(() => ({ cite: "VPN", text: "Install the VPN client from the software center [{n}]. More words that never come." }));
    const server = await web.server({}, { llmProvider: llm });
    const session = await web.session(server);
    const { page } = session;
    await signInToAsk(page, USERS.minji.name, USERS.minji.password);
    await askQuestion(page, ENGLISH_QUESTION);
    await page.locator(LIVE).getByText("Install").waitFor({ timeout: TIMEOUT });
    await page.getByRole("button", { name: "Stop" }).click();
    await page.getByText("Stopped.").waitFor({ timeout: TIMEOUT });
    expect(await liveText(page)).not.toContain("software center");
    await expect.poll(() => llm.stoppedEarly, { timeout: TIMEOUT }).toBe(1);
    // The ask box is usable again.
    await page.getByRole("button", { name: "Ask", exact: true }).waitFor({ timeout: TIMEOUT });
  });
});
