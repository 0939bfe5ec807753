/**
 * Asking with an attached image (services/ask-image.ts), on the real server on loopback with the
 * real OCR pool (tesseract.js, bundled traineddata): the image's text joins the question and
 * decides what is cited; it is kept in the conversation and the audit says an image was read
 * (size, words), never its bytes; nothing is written under the data folder for it. Refusals: a
 * remote `image_url` (no request reaches the loopback server it names), an image over the pixel
 * or byte limit, bytes that are not an image.
 *
 * The image is rendered here (SVG → PNG with sharp, DejaVu Sans via fontconfig); without a system
 * font the rendered text is blank and the OCR tests skip with a printed reason.
 */
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ASK_IMAGE_LIMITS } from "../src/domain/limits.ts";
import { ingestNow, startTestServer, writeFiles, type TestServer } from "./helpers/kb.ts";
import { readSse } from "./helpers/sse.ts";
import { textPng } from "./helpers/text-image.ts";

let t: TestServer;
let token: string;
let canRenderText = true;
const QUESTION = "What does this error mean?";

const dataUrl = (bytes: Uint8Array, type = "image/png") => `data:${type};base64,${Buffer.from(bytes).toString("base64")}`;

/** Every file under the data folder with its size, but the metadata database (conversation and audit rows go there). */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (!/^app\.sqlite(-wal|-shm|-journal)?$/.test(e.name)) out.push(`${path.relative(dir, p)} ${fs.statSync(p).size}`);
    }
  };
  walk(dir);
  return out.sort();
}

const ask = (body: Record<string, unknown>) =>
  t.fetchAs(token, "/api/v1/ask", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
const chat = (content: unknown) =>
  t.fetchAs(token, "/v1/chat/completions", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "x", messages: [{ role: "user", content }] }) });

beforeAll(async () => {
  t = await startTestServer();
  token = await t.tokenFor("kim", "viewer");
  const [printer, general, scanning] = writeFiles(`${t.dir}/docs`, {
    "printer-errors.txt": "Badge printer codes\n\nThe code ZORBLAX on the badge printer means its ribbon cartridge is empty. Replace the ribbon cartridge and press reset.\n",
    "general-errors.txt":
      "What does an error mean?\n\nWhat an error message means depends on the application that shows it. Most error messages mean you should save your work, restart the application and try again.\n",
    // Shares no word with the question or the image, only with the labels the ask path puts in.
    "scanning-guide.txt": "Scanning guide\n\nScanned pages become image text after recognition. Image quality and text contrast decide how well an image reads.\n",
  });
  await ingestNow(t.kb, [
    { source: "printer-errors.txt", path: printer! },
    { source: "general-errors.txt", path: general! },
    { source: "scanning-guide.txt", path: scanning! },
  ]);
  const { channels } = await sharp(await textPng(["probe"])).grayscale().stats();
  canRenderText = channels[0]!.min < 128;
  if (!canRenderText) console.warn("ask-image: no system font renders SVG text (fontconfig/DejaVu); OCR cases skipped");
}, 60_000);
afterAll(async () => t?.close());

describe("ask with an image", () => {
  it("without the image, the question alone points elsewhere (the control)", async () => {
    const res = await ask({ question: QUESTION });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.citations[0]?.source).not.toBe("printer-errors.txt");
  });

  it("the image's text joins the question: the answer cites the document its error code points to; kept in the conversation, audited without bytes, nothing on disk", async (ctx) => {
    if (!canRenderText) ctx.skip();
    const png = await textPng(["Badge printer", "Error ZORBLAX"]);
    const before = listing(t.dir);
    const res = await ask({ question: QUESTION, image: { dataUrl: dataUrl(png) } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.citations[0].source).toBe("printer-errors.txt");
    expect(body.answer).toMatch(/ribbon/);
    expect(body.retrievalQuery).toMatch(/^What does this error mean\?\s+\[image text\] .*ZORBLAX/s);
    expect(listing(t.dir)).toEqual(before);

    const detail = (await (await t.fetchAs(token, `/api/v1/conversations/${body.conversationId}`)).json()) as any;
    expect(detail.messages[0].content).toMatch(/\[image text\] .*ZORBLAX/s);

    const events = await t.kb.audit.repository.query({ action: "ask" });
    const event = events.find((e) => (e.details as any).conversationId === body.conversationId)!;
    expect((event.details as any).image).toMatchObject({ bytes: png.length, format: "png" });
    expect((event.details as any).image.words).toBeGreaterThanOrEqual(3);
    const stored = JSON.stringify(event.details);
    expect(stored).not.toContain(png.toString("base64").slice(0, 64));
  }, 180_000);

  it("the labels the image's text is put under are not searched for (the sources hold no document for the word 'image')", async (ctx) => {
    if (!canRenderText) ctx.skip();
    const res = await ask({ question: QUESTION, image: { dataUrl: dataUrl(await textPng(["Badge printer", "Error ZORBLAX"])) }, stream: true });
    expect(res.status).toBe(200);
    const events = await readSse(res);
    const sources = events.find((e) => e.event === "sources")!.data.sources as Array<{ source: string }>;
    expect(sources.map((s) => s.source)).toContain("printer-errors.txt");
    expect(sources.map((s) => s.source)).not.toContain("scanning-guide.txt");
  }, 180_000);

  it("the OpenAI-compatible route reads an image_url data: URL", async (ctx) => {
    if (!canRenderText) ctx.skip();
    const png = await textPng(["Badge printer", "Error ZORBLAX"]);
    const res = await chat([
      { type: "text", text: QUESTION },
      { type: "image_url", image_url: { url: dataUrl(png) } },
    ]);
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.citations[0].source).toBe("printer-errors.txt");

    // An image with no typed text: the image's text is the question.
    const alone = await chat([{ type: "image_url", image_url: { url: dataUrl(await textPng(["Badge printer", "What does error ZORBLAX mean?"])) } }]);
    expect(alone.status).toBe(200);
    const aloneBody = (await alone.json()) as any;
    expect(aloneBody.private_kb.retrievalQuery).toMatch(/^\[image text\] .*ZORBLAX/s);
    expect(aloneBody.citations[0].source).toBe("printer-errors.txt");
  }, 180_000);

  it("refuses a remote image_url without fetching it", async () => {
    let requests = 0;
    const server = http.createServer((_req, res) => {
      requests++;
      res.end("no");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/error.png`;
      const res = await chat([
        { type: "text", text: QUESTION },
        { type: "image_url", image_url: { url } },
      ]);
      expect(res.status).toBe(400);
      expect(((await res.json()) as any).error.code).toBe("image_url_not_allowed");
      const viaAsk = await ask({ question: QUESTION, image: { dataUrl: url } });
      expect(viaAsk.status).toBe(400);
      expect(((await viaAsk.json()) as any).error.code).toBe("image_url_not_allowed");
      expect(requests).toBe(0);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it("refuses an image over the pixel or byte limit, and bytes that are not an image", async () => {
    const side = Math.ceil(Math.sqrt(ASK_IMAGE_LIMITS.pixels)) + 10;
    const huge = await sharp({ create: { width: side, height: side, channels: 3, background: "#fff" } }).png().toBuffer();
    expect(huge.length).toBeLessThan(ASK_IMAGE_LIMITS.bytes);
    const tooManyPixels = await ask({ question: QUESTION, image: { dataUrl: dataUrl(huge) } });
    expect(tooManyPixels.status).toBe(413);
    expect(((await tooManyPixels.json()) as any).error.code).toBe("image_too_large");

    const heavy = Buffer.alloc(ASK_IMAGE_LIMITS.bytes + 1024, 7);
    heavy.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const tooManyBytes = await ask({ question: QUESTION, image: { dataUrl: dataUrl(heavy) } });
    expect(tooManyBytes.status).toBe(413);
    expect(((await tooManyBytes.json()) as any).error.code).toBe("image_too_large");

    // Declared as a PNG, but its bytes are text (and a GIF, a real image of a type not accepted).
    const notImage = await ask({ question: QUESTION, image: { dataUrl: dataUrl(Buffer.from("Error ZORBLAX, honest")) } });
    expect(notImage.status).toBe(415);
    expect(((await notImage.json()) as any).error.code).toBe("unsupported_image");
    const gif = await sharp({ create: { width: 8, height: 8, channels: 3, background: "#fff" } }).gif().toBuffer();
    const notAccepted = await chat([
      { type: "text", text: QUESTION },
      { type: "image_url", image_url: { url: dataUrl(gif, "image/png") } },
    ]);
    expect(notAccepted.status).toBe(415);
    expect(((await notAccepted.json()) as any).error.code).toBe("unsupported_image");
  }, 60_000);
});
