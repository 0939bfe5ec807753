/**
 * Documents and feedback in the browser. Upload: three files chosen at once from the keyboard (Tab
 * to the named "Upload files" button, Enter, the file dialog), each with its own progress bar and outcome;
 * the good one is searchable afterwards, the broken one says why it failed, the encrypted PDF is
 * read with the password typed in the upload's "PDF password" field. Feedback: a viewer's
 * 👎 with a comment on an answer is recorded and shows up, with its question, in the admin's
 * feedback review in another browser context.
 */
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { answered, askQuestion, search, signInToAsk, TIMEOUT } from "./app.ts";
import { buildPdf } from "../ingest/fixtures.ts";
import { DOCS, KOREAN_QUESTION, USERS } from "./fixtures.ts";
import { expectAccessible, skipReason, webTestLifecycle } from "./harness.ts";

/** Records the accessible names of every progress bar that appears in the page from now on. */
async function recordProgressBars(page: Page): Promise<void> {
  await page.evaluate(() => {
    const g = globalThis as unknown as {
      document: { body: unknown; querySelectorAll(s: string): ArrayLike<{ getAttribute(n: string): string | null }> };
      MutationObserver: new (cb: () => void) => { observe(n: unknown, o: unknown): void };
      __kbBars: string[];
    };
    g.__kbBars = [];
    new g.MutationObserver(() => {
      for (const bar of Array.from(g.document.querySelectorAll('[role="progressbar"]'))) {
        const entry = `${bar.getAttribute("aria-label")}=${bar.getAttribute("aria-valuenow")}`;
        if (!g.__kbBars.includes(entry)) g.__kbBars.push(entry);
      }
    }).observe(g.document.body, { subtree: true, childList: true, attributes: true });
  });
}

describe.skipIf(skipReason())("documents and feedback", () => {
  const web = webTestLifecycle();

  it("uploads three files with per-file progress and outcome: one done, one failed with its reason, an encrypted PDF read with its password", async () => {
    const server = await web.server();
    const page = (await web.session(server)).page;
    await signInToAsk(page, USERS.admin.name, USERS.admin.password);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Documents" }).click();
    const upload = page.getByRole("region", { name: "Upload documents" });
    await upload.waitFor({ timeout: TIMEOUT });
    await expectAccessible(page, "documents (admin, upload)");
    await recordProgressBars(page);

    // The keyboard path: Tab from the last access field reaches a named "Upload files" button (not
    // the drop area, which is no tab stop: react-dropzone would make it one with role
    // "presentation" and no name); Enter opens the file dialog.
    expect(await upload.locator('[tabindex]:not([tabindex^="-"]):is([role="presentation"], [role="none"])').count(), "an unnamed presentational tab stop").toBe(0);
    // An encrypted PDF among the files: its password goes in the upload's "PDF password" field.
    await upload.getByLabel("PDF password").fill("s3cret");
    await upload.getByLabel("PDF password").focus();
    await page.keyboard.press("Tab");
    const choose = upload.getByRole("button", { name: "Upload files" });
    expect(await choose.evaluate((e) => e === (e.ownerDocument.activeElement as unknown))).toBe(true);
    // Enter on the button must open the file dialog, i.e. click the dropzone's file input. The
    // click is counted and the native dialog suppressed (on loaded CI machines Chromium's
    // "filechooser" event did not always arrive; a re-render can also take the focus, so the key
    // is pressed again, at most three times, on the same named button).
    const input = upload.locator('input[type="file"]');
    await input.evaluate((el) => {
      const w = globalThis as unknown as { fileInputClicks: number };
      w.fileInputClicks = 0;
      el.addEventListener("click", (event: { preventDefault(): void }) => {
        w.fileInputClicks++;
        event.preventDefault();
      });
    });
    const clicks = () => page.evaluate(() => (globalThis as unknown as { fileInputClicks: number }).fileInputClicks);
    for (let attempt = 0; attempt < 3 && (await clicks()) === 0; attempt++) {
      if (attempt > 0) await choose.focus();
      await page.keyboard.press("Enter");
      await expect.poll(clicks, { timeout: 5_000 }).toBeGreaterThan(0).catch(() => undefined);
    }
    expect(await clicks(), "Enter on “Upload files” opens the file dialog").toBeGreaterThan(0);
    await input.setInputFiles([
      { name: "canteen-hours.md", mimeType: "text/markdown", buffer: Buffer.from("# Canteen hours\n\nThe canteen serves lunch from 11:30 to 13:30 on the third floor.\n") },
      { name: "broken.pdf", mimeType: "application/pdf", buffer: Buffer.from("%PDF-1.7\nthis is not really a PDF at all\n%%EOF\n") },
      { name: "payroll.pdf", mimeType: "application/pdf", buffer: Buffer.from(buildPdf({ pages: [["Payroll dates of the Jeju office."]], encrypt: { userPassword: "s3cret" } })) },
    ]);

    const uploads = page.getByRole("list", { name: "Uploads" });
    const good = uploads.getByRole("listitem").filter({ hasText: "canteen-hours.md" });
    const bad = uploads.getByRole("listitem").filter({ hasText: "broken.pdf" });
    await good.getByText("Done", { exact: true }).waitFor({ timeout: 30_000 });
    await bad.getByText("Failed", { exact: true }).waitFor({ timeout: 30_000 });
    await uploads.getByRole("listitem").filter({ hasText: "payroll.pdf" }).getByText("Done", { exact: true }).waitFor({ timeout: 30_000 });
    expect(await good.getByText("Failed", { exact: true }).count()).toBe(0);
    // The failed file says why (an error code and message), the good one does not.
    const badText = (await bad.innerText()).replace(/\s+/g, " ");
    expect(badText).toMatch(/broken\.pdf.*Failed.*\w+: \S/);
    // Each file had its own progress bar while it was on its way.
    const bars = await page.evaluate(() => (globalThis as unknown as { __kbBars: string[] }).__kbBars);
    expect(bars.some((b) => b.startsWith("Progress of canteen-hours.md=")), JSON.stringify(bars)).toBe(true);
    expect(bars.some((b) => b.startsWith("Progress of broken.pdf=")), JSON.stringify(bars)).toBe(true);
    await expectAccessible(page, "documents (upload outcomes)");

    expect(await search(page, "canteen lunch third floor")).toContain("Canteen hours");
  });

  it("draws a PDF's pages with pdf.js in the page (under the app's CSP) and offers the original", async () => {
    const server = await web.server();
    const page = (await web.session(server)).page;
    await signInToAsk(page, USERS.minji.name, USERS.minji.password);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Documents" }).click();
    await page.getByRole("link", { name: DOCS.printerPdf.title }).click();
    await page.getByRole("heading", { name: DOCS.printerPdf.title, level: 2 }).waitFor({ timeout: TIMEOUT });
    await page.getByRole("region", { name: "Page 1" }).getByText("Print jobs are kept for one hour", { exact: false }).waitFor({ timeout: TIMEOUT });
    // "Show as" is a radio group (its inputs are visually hidden): choose as from the keyboard.
    await page.getByRole("radio", { name: "PDF page" }).focus();
    await page.keyboard.press("Space");
    const inkOf = async (n: number) => {
      const canvas = page.getByRole("img", { name: `PDF page ${n}` });
      await canvas.waitFor({ timeout: TIMEOUT });
      // Drawn: some of its pixels are dark (text), not a blank canvas.
      return canvas.evaluate(async (el) => {
        const c = el as unknown as { width: number; height: number; getContext(t: string): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } };
        for (let i = 0; i < 100; i++) {
          if (c.width > 0) {
            const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
            let dark = 0;
            for (let p = 0; p < d.length; p += 4) if (d[p + 3]! > 0 && d[p]! < 100) dark++;
            if (dark > 0) return dark;
          }
          await new Promise((r) => setTimeout(r, 20)); // rendering is asynchronous: look again
        }
        return 0;
      });
    };
    expect(await inkOf(1)).toBeGreaterThan(100);
    await expectAccessible(page, "document view (PDF page)");
    await page.getByRole("button", { name: "Next page" }).click();
    expect(await inkOf(2)).toBeGreaterThan(100);
    const download = page.waitForEvent("download");
    await page.getByRole("link", { name: "Download original" }).click();
    expect((await download).suggestedFilename()).toMatch(/\.pdf$/);
  });

  it("records a viewer's feedback on an answer and shows it to the admin for review", async () => {
    const server = await web.server();
    const viewer = (await web.session(server)).page;
    await signInToAsk(viewer, USERS.minji.name, USERS.minji.password);
    await askQuestion(viewer, KOREAN_QUESTION);
    await answered(viewer);
    await viewer.getByRole("button", { name: "Bad answer" }).click();
    await viewer.getByRole("textbox", { name: "Comment (optional)" }).fill("신입 사원의 연차도 알려 주세요");
    await viewer.getByRole("button", { name: "Send" }).click();
    await viewer.getByRole("status").filter({ hasText: "Thank you for the feedback." }).waitFor({ timeout: TIMEOUT });
    expect(await viewer.getByRole("button", { name: "Bad answer" }).getAttribute("aria-pressed")).toBe("true");
    await expectAccessible(viewer, "ask (feedback given)");

    const admin = (await web.session(server)).page;
    await signInToAsk(admin, USERS.admin.name, USERS.admin.password);
    await admin.getByRole("navigation", { name: "Administration" }).getByRole("link", { name: "Feedback" }).click();
    const item = admin.getByRole("article", { name: KOREAN_QUESTION });
    await item.waitFor({ timeout: TIMEOUT });
    await item.getByText("신입 사원의 연차도 알려 주세요").waitFor();
    await item.getByText("Bad answer").waitFor();
    await expectAccessible(admin, "admin: feedback review");
  });
});
