/**
 * What a search scope costs inside the LanceDB filter (`npm run bench:scope`): a lexical search
 * over N one-chunk documents with the access filter alone, with the scope clauses on the
 * `source` column (folder prefix, type suffix), on the `tags` and `version_at` columns (chunk
 * layout 3: how tag and date scopes are compiled now), and as lists of document ids (how tag and
 * date scopes were compiled before layout 3, and how a title scope still is: services/documents.ts,
 * scopeClause). Every other document has the tag and a date in the range, so the tag and date
 * lines select the same 10,000 documents (of 20,000) as the 10,000-id lines.
 *
 *   npx tsx bench/scope-filter.ts [--docs 20000] [--runs 15]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ChunkStore, type ChunkRow } from "../src/stores/lance/chunk-store.ts";
import { andFilters, compileScope } from "../src/stores/lance/filter.ts";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const N = arg("docs", 20_000);
const RUNS = arg("runs", 15);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-bench-scope-"));
const store = await ChunkStore.open(dir, null);
try {
  const words = ["휴가", "급여", "보안", "출장", "교육", "계약", "복지", "평가"];
  const docs: { documentId: string; rows: ChunkRow[] }[] = [];
  for (let i = 0; i < N; i++) {
    const id = `doc_${String(i).padStart(9, "0")}0123456789abcdef`;
    const text = `${words[i % 8]} ${words[(i * 7) % 8]} 규정 ${i}`;
    const source = `/share/${i % 10 === 0 ? "인사규정" : "공지"}/${i}.${i % 3 === 0 ? "pdf" : "txt"}`;
    docs.push({
      documentId: id,
      rows: [
        {
          ...{ chunkId: `${id}:1:0`, documentId: id, documentVersion: 1, ordinal: 0, title: `t${i}`, source, pageStart: 1, pageEnd: 1, headings: "", text, analyzed: text },
          ...{ allow: ["group:all"], deny: [], classification: 1, tags: i % 2 === 0 ? ["hr", "규정"] : ["notice"] },
          versionAt: new Date(Date.UTC(i % 2 === 0 ? 2026 : 2025, 0, 1) + (i % 300) * 86_400_000).toISOString(),
        },
      ],
    });
  }
  for (let i = 0; i < docs.length; i += 5000) await store.replaceDocuments(docs.slice(i, i + 5000));
  await store.optimize(new Date());
  const access = "array_has_any(allow, make_array('group:all', 'user:kim')) AND classification <= 1";
  const ids = docs.map((d) => d.documentId);
  const time = async (label: string, filter: string | null) => {
    const hits = (await store.searchText("휴가", filter, 10)).length;
    const t: number[] = [];
    for (let k = 0; k < RUNS; k++) {
      const t0 = performance.now();
      await store.searchText("휴가", filter, 10);
      t.push(performance.now() - t0);
    }
    t.sort((a, b) => a - b);
    console.log(`${label.padEnd(44)} median ${t[Math.floor(RUNS / 2)]!.toFixed(1).padStart(6)} ms  max ${t.at(-1)!.toFixed(1).padStart(6)} ms  (${hits} hits)`);
  };
  console.log(`${N} documents, lexical search, top 10, ${RUNS} runs each`);
  await time("access only", access);
  await time("access + folder (starts_with)", andFilters(access, compileScope({ op: "sourcePrefix", prefix: "/share/인사규정/" })));
  await time("access + type (ends_with)", andFilters(access, compileScope({ op: "sourceSuffix", suffixes: [".pdf"] })));
  await time("access + tag (array_has)", andFilters(access, compileScope({ op: "tag", tag: "hr" })));
  await time("access + date range (version_at)", andFilters(access, compileScope({ op: "versionAt", since: "2026-01-01T00:00:00Z", until: "2026-12-31T23:59:59Z" })));
  await time("access + tag + date range", andFilters(access, compileScope({ op: "all", clauses: [{ op: "tag", tag: "hr" }, { op: "versionAt", since: "2026-01-01T00:00:00Z" }] })));
  for (const n of [100, 1000, 10_000].filter((x) => x <= N)) await time(`access + ${n} ids (IN)`, andFilters(access, compileScope({ op: "ids", ids: ids.slice(0, n) })));
  if (N >= 10_000) await time("access + 10000 ids (NOT IN)", andFilters(access, compileScope({ op: "notIds", ids: ids.slice(0, 10_000) })));
} finally {
  store.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
