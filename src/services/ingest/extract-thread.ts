/** An extraction thread: runs `prepareDocument` for the pool (extract-pool.ts), one file at a time. */
import { parentPort } from "node:worker_threads";
import { prepareDocument } from "../../../ingest/pipeline.ts";
import { IngestError } from "../../../ingest/types.ts";

interface Task {
  id: number;
  source: string;
  bytes: Uint8Array;
  title?: string;
  password?: string;
}

parentPort!.on("message", (t: Task) => {
  prepareDocument({ source: t.source, bytes: Buffer.from(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength), password: t.password }, { title: t.title, password: t.password }).then(
    (prepared) => parentPort!.postMessage({ id: t.id, prepared }),
    (err: unknown) =>
      parentPort!.postMessage({
        id: t.id,
        error: { code: err instanceof IngestError ? err.code : null, message: err instanceof Error ? err.message : String(err) },
      }),
  );
});
