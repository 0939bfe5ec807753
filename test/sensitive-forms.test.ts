/**
 * Issue 10, finding 6, through the real server: personal data written in forms the detector
 * used to miss (space or dot separators, dashes other than the ASCII hyphen, fullwidth digits)
 * is masked and cannot be found by readers who see it masked; and documents indexed by an
 * older detector, whose full-text index still holds such values as words, cannot confirm them
 * meanwhile and are re-indexed when a worker starts.
 */
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { analyzeForIndex } from "../src/domain/analysis/index.ts";
import { SENSITIVE_DETECTOR_VERSION } from "../src/domain/sensitive/index.ts";
import { reindexDocumentsOfOlderDetector } from "../src/services/jobs/jobs-service.ts";
import { ingestNow, startTestServer, waitForJob, writeFiles, type TestServer } from "./helpers/kb.ts";

let t: TestServer;
let admin: string;
let viewer: string;
let recordId = "";
let notesId = "";

const RECORD = "인사 기록: 김철수, 주민번호 850315 2345678, 외국인등록번호 ９１０２２８－６１２３４５６, 휴대폰 010‐１２３４‐5678, 법인카드 4111.1111.1111.1111 입니다.";
/** Each value as written, and fragments a reader might search for. */
const WRITTEN = ["850315 2345678", "９１０２２８－６１２３４５６", "010‐１２３４‐5678", "4111.1111.1111.1111"];
const FRAGMENTS = ["850315", "2345678", "910228", "6123456", "1234 5678", "１２３４", "4111 1111"];

const search = async (token: string, query: string) => {
  const res = await t.fetchAs(token, "/api/v1/search", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query, topK: 20 }) });
  return (await res.json()) as any;
};
const finds = async (token: string, q: string) => (await search(token, q)).results.some((r: any) => r.documentId === recordId);
/** /readyz details (the detector status among them) are for admins. */
const readyz = async () => (await (await t.fetchAs(admin, "/readyz")).json()) as any;

/** Rewrites the document's index as a detector that saw none of its values would have written it. */
async function indexAsOlderDetector(documentId: string) {
  const rows = await t.kb.chunks.rowsOf([documentId], true);
  for (const r of rows) r.analyzed = analyzeForIndex(`${[r.title, r.headings].filter(Boolean).join(" > ")}\n${r.text}`);
  await t.kb.chunks.replaceDocuments([{ documentId, rows }]);
  await t.kb.metadata.documents.update(documentId, { sensitiveVersion: SENSITIVE_DETECTOR_VERSION - 1 });
}

beforeAll(async () => {
  t = await startTestServer({ rateLimitPerMinute: 0 });
  admin = await t.tokenFor("root", "admin");
  viewer = await t.tokenFor("kim", "viewer");
  const files = writeFiles(path.join(t.dir, "corpus"), { "hr/record.txt": RECORD, "notes.txt": "회의록: 다음 주 워크숍 일정." });
  const { job, documents } = await ingestNow(t.kb, files.map((f) => ({ source: f, path: f })));
  expect(job.status).toBe("succeeded");
  recordId = documents[0]!.id;
  notesId = documents[1]!.id;
});
afterAll(async () => t?.close());

describe("personal data in every written form", () => {
  it("is masked for readers without view_sensitive, and counted for admins", async () => {
    const r = await search(viewer, "인사 기록 김철수");
    const hit = r.results.find((x: any) => x.documentId === recordId);
    expect(hit.text).toBe("인사 기록: 김철수, 주민번호 [REDACTED:rrn], 외국인등록번호 [REDACTED:rrn], 휴대폰 [REDACTED:phone], 법인카드 [REDACTED:card] 입니다.");
    for (const v of WRITTEN) expect(JSON.stringify(r)).not.toContain(v);
    const doc = (await (await t.fetchAs(admin, `/api/v1/documents/${recordId}`)).json()) as any;
    expect(doc.sensitive).toEqual({ rrn: 2, phone: 1, card: 1 });
  });

  it("cannot be found by a reader who sees it masked; admins find it by the value in any form", async () => {
    expect(await finds(viewer, "인사 기록 김철수")).toBe(true);
    for (const q of [...WRITTEN, ...FRAGMENTS, "850315-2345678", "01012345678"]) expect(await finds(viewer, q), q).toBe(false);
    for (const q of ["850315-2345678", "８５０３１５ ２３４５６７８", "910228-6123456", "010-1234-5678", "4111111111111111"]) expect(await finds(admin, q), q).toBe(true);
    expect((await t.kb.metadata.documents.byId(recordId))!.sensitiveVersion).toBe(SENSITIVE_DETECTOR_VERSION);
  });
});

describe("documents indexed by an older detector", () => {
  it("cannot confirm a value before their re-index, and are re-indexed by the next worker start", async () => {
    await indexAsOlderDetector(recordId);
    // A document without personal data, indexed by the older detector: its index stays as it is.
    await t.kb.metadata.documents.update(notesId, { sensitiveVersion: SENSITIVE_DETECTOR_VERSION - 1 });
    // The stale index really holds the digits: a reader who may see them finds the document by a fragment…
    expect(await finds(admin, "2345678")).toBe(true);
    // …one who sees them masked does not, while the document's words still find it.
    for (const q of FRAGMENTS) expect(await finds(viewer, q), q).toBe(false);
    expect(await finds(viewer, "인사 기록 김철수")).toBe(true);

    const ready = await readyz();
    expect(ready.sensitiveDetector).toEqual({ version: SENSITIVE_DETECTOR_VERSION, staleDocuments: 2 });
    expect(ready.notes.join("\n")).toContain("kb reindex --sensitive-stale");

    // One job for all of them, however many workers start.
    const deps = { metadata: t.kb.metadata, jobsService: t.kb.jobs };
    const first = await reindexDocumentsOfOlderDetector(deps);
    const second = await reindexDocumentsOfOlderDetector(deps);
    expect(first).toMatchObject({ stale: 2, submitted: true });
    expect(second).toEqual({ stale: 2, jobId: first.jobId, submitted: false });
    const job = await waitForJob(t, admin, first.jobId!);
    expect(job.status).toBe("succeeded");
    // Only the stale documents; the one whose index would not change is marked current as it is.
    expect(Object.fromEntries(job.files.map((f: any) => [f.documentId, f.status]))).toEqual({ [recordId]: "succeeded", [notesId]: "unchanged" });
    expect((await t.kb.metadata.documents.byId(recordId))!.sensitiveVersion).toBe(SENSITIVE_DETECTOR_VERSION);
    expect((await t.kb.metadata.documents.byId(notesId))!.sensitiveVersion).toBe(SENSITIVE_DETECTOR_VERSION);
    const analyzed = (await t.kb.chunks.rowsOf([recordId])).map((r) => r.analyzed).join(" ");
    for (const digits of ["850315", "2345678", "910228", "1234", "5678", "4111"]) expect(analyzed.split(" ")).not.toContain(digits);
    expect(await finds(admin, "2345678")).toBe(false);
    expect(await finds(admin, "850315 2345678")).toBe(true);
    expect((await readyz()).sensitiveDetector.staleDocuments).toBe(0);
    expect(await reindexDocumentsOfOlderDetector(deps)).toEqual({ stale: 0, jobId: null, submitted: false });
  });

  it("a worker start submits the re-index by itself", async () => {
    await indexAsOlderDetector(recordId);
    const before = (await t.kb.metadata.jobs.list({ kind: ["reindex"] })).length;
    await t.kb.startWorker({ schedules: false });
    const jobs = await t.kb.metadata.jobs.list({ kind: ["reindex"] });
    expect(jobs.length).toBe(before + 1);
    const job = await waitForJob(t, admin, jobs[0]!.id);
    expect(job.status).toBe("succeeded");
    expect((await t.kb.metadata.documents.byId(recordId))!.sensitiveVersion).toBe(SENSITIVE_DETECTOR_VERSION);
    expect(await finds(admin, "2345678")).toBe(false);
  });
});
