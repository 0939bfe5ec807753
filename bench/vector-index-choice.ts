/**
 * Which vector index, measured (docs/benchmarks.md, "Retrieval at scale"):
 *   npx tsx bench/vector-index-choice.ts <bench:scale table folder> pq|hnsw|flat|rq
 * Copies the table built by bench:scale to `<folder>-<kind>`, builds that LanceDB index on its
 * vectors (timed), then for 100 stored chunk vectors as queries reports p50/p95 latency and
 * recall@10 against exact search, under no filter (admin) and the bench's broad and narrow
 * viewer filters, for a few nprobes / refine / ef settings.
 */
import fs from "node:fs";
import * as lancedb from "@lancedb/lancedb";
const src = process.argv[2]!; const kind = process.argv[3]!;
const dir = `${src}-${kind}`;
if (!fs.existsSync(dir)) fs.cpSync(src, dir, { recursive: true });
const db = await lancedb.connect(dir);
const t = await db.openTable("chunks");
const n = await t.countRows();
const existing = (await t.listIndices()).find((i) => i.columns[0] === "vector");
if (!existing) {
  const t0 = performance.now();
  const parts = Math.max(1, Math.round(Math.sqrt(n)));
  const config = kind === "pq" ? lancedb.Index.ivfPq({ distanceType: "cosine", numPartitions: parts, numSubVectors: 48 })
    : kind === "hnsw" ? lancedb.Index.hnswSq({ distanceType: "cosine", numPartitions: Math.max(1, Math.round(n / 100000)) })
    : kind === "rq" ? lancedb.Index.ivfRq({ distanceType: "cosine", numPartitions: parts })
    : lancedb.Index.ivfFlat({ distanceType: "cosine", numPartitions: parts });
  await t.createIndex("vector", { config });
  console.log(`index ${kind} built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
// queries: take 100 random chunk vectors perturbed? use stored vectors of random rows as queries
const sample = (await t.query().select(["vector"]).limit(100).offset(777).toArray()).map((r: any) => Array.from(r.vector as Float32Array));
const filters: [string, string | null][] = [["admin", null], ["broad", "array_has_any(allow, make_array('group:g0','group:g1','group:g2','group:g3','group:g4','group:g5','group:g6','group:g7','group:everyone')) AND classification <= 2"], ["narrow", "array_has_any(allow, make_array('group:g37','group:everyone')) AND classification <= 1"]];
const exact = new Map<string, Set<string>[]>();
for (const [name, f] of filters) {
  const sets: Set<string>[] = [];
  for (const v of sample) { let q = t.query().nearestTo(v).distanceType("cosine").bypassVectorIndex().select(["chunk_id", "_distance"]).limit(10); if (f) q = q.where(f); sets.push(new Set(((await q.toArray()) as any[]).map((r) => r.chunk_id))); }
  exact.set(name, sets);
}
const settings = kind === "hnsw" ? [[1, 0, 40], [1, 0, 100], [2, 0, 100], [1, 0, 200]] : [[10, 0], [20, 0], [20, 2], [40, 2], [40, 5], [80, 5]];
for (const s of settings) {
  for (const [name, f] of filters) {
    const times: number[] = []; let hit = 0, tot = 0;
    for (let i = 0; i < sample.length; i++) {
      let q = t.query().nearestTo(sample[i]!).distanceType("cosine").select(["chunk_id", "text", "title", "_distance"]).limit(30).nprobes(s[0]!);
      if (s[1]) q = q.refineFactor(s[1]);
      if (s[2]) q = q.ef(s[2]);
      if (f) q = q.where(f);
      const t0 = performance.now(); const rows = (await q.toArray()) as any[]; times.push(performance.now() - t0);
      const top = rows.slice(0, 10).map((r) => r.chunk_id); const ex = exact.get(name)![i]!; hit += top.filter((x) => ex.has(x)).length; tot += ex.size;
    }
    times.sort((a, b) => a - b);
    console.log(`${kind} nprobes=${s[0]} refine=${s[1]} ef=${s[2] ?? "-"} ${name}: p50 ${times[50]!.toFixed(1)} p95 ${times[95]!.toFixed(1)} recall ${(hit / tot).toFixed(3)}`);
  }
}
