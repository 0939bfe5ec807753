/**
 * What the audit hash chain costs (issue 15): N events appended through AuditLog.record (the
 * chained append: read the last row, hash, insert, in one IMMEDIATE transaction) against the same
 * N inserted as before the chain (one drizzle insert each, no hash), in the same process and data
 * folder kind, rounds interleaved; then `verify` over everything written, and one /metrics render.
 * Usage: npx tsx bench/audit-chain.ts [events=5000] [rounds=3]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { AuditLog } from "../src/services/audit.ts";
import { Metrics } from "../src/services/metrics.ts";
import { openDb } from "../src/stores/sqlite/db.ts";
import { SqliteMetadataStore } from "../src/stores/sqlite/metadata-store.ts";
import { auditEvents } from "../src/stores/sqlite/schema.ts";

const N = Number(process.argv[2] ?? 5000);
const ROUNDS = Number(process.argv[3] ?? 3);
const details = { query: "연차 휴가는 며칠인가요?", mode: "hybrid", chunkIds: ["c1", "c2", "c3", "c4", "c5"] };
const us = (ms: number) => `${((ms / N) * 1000).toFixed(0)} µs`;

console.log(`audit-chain bench: ${N} events per round, ${ROUNDS} rounds, Node ${process.version}, load average ${os.loadavg()[0]!.toFixed(1)} at start`);
console.log("| round | insert without hash | chained append | verify (rows) | verify per row |");
console.log("|---|---|---|---|---|");
for (let round = 1; round <= ROUNDS; round++) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "audit-bench-"));
  const db = openDb(path.join(dir, "app.sqlite"));
  const audit = new AuditLog(new SqliteMetadataStore(db).audit);
  let t0 = performance.now();
  for (let i = 0; i < N; i++) db.insert(auditEvents).values({ actor: "user:kim", action: "search", target: null, details, outcome: "ok" }).run();
  const plain = performance.now() - t0;
  db.$client.prepare("DELETE FROM audit_events").run(); // rows without hashes would be sealed by the next append
  t0 = performance.now();
  for (let i = 0; i < N; i++) await audit.record("user:kim", "search", null, details);
  const chained = performance.now() - t0;
  t0 = performance.now();
  const v = await audit.verify(SYSTEM_ACTOR);
  const verify = performance.now() - t0;
  if (!v.ok) throw new Error(`chain broken: ${JSON.stringify(v.broken)}`);
  console.log(`| ${round} | ${us(plain)} | ${us(chained)} | ${verify.toFixed(0)} ms (${v.checked}) | ${((verify / v.checked) * 1000).toFixed(1)} µs |`);
  db.$client.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
const metrics = new Metrics();
for (let i = 0; i < 1000; i++) metrics.httpRequest("GET", `/api/v1/route${i % 40}`, 200 + (i % 3), 0.004);
await metrics.render(); // the default collectors start here
const t0 = performance.now();
const body = (await metrics.render()).body;
console.log(`/metrics render with 120 HTTP series and the process collectors: ${(performance.now() - t0).toFixed(1)} ms, ${(body.length / 1024).toFixed(0)} KiB; load average ${os.loadavg()[0]!.toFixed(1)} at the end`);
