/**
 * The Korean UI. A browser whose language is Korean gets the app in Korean from the first screen
 * (sign-in, navigation, ask, the cited answer, the document page, search, documents), with
 * `<html lang="ko">` for screen readers; the language menu switches to English and back, and the
 * choice is kept across a reload. axe checks the Korean screens.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { answered, askQuestion, highlightedQuote, TIMEOUT } from "./app.ts";
import { KOREAN_QUESTION, USERS } from "./fixtures.ts";
import { expectAccessible, skipReason, webTestLifecycle } from "./harness.ts";

const htmlLang = (page: Page) => page.evaluate(() => (globalThis as unknown as { document: { documentElement: { lang: string } } }).document.documentElement.lang);

describe.skipIf(skipReason())("Korean UI", () => {
  const web = webTestLifecycle();

  it("follows a Korean browser, answers and cites in Korean, and switches language on request", async () => {
    const server = await web.server();
    const session = await web.session(server, { locale: "ko-KR" });
    const { page } = session;

    await page.goto("/");
    await page.getByRole("heading", { name: "로그인" }).waitFor({ timeout: TIMEOUT });
    expect(await htmlLang(page)).toBe("ko");
    await expectAccessible(page, "로그인 (sign-in, Korean)");
    await page.getByRole("textbox", { name: "사용자 이름" }).fill(USERS.minji.name);
    await page.getByRole("textbox", { name: "비밀번호", exact: true }).fill("틀린-비밀번호");
    await page.getByRole("button", { name: "로그인", exact: true }).click();
    await page.getByRole("alert").filter({ hasText: "사용자 이름 또는 비밀번호가 올바르지 않거나, 로그인 실패가 거듭되어 계정이 잠시 잠겼습니다. 잠시 후 다시 시도하거나 관리자에게 문의하세요." }).waitFor({ timeout: TIMEOUT });
    await page.getByRole("textbox", { name: "비밀번호", exact: true }).fill(USERS.minji.password);
    await page.getByRole("button", { name: "로그인", exact: true }).click();

    await page.getByRole("heading", { name: "질문하기", level: 2 }).waitFor({ timeout: TIMEOUT });
    const nav = page.getByRole("navigation", { name: "주 메뉴" });
    for (const label of ["질문하기", "검색", "대화 기록", "문서"]) await nav.getByRole("link", { name: label, exact: true }).waitFor();
    await askQuestion(page, KOREAN_QUESTION);
    await answered(page);
    await page.getByText("출처", { exact: true }).waitFor();
    const source = page.getByRole("link", { name: /^\[\d+\] .*휴가.*·\s*1쪽$/ });
    await source.first().waitFor();
    await expectAccessible(page, "질문하기 (ask, Korean)");
    await source.first().click();
    await page.getByRole("region", { name: "1쪽" }).waitFor({ timeout: TIMEOUT });
    expect(await highlightedQuote(page)).toContain("15일");
    await expectAccessible(page, "문서 보기 (document view, Korean)");

    await nav.getByRole("link", { name: "문서", exact: true }).click();
    await page.getByText(/^열람 가능한 문서 \d+개$/).waitFor({ timeout: TIMEOUT });
    await expectAccessible(page, "문서 (documents, Korean)");
    await nav.getByRole("link", { name: "검색", exact: true }).click();
    await page.getByRole("searchbox", { name: "검색어" }).fill("재택근무");
    await page.getByRole("search", { name: "문서 검색" }).getByRole("button", { name: "검색" }).click();
    await page.getByRole("status").filter({ hasText: /^결과 \d+건$/ }).waitFor({ timeout: TIMEOUT });
    await expectAccessible(page, "검색 (search, Korean)");

    // English on request, remembered across a reload; then back to Korean.
    await page.getByRole("button", { name: "언어: 한국어" }).click();
    await page.getByRole("menuitem", { name: "English" }).click();
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Search", exact: true }).waitFor({ timeout: TIMEOUT });
    expect(await htmlLang(page)).toBe("en");
    await page.reload();
    await page.getByRole("navigation", { name: "Main" }).waitFor({ timeout: TIMEOUT });
    await page.getByRole("button", { name: "Language: English" }).click();
    await page.getByRole("menuitem", { name: "한국어" }).click();
    await page.getByRole("navigation", { name: "주 메뉴" }).waitFor({ timeout: TIMEOUT });
    expect(await htmlLang(page)).toBe("ko");
  });
});
