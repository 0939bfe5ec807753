/**
 * Extraction child processes (src/services/jobs/extract-processes.ts): the same results as
 * in-process extraction, errors with their codes, and the per-file limits — a file over its time
 * or memory limit has its process killed and fails with a named error, and the next file gets a
 * fresh process. OCR asked for by a child is done by the parent's engine. Every file's promise
 * settles: a process that cannot even start fails its files, and a file past its wall-clock limit
 * in its process (an OCR reply that never comes) fails with `extract_stalled`; the next file goes on.
 */
import { spawnSync } from "node:child_process";
import sharp from "sharp";
import { afterAll, describe, expect, it } from "vitest";
import { configureExtraction } from "../ingest/extraction-settings.ts";
import { OcrEngine, type OcrPage } from "../ingest/ocr/engine.ts";
import { closeExtractors, prepareDocument } from "../ingest/pipeline.ts";
import { loadConfig } from "../src/config.ts";
import { ExtractProcessPool } from "../src/services/jobs/extract-processes.ts";
import { buildDocx, buildEml } from "./formats/builders.ts";
import { xmlBombDocx } from "./helpers/hostile-files.ts";
import { buildPdf } from "./ingest/fixtures.ts";
import { SPLIT_READ_MIN_PAGES } from "../ingest/extractors/pdf.ts";

const MiB = 1024 * 1024;
const pools: ExtractProcessPool[] = [];
const poolOf = (o: Partial<ConstructorParameters<typeof ExtractProcessPool>[0]> = {}) => {
  const p = new ExtractProcessPool({ size: 1, timeoutMs: 600_000, maxRssBytes: 4096 * MiB, heapMb: 3072, ...o });
  pools.push(p);
  return p;
};
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  await closeExtractors();
});

describe("extraction child processes", () => {
  it("prepare documents like in-process extraction, and return extractor errors with their code", async () => {
    const pool = poolOf({ size: 2 });
    const files = [
      { source: "a.md", bytes: Buffer.from("# Alpha\n\nApples are red. 사과는 빨갛다.\n\n## More\n\nThey grow on trees.") },
      { source: "b.html", bytes: Buffer.from("<html><head><title>Bravo</title></head><body><main><p>Bananas are yellow.</p></main></body></html>") },
      { source: "c.txt", bytes: Buffer.from("Cherries. ".repeat(400)) },
    ];
    const inChild = await Promise.all(files.map((f) => pool.prepare(f.source, f.bytes)));
    const local = await Promise.all(files.map((f) => prepareDocument(f)));
    expect(inChild).toEqual(local);
    await expect(pool.prepare("empty.txt", new Uint8Array(0))).rejects.toMatchObject({ name: "IngestError", code: expect.any(String) });
    expect((await pool.prepare("d.txt", Buffer.from("still fine"))).chunks.length).toBe(1);
  });

  it("read a long PDF in two processes (the back half by the other one) into the same document", async () => {
    const pool = poolOf({ size: 2 });
    // Both processes started and idle, so the range is taken at once by the other one.
    await Promise.all(["w1.txt", "w2.txt"].map((name) => pool.prepare(name, Buffer.from(`warm ${name}`))));
    const pages = Array.from({ length: SPLIT_READ_MIN_PAGES + 7 }, (_, i) => [`Page ${i + 1} of the annual report.`, `Section ${i + 1} describes the branch results for quarter ${(i % 4) + 1} in detail.`]);
    for (const encrypt of [undefined, { userPassword: "s3cret" }]) {
      const bytes = buildPdf({ pages, title: "Annual report", ...(encrypt ? { encrypt } : {}) });
      const password = encrypt?.userPassword;
      const before = { ...pool.stats };
      const split = await pool.prepare("report.pdf", bytes, { password });
      expect(pool.stats.pageRanges - before.pageRanges).toBe(1);
      expect(pool.stats.pageRangesReclaimed - before.pageRangesReclaimed).toBe(0);
      const local = await prepareDocument({ source: "report.pdf", bytes, password }, { password });
      expect(split).toEqual(local);
      expect(split.pages.map((p) => p.page)).toEqual(pages.map((_, i) => i + 1));
    }
    // A long PDF inside another file (a mail's attachment): the range is read from its own bytes.
    const eml = buildEml([{ name: "report.pdf", type: "application/pdf", bytes: Buffer.from(buildPdf({ pages, title: "Attached report" })) }]);
    const ranges = pool.stats.pageRanges;
    const mail = await pool.prepare("mail.eml", eml);
    expect(pool.stats.pageRanges - ranges).toBe(1);
    expect(pool.stats.pageRangesFailed).toBe(0);
    expect(mail).toEqual(await prepareDocument({ source: "mail.eml", bytes: eml }));
    expect(mail.chunks.map((c) => c.text).join(" ")).toContain(`Page ${pages.length} of the annual report.`);
    // A short PDF is read by one process.
    const before = pool.stats.pageRanges;
    await pool.prepare("short.pdf", buildPdf({ pages: pages.slice(0, 3) }));
    expect(pool.stats.pageRanges).toBe(before);
  });

  it("take back a page range no other process has started, and read it in the process that asked", async () => {
    const pool = poolOf({ size: 2 });
    await pool.prepare("w.txt", Buffer.from("one process started"));
    expect(pool.pids()).toHaveLength(1);
    // The range starts a second process, which takes far longer to start than the first needs
    // for its own half: the first takes the range back.
    const pages = Array.from({ length: SPLIT_READ_MIN_PAGES }, (_, i) => [`Page ${i + 1} of the manual.`, `Step ${i + 1}: check the valve and note the pressure.`]);
    const bytes = buildPdf({ pages });
    const split = await pool.prepare("manual.pdf", bytes);
    expect(pool.stats.pageRanges).toBe(1);
    expect(pool.stats.pageRangesReclaimed).toBe(1);
    expect(split).toEqual(await prepareDocument({ source: "manual.pdf", bytes }));
  });

  it("read a page range itself when the process reading it for it dies", async () => {
    const pool = poolOf({ size: 2 });
    await Promise.all(["w1.txt", "w2.txt"].map((name) => pool.prepare(name, Buffer.from(`warm ${name}`))));
    const pages = Array.from({ length: 1500 }, (_, i) => [`Page ${i + 1} of the register.`, `Entry ${i + 1} records a delivery of ${i * 7} units to the warehouse.`]);
    const bytes = buildPdf({ pages });
    const prepared = pool.prepare("register.pdf", bytes);
    // The process reading the back half is killed while it reads.
    let helper: number | null = null;
    for (let i = 0; i < 500 && helper === null; i++) {
      helper = pool.state().children.find((c) => c.file?.includes("(pages"))?.pid ?? null;
      if (helper === null) await new Promise((r) => setTimeout(r, 10));
    }
    expect(helper).not.toBeNull();
    process.kill(helper!, "SIGKILL");
    const split = await prepared;
    expect(pool.stats.crashed).toBe(1);
    expect(pool.stats.pageRangesFailed).toBe(1);
    expect(split.pages).toHaveLength(1500);
    expect(split).toEqual(await prepareDocument({ source: "register.pdf", bytes }));
  }, 120_000);

  it("kill a file over its time limit (extract_timeout) and go on with a fresh process", async () => {
    const pool = poolOf({ timeoutMs: 500 });
    await expect(pool.prepare("bomb.docx", await xmlBombDocx(300_000))).rejects.toMatchObject({ name: "IngestError", code: "extract_timeout" });
    expect(pool.stats.killedTimeout).toBe(1);
    const after = await pool.prepare("next.txt", Buffer.from("the next file is read by a new process"));
    expect(after.chunks[0]!.text).toContain("next file");
    expect(pool.stats.started).toBe(2);
  });

  it("kill a file over the RSS cap (extract_memory), which the heap limit alone would not stop in time", async () => {
    const pool = poolOf({ maxRssBytes: 512 * MiB });
    await expect(pool.prepare("bomb.docx", await xmlBombDocx(80_000))).rejects.toMatchObject({ name: "IngestError", code: "extract_memory" });
    expect(pool.stats.killedMemory).toBe(1);
    expect((await pool.prepare("next.txt", Buffer.from("fine again"))).chunks.length).toBe(1);
  });

  it("send OCR to the parent's engine (one pool for all children)", async () => {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="900" height="200"><rect width="100%" height="100%" fill="white"/><text x="20" y="120" font-family="DejaVu Sans" font-size="56">Invoice 2024</text></svg>`;
    const png = await sharp(Buffer.from(svg)).flatten({ background: "#ffffff" }).png().toBuffer();
    const pool = poolOf();
    const prepared = await pool.prepare("scan.png", png);
    expect(pool.stats.ocrPages).toBe(1);
    expect(prepared.chunks.map((c) => c.text).join(" ")).toMatch(/Invoice/);
  });

  it("take this process's extraction settings (KB_OCR_PICTURES=off: the child asks for no picture OCR)", async () => {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="900" height="140"><rect width="100%" height="100%" fill="white"/><text x="30" y="90" font-family="DejaVu Sans" font-size="44" fill="black">Revenue grew 12 percent</text></svg>`;
    const picture = await sharp(Buffer.from(svg)).flatten({ background: "#ffffff" }).png().toBuffer();
    const docx = await buildDocx({ picture });
    // The child reads no environment: only settings handed over by the parent can turn OCR off.
    configureExtraction({ ocrPictures: loadConfig({ KB_OCR_PICTURES: "off" }).ocrPictures });
    try {
      const pool = poolOf();
      const prepared = await pool.prepare("report.docx", docx);
      expect(prepared.chunks.map((c) => c.text).join(" ")).toContain("The chart below shows the figures.");
      expect(pool.stats.ocrPages).toBe(0);
    } finally {
      configureExtraction({ ocrPictures: true });
    }
  });
});

describe("extraction child processes that are lost", () => {
  it("fail the files of a process that could not be started (no exit event), with the reason", async () => {
    // A fork that fails (here ENOENT; EAGAIN or EMFILE on a loaded machine) emits `error` and
    // `close` but never `exit`: its file must fail, not wait for ever, and the queued ones too.
    // The wall-clock limit is far away, so only the pool noticing the lost start settles them.
    const pool = poolOf({ size: 2, execPath: "/nonexistent/kb-test/node" });
    const files = ["a.txt", "b.txt", "c.txt"].map((name) => pool.prepare(name, Buffer.from(`text of ${name}`)));
    for (const f of files) await expect(f).rejects.toMatchObject({ name: "IngestError", code: "extract_crashed", message: expect.stringMatching(/ENOENT/) });
    await pool.close(); // nothing left waiting for an exit that never comes
  });

  it("fail a file past its wall-clock limit while it waits for OCR (a reply that never comes), and go on", async () => {
    // An OCR engine that never answers: the child waits for it with its extraction clock paused,
    // so only the wall-clock limit (queue, extraction and OCR waits together) ends the wait.
    class SilentOcr extends OcrEngine {
      override recognizeImage(): Promise<OcrPage> {
        return new Promise<OcrPage>(() => {});
      }
    }
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="900" height="200"><rect width="100%" height="100%" fill="white"/><text x="20" y="120" font-family="DejaVu Sans" font-size="56">Invoice 2024</text></svg>`;
    const png = await sharp(Buffer.from(svg)).flatten({ background: "#ffffff" }).png().toBuffer();
    const pool = poolOf({ wallMs: 5000, ocr: async () => new SilentOcr() });
    await expect(pool.prepare("scan.png", png)).rejects.toMatchObject({ name: "IngestError", code: "extract_stalled" });
    expect((await pool.prepare("next.txt", Buffer.from("the next file is read by a new process"))).chunks[0]!.text).toContain("next file");
    expect(pool.stats.started).toBe(2);
  });
});

describe("extraction child processes, lifecycle", () => {
  it("let a process that used them exit normally once the pool is closed (idle children are unref'd)", () => {
    const modUrl = new URL("../src/services/jobs/extract-processes.ts", import.meta.url).href;
    const script = `
      const { ExtractProcessPool } = await import(${JSON.stringify(modUrl)});
      const pool = new ExtractProcessPool({ size: 1, timeoutMs: 60000, maxRssBytes: 2 ** 31, heapMb: 1024 });
      const a = await pool.prepare("a.txt", Buffer.from("first file"));
      await new Promise((r) => setTimeout(r, 50));
      await pool.close();
      console.log("closed", a.chunks.length);`;
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8", timeout: 120_000 });
    expect(r.stdout).toContain("closed 1");
    expect(r.status).toBe(0);
  });
});
