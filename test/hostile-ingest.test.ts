/**
 * Hostile files through the real HTTP API (issue 10, finding 5): an XML bomb, zip bombs (one
 * huge XML part; many parts over the document cap) and a normal file in one upload. Extraction
 * runs in child processes, so the server keeps answering /healthz while the bomb is still being
 * extracted; each bomb fails with a named error code, the server does not crash, and the normal
 * file of the same batch is ingested and searchable.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./helpers/kb.ts";
import { normalDocx, wideZipBombDocx, xmlBombDocx, zipBombDocx } from "./helpers/hostile-files.ts";

let t: TestServer;
let admin: string;

beforeAll(async () => {
  // Defaults except the time limit, so the XML bomb ends in seconds rather than minutes.
  t = await startTestServer({ extractProcesses: 1, extractTimeoutMs: 3000 });
  admin = await t.tokenFor("root", "admin");
});
afterAll(async () => t?.close());

describe("hostile files through the API", () => {
  it("fail with named errors while /healthz keeps answering, and the normal file of the batch succeeds", async () => {
    const files = [
      { name: "xml-bomb.docx", bytes: await xmlBombDocx(300_000) }, // 17 MB of XML, within the caps
      { name: "zip-bomb.docx", bytes: await zipBombDocx(65) }, // one XML part over 64 MiB
      { name: "wide-bomb.docx", bytes: await wideZipBombDocx(12, 9) }, // 108 MiB in all, over 100 MiB
      { name: "normal.docx", bytes: await normalDocx("The quarterly onboarding checklist lives in the wiki.") },
    ];
    for (const f of files) expect(f.bytes.length).toBeLessThan(256 * 1024);
    const form = new FormData();
    for (const f of files) form.append("file", new Blob([f.bytes as never]), f.name);
    const res = await t.fetchAs(admin, "/api/v1/documents", { method: "POST", body: form });
    expect(res.status).toBe(202);
    const { jobId } = (await res.json()) as { jobId: string };

    // Poll /healthz while the job runs: an answer followed by a job view in which the XML bomb is
    // still running is an answer given while the bomb was being extracted.
    let answeredDuringBomb = 0;
    let job: any;
    for (;;) {
      const health = await fetch(`${t.url}/healthz`);
      expect(health.status).toBe(200);
      job = await (await t.fetchAs(admin, `/api/v1/jobs/${jobId}`)).json();
      if (!["queued", "running"].includes(job.status)) break;
      if (job.files.find((f: any) => f.source === "xml-bomb.docx")?.status === "running") answeredDuringBomb++;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(answeredDuringBomb).toBeGreaterThan(0);

    const bySource = Object.fromEntries(job.files.map((f: any) => [f.source, f]));
    expect(job.status).toBe("partial");
    // The bomb is stopped by its time limit, or by the RSS cap if it grows faster than that.
    expect(bySource["xml-bomb.docx"]).toMatchObject({ status: "failed", errorCode: expect.stringMatching(/^extract_(timeout|memory)$/) });
    expect(bySource["zip-bomb.docx"]).toMatchObject({ status: "failed", errorCode: "zip_bomb" });
    expect(bySource["zip-bomb.docx"].error).toMatch(/KB_MAX_XML_PART_MB/);
    expect(bySource["wide-bomb.docx"]).toMatchObject({ status: "failed", errorCode: "zip_bomb" });
    expect(bySource["wide-bomb.docx"].error).toMatch(/KB_MAX_DOCUMENT_UNCOMPRESSED_MB/);
    expect(bySource["normal.docx"]).toMatchObject({ status: "succeeded" });

    // The server is still up and serves the normal file.
    expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    const search = await t.fetchAs(admin, "/api/v1/search", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "onboarding checklist", topK: 3 }) });
    const hits = ((await search.json()) as any).results ?? [];
    expect(JSON.stringify(hits)).toMatch(/onboarding checklist/);
  });
});
