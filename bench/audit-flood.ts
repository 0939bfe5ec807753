/**
 * How much does the audit log grow under anonymous traffic? (finding: unbounded `auth.failed` rows)
 *
 * Starts the real server on loopback with a fresh data folder, sends N unauthenticated requests
 * whose paths are L bytes long from one client address, closes the knowledge base (which flushes
 * aggregated audit rows) and reports the audit rows added and the growth of app.sqlite.
 *
 *   npx tsx bench/audit-flood.ts [--requests 200] [--path-kb 15] [--anon-limit 120]
 *   (--anon-limit 0: no per-address rate limit, every request is a 401)
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import Database from "better-sqlite3";
import pino from "pino";
import { loadConfig } from "../src/config.ts";
import { startServer } from "../src/http/server.ts";
import { openKb } from "../src/services/container.ts";

const { values } = parseArgs({ options: { requests: { type: "string", default: "200" }, "path-kb": { type: "string", default: "15" }, "anon-limit": { type: "string", default: "120" } } });
const N = Number(values.requests);
const PATH_BYTES = Number(values["path-kb"]) * 1024;

function measure(file: string): { rows: number; bytes: number; textBytes: number } {
  const db = new Database(file);
  db.pragma("wal_checkpoint(TRUNCATE)");
  const r = db.prepare("select count(*) as rows, coalesce(sum(length(target) + length(details)), 0) as textBytes from audit_events").get() as { rows: number; textBytes: number };
  db.close();
  return { rows: r.rows, textBytes: r.textBytes, bytes: fs.statSync(file).size };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-audit-flood-"));
const file = path.join(dir, "app.sqlite");
try {
  const config = loadConfig({}, { dataDir: dir, modelsDir: path.join(dir, "models"), embedModel: "none", logLevel: "silent", anonRateLimitPerMinute: Number(values["anon-limit"]) });
  let kb = await openKb(config, { logger: pino({ level: "silent" }) });
  await kb.close(); // migrations applied: this is the baseline
  const before = measure(file);
  kb = await openKb(config, { logger: pino({ level: "silent" }) });
  const server = await startServer(kb, { port: 0, host: "127.0.0.1" });
  const statuses: Record<number, number> = {};
  const longPath = `/api/v1/documents/${"a".repeat(PATH_BYTES - "/api/v1/documents/".length)}`;
  for (let i = 0; i < N; i++) {
    const res = await fetch(server.url + longPath);
    await res.arrayBuffer();
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
  }
  await server.close();
  await kb.close();
  const after = measure(file);
  console.log(`${N} anonymous requests, ${PATH_BYTES}-byte paths, one client address, anonymous limit ${config.anonRateLimitPerMinute}/min`);
  console.log(`statuses: ${JSON.stringify(statuses)}`);
  console.log(`audit rows added: ${after.rows - before.rows}; target+details text: ${after.textBytes - before.textBytes} bytes`);
  console.log(`app.sqlite: ${before.bytes} -> ${after.bytes} bytes (+${after.bytes - before.bytes})`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
