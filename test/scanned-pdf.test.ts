/**
 * A scanned (image-only) Korean PDF goes through the real pipeline: OCR fallback per page,
 * searchable by its words, and answers cite the right page. Needs ../shared (skips otherwise).
 */
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { ingestNow, openTestKb, type TestKb } from "./helpers/kb.ts";

const SCAN = path.resolve("../shared/data/ocr_korean/scanned_pdf_200dpi/autorag_korean_texts_two_page.scanned.pdf");
const have = fs.existsSync(SCAN);
if (!have) console.warn(`skipping scanned-PDF test: ${SCAN} not found (../shared absent)`);

describe.skipIf(!have)("scanned PDF", () => {
  let t: TestKb;
  beforeAll(async () => {
    t = await openTestKb();
    const { job } = await ingestNow(t.kb, [{ source: "scan.pdf", path: SCAN }]);
    expect(job.files[0]).toMatchObject({ status: "succeeded" });
  }, 300_000);
  afterAll(async () => t?.close());

  it("is searchable by its words, with the page of the match", async () => {
    const doc = (await t.kb.metadata.documents.bySource("scan.pdf"))!;
    expect(doc.pageCount).toBe(2);
    const r = await t.kb.retriever.retrieve(SYSTEM_ACTOR, "실종선고 실종기간 사망", { topK: 3 });
    expect(r.chunks[0]?.source).toBe("scan.pdf");
    expect(r.chunks[0]!.pageStart).toBeLessThanOrEqual(2);
    expect(r.chunks[0]!.pageEnd).toBe(2);
  });

  it("counts its two OCR'd pages in the metrics", async () => {
    const text = (await t.kb.metrics.render()).body;
    expect(text).toMatch(/^kb_ocr_pages_total 2$/m);
    expect(text).toMatch(/^kb_ingest_pages_total 2$/m);
    expect(text).toMatch(/^kb_ingest_files_total 1$/m);
  });

  it("answers with a citation of page 2 for a page-2 fact", async () => {
    await t.kb.accounts.createUser({ name: "reader", role: "viewer" });
    const { events } = await t.kb.ask.ask(await t.kb.accounts.actorByName("reader"), "실종선고를 받은 경우 언제 사망한 것으로 보나요?");
    let done: any;
    for await (const e of events) if (e.type === "done") done = e;
    expect(done.found).toBe(true);
    expect(done.answer).toContain("실종기간");
    expect(done.citations[0].page).toBe(2);
  });
});
