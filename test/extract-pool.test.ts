/** Extraction threads give exactly what in-process extraction gives, errors included. */
import { afterAll, describe, expect, it } from "vitest";
import { prepareDocument } from "../ingest/pipeline.ts";
import { ExtractPool } from "../src/services/ingest/extract-pool.ts";

const pool = new ExtractPool(2);
afterAll(() => pool.close());

describe("extraction pool", () => {
  it("prepares documents in worker threads like the main thread does", async () => {
    const files = [
      { source: "a.md", bytes: Buffer.from("# Alpha\n\nApples are red. 사과는 빨갛다.\n\n## More\n\nThey grow on trees.") },
      { source: "b.html", bytes: Buffer.from("<html><head><title>Bravo</title></head><body><main><p>Bananas are yellow.</p></main></body></html>") },
      { source: "c.txt", bytes: Buffer.from("Cherries. ".repeat(400)) },
    ];
    const threaded = await Promise.all(files.map((f) => pool.prepare(f.source, f.bytes)));
    const local = await Promise.all(files.map((f) => prepareDocument(f)));
    expect(threaded).toEqual(local);
  });

  it("returns extractor errors with their code", async () => {
    await expect(pool.prepare("empty.txt", new Uint8Array(0))).rejects.toMatchObject({ name: "IngestError", code: expect.any(String) });
    // The pool still works after an error.
    expect((await pool.prepare("d.txt", Buffer.from("still fine"))).chunks.length).toBe(1);
  });
});
