/**
 * Asking with an image in the browser: the ask box's "Attach an image" takes a PNG (rendered here
 * with sharp: an error screen whose code only one document explains), shows it as attached, and
 * the answer to a question that says nothing of the code cites that document. A GIF is refused
 * in the page, before anything is sent.
 */
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { ingestNow, writeFiles } from "../helpers/kb.ts";
import { answered, askQuestion, citationLinks, signInToAsk, TIMEOUT } from "./app.ts";
import { USERS } from "./fixtures.ts";
import { skipReason, webTestLifecycle } from "./harness.ts";
import { textPng } from "../helpers/text-image.ts";

describe.skipIf(skipReason())("asking with an image", () => {
  const web = webTestLifecycle();

  it("attaches a screenshot whose text decides the cited document; refuses a GIF before sending", async (ctx) => {
    const png = await textPng(["Badge printer", "Error ZORBLAX"]);
    const { channels } = await sharp(png).grayscale().stats();
    if (channels[0]!.min >= 128) {
      console.warn("ask-image (web): no system font renders SVG text; skipped");
      ctx.skip();
    }
    const server = await web.server();
    const [printer] = writeFiles(`${server.dir}/image-docs`, {
      "printer-errors.txt": "Badge printer codes\n\nThe code ZORBLAX on the badge printer means its ribbon cartridge is empty. Replace the ribbon cartridge and press reset.\n",
    });
    await ingestNow(server.kb, [{ source: "printer-errors.txt", path: printer! }]);
    const { page } = await web.session(server);
    await signInToAsk(page, USERS.minji.name, USERS.minji.password);

    const input = page.locator('input[type="file"]');
    const gif = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#fff" } }).gif().toBuffer();
    await input.setInputFiles({ name: "anim.gif", mimeType: "image/gif", buffer: gif });
    await page.getByRole("alert").filter({ hasText: "Only PNG, JPEG or WebP" }).waitFor({ timeout: TIMEOUT });

    await input.setInputFiles({ name: "error.png", mimeType: "image/png", buffer: png });
    await page.getByText("Image: error.png").waitFor({ timeout: TIMEOUT });
    await askQuestion(page, "What does this error mean?");
    await answered(page);
    const link = citationLinks(page).first();
    await link.waitFor({ timeout: TIMEOUT });
    expect(await link.getAttribute("aria-label")).toMatch(/Badge printer|printer-errors/);
    expect(await page.getByTestId("answer").first().innerText()).toMatch(/ribbon/);
    // The attachment went with the question and left the box.
    expect(await page.getByRole("button", { name: "Remove the image error.png" }).count()).toBe(0);
  }, 120_000);
});
