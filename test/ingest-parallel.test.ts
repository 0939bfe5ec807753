/**
 * The pipelined ingest path (file-pipeline.ts): files extracted in child processes, several at
 * once, while the previous batch is embedded and written in the background. It must index
 * exactly what the serial path (extraction in this process, one file at a time) indexes, and a
 * broken file in the middle of a batch must fail alone.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ingestNow, openTestKb, writeFiles, type TestKb } from "./helpers/kb.ts";
import { buildPdf } from "./ingest/fixtures.ts";

const WORDS = ["apples", "harbour", "ledger", "turbine", "orchard", "violin", "granite", "compass", "lantern", "meadow"];

/** More documents than one write batch (16), so writes overlap the extraction of later files. */
function corpus(): Record<string, string | Uint8Array> {
  const files: Record<string, string | Uint8Array> = {};
  for (let i = 0; i < 30; i++) {
    const w = WORDS[i % WORDS.length]!;
    const paragraphs = Array.from({ length: 1 + (i % 4) }, (_, p) => `Paragraph ${p + 1} of note ${i} is about ${w} and ${WORDS[(i + p) % WORDS.length]}. 문서 ${i}번의 ${p + 1}번째 문단입니다.`);
    files[`note-${String(i).padStart(2, "0")}.md`] = `# Note ${i}: ${w}\n\n${paragraphs.join("\n\n")}\n\n## Details\n\nMore about ${w} in section two of note ${i}.`;
  }
  files["report.pdf"] = buildPdf({ pages: [["Quarterly report: revenue grew in the harbour district."], ["Second page: the turbine project continues."]] });
  // A PDF header, then nothing a PDF reader can use: fails with its own code, in its own process.
  files["broken.pdf"] = Buffer.concat([Buffer.from("%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R"), Buffer.alloc(4000, 0x41)]);
  files["same-v1.txt"] = "The first version of the shared document talks about lanterns.";
  files["same-v2.txt"] = "The second version of the shared document talks about compasses instead.";
  return files;
}

interface Outcome {
  files: Record<string, { status: string; errorCode?: string }>;
  documents: Record<string, unknown>;
  chunks: Record<string, unknown[]>;
}

/** Ingests the corpus in one job (the shared document's two versions as two files of it) and reads back what was indexed, by file name. */
async function ingestCorpus(t: TestKb): Promise<Outcome> {
  const paths = writeFiles(path.join(t.dir, "in"), corpus());
  const byName = (n: string) => paths.find((p) => path.basename(p) === n)!;
  const notes = paths.filter((p) => path.basename(p).startsWith("note-")).map((p) => ({ source: path.basename(p), path: p }));
  const own = (n: string) => ({ source: n, path: byName(n) });
  // The broken file sits among good ones; the shared document's second version comes right after its first.
  const files = [
    ...notes.slice(0, 10),
    { source: "shared.txt", path: byName("same-v1.txt") },
    { source: "shared.txt", path: byName("same-v2.txt") },
    ...notes.slice(10, 20),
    own("broken.pdf"),
    own("report.pdf"),
    ...notes.slice(20),
  ];
  expect(files.findIndex((f) => f.source === "broken.pdf")).toBeGreaterThan(0);
  expect(files.findIndex((f) => f.source === "broken.pdf")).toBeLessThan(files.length - 1);
  const { job } = await ingestNow(t.kb, files);
  const out: Outcome = { files: {}, documents: {}, chunks: {} };
  job.files.forEach((f, i) => (out.files[`${f.source}#${i}`] = { status: f.status, ...(f.errorCode ? { errorCode: f.errorCode } : {}) }));
  const docs = await t.kb.metadata.documents.all();
  const sourceOf = new Map(docs.map((d) => [d.id, d.source]));
  for (const d of docs) out.documents[d.source] = { status: d.status, version: d.version, title: d.title, pageCount: d.pageCount, chunkCount: d.chunkCount };
  const rows = await t.kb.chunks.list(null, ["chunk_id", "document_id", "document_version", "ordinal", "title", "page_start", "page_end", "headings", "text", "analyzed", "allow", "classification"]);
  for (const r of rows) {
    const source = sourceOf.get(String(r.document_id))!;
    // Chunk ids hold the (random) document id: compared as version and ordinal.
    const { chunk_id, document_id, allow, ...rest } = r;
    (out.chunks[source] ??= []).push({ ...rest, id: String(chunk_id).slice(String(document_id).length), allow: Array.from(allow as Iterable<string>) });
  }
  return out;
}

let serialKb: TestKb;
let parallelKb: TestKb;
let serial: Outcome;
let parallel: Outcome;

beforeAll(async () => {
  serialKb = await openTestKb({ extractProcesses: 0, ingestConcurrency: 1 });
  parallelKb = await openTestKb({ extractProcesses: 2, ingestConcurrency: 2 });
  serial = await ingestCorpus(serialKb);
  parallel = await ingestCorpus(parallelKb);
}, 180_000);
afterAll(async () => {
  await serialKb?.close();
  await parallelKb?.close();
});

describe("pipelined ingestion (extraction processes, background writes)", () => {
  it("indexes exactly the chunks the serial path indexes", () => {
    expect(Object.keys(parallel.chunks).length).toBe(32); // 30 notes, the report, the shared document
    expect(parallel.chunks).toEqual(serial.chunks);
    expect(parallel.documents).toEqual(serial.documents);
    expect(parallel.files).toEqual(serial.files);
  });

  it("fails the broken file alone, with its own code; every other file of its batches is written", () => {
    for (const outcome of [parallel, serial]) {
      const failed = Object.entries(outcome.files).filter(([, f]) => f.status !== "succeeded");
      expect(failed).toEqual([[expect.stringMatching(/^broken\.pdf#/), { status: "failed", errorCode: "corrupt_pdf" }]]);
      expect(outcome.documents["broken.pdf"]).toMatchObject({ status: "failed", version: 0 });
      expect(Object.values(outcome.documents).filter((d) => (d as { status: string }).status === "ready")).toHaveLength(32);
    }
    expect(parallel.documents["report.pdf"]).toMatchObject({ status: "ready", pageCount: 2 });
  });

  it("writes two versions of one document in one job in order: the second is live, nothing of the first is left", () => {
    expect(parallel.documents["shared.txt"]).toMatchObject({ status: "ready", version: 2 });
    const rows = parallel.chunks["shared.txt"] as { id: string; text: string }[];
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => r.id.startsWith(":2:"))).toBe(true);
    expect(rows.map((r) => r.text).join(" ")).toContain("compasses");
    expect(rows.map((r) => r.text).join(" ")).not.toContain("lanterns");
  });
});
