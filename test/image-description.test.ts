/**
 * Picture descriptions (KB_IMAGE_MODEL), end to end with the tiny generated image-to-text fixture
 * (test/fixtures/make-image-caption-model.ts: random weights, its captions are gibberish words
 * from CAPTION_WORDS) through transformers.js's real `image-to-text` pipeline, the real ingest
 * path (extraction child processes asking the server process for descriptions) and the real HTTP
 * server on loopback:
 *
 * - a photo without text (a colour gradient) is ingested: its description is searchable and the
 *   result's text starts with "[image]"; a picture inside a DOCX is described where it stands, in a
 *   Korean HWPX as "[그림] …";
 * - asking with a textless image: the description joins the question;
 * - /readyz reports the model (idle until the first picture, then ready, with counts);
 * - no KB_IMAGE_MODEL: the same photo is refused as before (no text), nothing in /readyz.
 *
 * What the fixture's captions say means nothing; description quality (and Florence-2, which is not
 * a VisionEncoderDecoder model) is not tested here.
 */
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DESCRIPTION_MARK, descriptionText, labelImageDescriptions, wantsDescription } from "../ingest/image-description.ts";
import { readEmbeddedImages } from "../ingest/ocr/embedded-images.ts";
import { loadImageCaptioner } from "../src/models/image-captioner.ts";
import { ImageDescriberSlot } from "../src/services/image-describer-slot.ts";
import { CAPTION_WORDS, TINY_CAPTION_MAX_NEW_TOKENS } from "./fixtures/make-image-caption-model.ts";
import { buildDocx, buildHwpx, buildPptx, buildXlsx } from "./formats/builders.ts";
import { buildPdf } from "./ingest/fixtures.ts";
import { ingestNow, startTestServer, writeFiles, type TestServer } from "./helpers/kb.ts";

const MODELS_DIR = process.env.KB_TEST_EMBED_MODELS_DIR!;
const IMAGE_MODEL = process.env.KB_TEST_IMAGE_MODEL!;

/** A picture without text: a two-colour gradient (OCR finds nothing on it). */
async function photo(from: [number, number, number], to: [number, number, number], width = 320, height = 200): Promise<Buffer> {
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const f = x / (width - 1);
      for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = Math.round(from[c]! * (1 - f) + to[c]! * f);
    }
  return sharp(data, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

const WORD = new RegExp(`^(?:${CAPTION_WORDS.join("|")})$`);
const json = (body: unknown) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("the fixture image-to-text model", () => {
  it("loads through transformers.js's image-to-text pipeline and gives the same words for the same picture, other words for another", async () => {
    const captioner = await loadImageCaptioner({ modelsDir: MODELS_DIR, model: IMAGE_MODEL, log: () => {} });
    try {
      const red = await photo([255, 0, 0], [255, 200, 0]);
      const blue = await photo([0, 0, 255], [0, 200, 255]);
      const a = await captioner.caption(red);
      expect(a.split(" ")).toHaveLength(TINY_CAPTION_MAX_NEW_TOKENS);
      for (const w of a.split(" ")) expect(w).toMatch(WORD);
      expect(await captioner.caption(red)).toBe(a);
      expect(await captioner.caption(blue)).not.toBe(a);
    } finally {
      await captioner.close();
    }
  });

  it("refuses a folder that is not a VisionEncoderDecoder model, saying what is missing", async () => {
    await expect(loadImageCaptioner({ modelsDir: MODELS_DIR, model: "tiny-embed", log: () => {} })).rejects.toThrow(/incomplete: missing preprocessor_config\.json/);
  });
});

describe("when a picture is described", () => {
  it("only large enough pictures with fewer than 40 letters and digits of OCR text", () => {
    expect(wantsDescription(320, 200, "")).toBe(true);
    expect(wantsDescription(320, 200, "Q3 sales 12%")).toBe(true);
    expect(wantsDescription(320, 200, "Annual leave must be approved in advance by the team lead.")).toBe(false);
    expect(wantsDescription(63, 400, "")).toBe(false); // an icon, a rule
    expect(wantsDescription(100, 100, "")).toBe(false); // 10,000 px: a small logo
  });

  it("labels descriptions by the document's own letters, not the description's", () => {
    const doc = (text: string) => ({ mime: "x", pages: [{ page: 1, blocks: [{ kind: "paragraph" as const, text }, { kind: "paragraph" as const, text: descriptionText("a chart of  sales") }] }], warnings: [] });
    expect(labelImageDescriptions(doc("모든 직원은 연차를 사용할 수 있다.")).pages[0]!.blocks[1]!.text).toBe("[그림] a chart of sales");
    expect(labelImageDescriptions(doc("All staff may take annual leave.")).pages[0]!.blocks[1]!.text).toBe("[image] a chart of sales");
  });

  it("at most maxDescribed pictures of a document, the first ones, with a warning for the rest", async () => {
    const slot = new ImageDescriberSlot(IMAGE_MODEL, (m) => loadImageCaptioner({ modelsDir: MODELS_DIR, model: m, log: () => {} }), 30_000);
    try {
      const pictures = [await photo([255, 0, 0], [0, 0, 0]), await photo([0, 255, 0], [0, 0, 0]), await photo([0, 0, 255], [0, 0, 0])];
      const read = await readEmbeddedImages(pictures, { describer: () => slot, maxDescribed: 2 });
      expect(read.texts.map((t) => t.length)).toEqual([1, 1, 0]);
      expect(read.texts[0]![0]!.startsWith(DESCRIPTION_MARK)).toBe(true);
      expect(read.warnings).toContain("only 2 of 3 pictures without text were described (KB_IMAGE_MAX_PER_FILE)");
      expect(slot.counts).toEqual({ described: 2, failed: 0, timedOut: 0 });
    } finally {
      await slot.close();
    }
  }, 60_000);

  it("a model that fails to load describes nothing and says why", async () => {
    const slot = new ImageDescriberSlot("no-such-model", (m) => loadImageCaptioner({ modelsDir: MODELS_DIR, model: m, log: () => {} }), 30_000);
    expect(slot.status()).toEqual({ status: "idle", model: "no-such-model" });
    expect(await slot.describe(await photo([255, 0, 0], [0, 0, 0]))).toBeNull();
    expect(slot.status()).toMatchObject({ status: "failed", model: "no-such-model", error: expect.stringMatching(/does not exist/) });
  });
});

describe("with KB_IMAGE_MODEL", () => {
  let t: TestServer;
  let admin: string;
  let viewer: string;
  let caption: string;
  let docxCaption: string;
  let hwpxCaption: string;
  let pptxCaption: string;
  let xlsxCaption: string;

  beforeAll(async () => {
    t = await startTestServer({ modelsDir: MODELS_DIR, imageModel: IMAGE_MODEL });
    admin = await t.tokenFor("root", "admin");
    viewer = await t.tokenFor("kim", "viewer");
    const captioner = await loadImageCaptioner({ modelsDir: MODELS_DIR, model: IMAGE_MODEL, log: () => {} });
    const sunset = await photo([250, 120, 20], [60, 0, 120]);
    const chart = await photo([20, 160, 40], [240, 240, 240]);
    const map = await photo([10, 40, 200], [200, 40, 10]);
    const slidePhoto = await photo([240, 240, 20], [20, 20, 20]);
    const sheetPhoto = await photo([120, 0, 200], [0, 220, 120]);
    try {
      [caption, docxCaption, hwpxCaption] = [await captioner.caption(sunset), await captioner.caption(chart), await captioner.caption(map)];
      [pptxCaption, xlsxCaption] = [await captioner.caption(slidePhoto), await captioner.caption(sheetPhoto)];
    } finally {
      await captioner.close();
    }
    // PDFs: a scanner's page (one page-sized photo, no text layer) and a text page with a chart.
    const jpeg = async (png: Buffer) => sharp(png).jpeg({ quality: 95 }).toBuffer();
    const scanPdf = buildPdf({
      pages: [[]],
      pageSize: { width: 240, height: 150 },
      pictures: [{ jpeg: await jpeg(await photo([30, 200, 200], [200, 30, 90])), pixelWidth: 320, pixelHeight: 200, x: 0, y: 0, w: 240, h: 150 }],
    });
    const reportPdf = buildPdf({
      pages: [["Quarterly sales report", "The chart below shows the sales of each region this quarter."]],
      pictures: [{ jpeg: await jpeg(await photo([200, 200, 20], [20, 60, 160])), pixelWidth: 320, pixelHeight: 200, x: 72, y: 400, w: 320, h: 200 }],
    });
    const [photoPath, docxPath, hwpxPath, pptxPath, xlsxPath, scanPath, reportPath] = writeFiles(`${t.dir}/docs`, {
      "sunset.png": sunset,
      "leave.docx": await buildDocx({ picture: chart }),
      "plan.hwpx": await buildHwpx({ picture: map }),
      "slides.pptx": await buildPptx({ picture: slidePhoto }),
      "sheet.xlsx": await buildXlsx(0, sheetPhoto),
      "scan.pdf": scanPdf,
      "report.pdf": reportPdf,
    });
    const ready = (await (await t.fetchAs(admin, "/readyz")).json()) as any;
    expect(ready.imageModel).toMatchObject({ model: IMAGE_MODEL, status: "idle", described: 0 });
    const { job } = await ingestNow(t.kb, [
      { source: "sunset.png", path: photoPath! },
      { source: "leave.docx", path: docxPath! },
      { source: "plan.hwpx", path: hwpxPath! },
      { source: "slides.pptx", path: pptxPath! },
      { source: "sheet.xlsx", path: xlsxPath! },
      { source: "scan.pdf", path: scanPath! },
      { source: "report.pdf", path: reportPath! },
    ]);
    expect(job.status).toBe("succeeded");
  }, 120_000);
  afterAll(async () => t?.close());

  const search = async (query: string) => ((await (await t.fetchAs(viewer, "/api/v1/search", json({ query, topK: 10 }))).json()) as any).results as any[];

  it("a photo without text is indexed by its description, shown as \"[image] …\"", async () => {
    const word = caption.split(" ")[0]!;
    const hit = (await search(word)).find((r) => r.source === "sunset.png");
    expect(hit?.text.startsWith(`[image] ${caption}`)).toBe(true);
  });

  it("a picture inside a DOCX is described where it stands, after the paragraph before it", async () => {
    const hit = (await search(docxCaption)).find((r) => r.source === "leave.docx");
    expect(hit?.text).toContain(`The chart below shows the figures.\n\n[image] ${docxCaption}`);
  });

  it("in a Korean document the description is labelled \"[그림]\"", async () => {
    const hit = (await search(hwpxCaption)).find((r) => r.source === "plan.hwpx");
    expect(hit?.text).toContain(`[그림] ${hwpxCaption}`);
    expect(hit?.text).not.toContain("[image]");
  });

  it("pictures in PPTX and XLSX files are described too", async () => {
    const slide = (await search(pptxCaption)).find((r) => r.source === "slides.pptx");
    expect(slide?.text).toMatch(new RegExp(`\\[(image|그림)\\] ${pptxCaption}`));
    const sheet = (await search(xlsxCaption)).find((r) => r.source === "sheet.xlsx");
    expect(sheet?.text).toMatch(new RegExp(`\\[(image|그림)\\] ${xlsxCaption}`));
  });

  const pageText = async (source: string, page: number) => {
    const doc = (await t.kb.metadata.documents.bySource(source))!;
    const res = await t.fetchAs(viewer, `/api/v1/documents/${doc.id}/pages/${page}`);
    expect(res.status).toBe(200);
    return ((await res.json()) as any).text as string;
  };
  const CAPTION = `(?:${CAPTION_WORDS.join("|")})(?: (?:${CAPTION_WORDS.join("|")}))*`;

  it("a scanned PDF page that is a photo is described: the description is the page's text, and it is searchable", async () => {
    const text = await pageText("scan.pdf", 1);
    expect(text).toMatch(new RegExp(`^\\[image\\] ${CAPTION}$`));
    const word = text.split(" ")[1]!;
    expect((await search(word)).some((r) => r.source === "scan.pdf")).toBe(true);
  });

  it("a picture on a PDF's text page is described after the page's text", async () => {
    const text = await pageText("report.pdf", 1);
    expect(text).toMatch(new RegExp(`^Quarterly sales report\\n[^]*this quarter\\.\\n\\n\\[image\\] ${CAPTION}$`));
  });

  it("/readyz reports the model ready and the pictures it described", async () => {
    const ready = (await (await t.fetchAs(admin, "/readyz")).json()) as any;
    expect(ready.imageModel).toMatchObject({ model: IMAGE_MODEL, status: "ready", described: 7, failed: 0, timedOut: 0 });
    expect(((await (await t.fetchAs(viewer, "/readyz")).json()) as any).imageModel).toBeUndefined();
  });

  it("asking with a picture without text: its description joins the question", async () => {
    const png = await photo([250, 120, 20], [60, 0, 120]);
    const res = await t.fetchAs(viewer, "/api/v1/ask", json({ question: "What is this?", image: { dataUrl: `data:image/png;base64,${png.toString("base64")}` } }));
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    const conv = (await (await t.fetchAs(viewer, `/api/v1/conversations/${body.conversationId}`)).json()) as any;
    const asked = conv.turns?.[0]?.question ?? conv.messages?.find((m: any) => m.role === "user")?.content;
    expect(asked).toBe(`What is this?\n\n[image] ${caption}`);
    expect(body.citations[0]?.source).toBe("sunset.png");
  });
});

describe("without KB_IMAGE_MODEL", () => {
  let t: TestServer;
  afterAll(async () => t?.close());

  it("a photo without text is refused as before (no text), and /readyz says nothing of an image model", async () => {
    t = await startTestServer({ modelsDir: MODELS_DIR });
    const [p] = writeFiles(`${t.dir}/docs`, { "sunset.png": await photo([250, 120, 20], [60, 0, 120]) });
    const { job } = await ingestNow(t.kb, [{ source: "sunset.png", path: p! }]);
    expect(job.status).toBe("failed");
    expect(JSON.stringify(job)).toMatch(/no_content|no_text/);
    const ready = (await (await t.fetchAs(await t.tokenFor("root", "admin"), "/readyz")).json()) as any;
    expect(ready.imageModel).toBeNull();
  }, 60_000);
});
