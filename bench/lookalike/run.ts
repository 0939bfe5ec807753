/**
 * npm run bench:lookalike — the right document among look-alikes (issue 16): the synthetic set of
 * bench/lookalike/build.ts ingested through the product's real ingest path (PDF extraction,
 * chunking, analysis, LanceDB), every question retrieved through the Retriever as an ordinary
 * viewer (as the API does) and answered through the ask path.
 *
 *   npm run bench:lookalike -- --build            (re)build the set into .tmp/lookalike and stop
 *   npm run bench:lookalike -- --build --variant filings   the long-filing variant, into .tmp/lookalike-filings
 *   (every command takes --variant filings to run on that variant, --out DIR for another folder)
 *   npm run bench:lookalike [-- --hybrid] [--no-answers] [--two-stage M] [--label TEXT] [--write]
 *   npm run bench:lookalike -- --copies        look-alike pairs that near-duplicate folding takes for copies
 *
 * Measured per language and half (tune / report):
 * - document hit@1, hit@5: the named document is the first / among the first five distinct
 *   documents of the ranked chunks;
 * - page hit@5: a chunk of the named document that covers the gold page is among the first five
 *   chunks;
 * - answers (extractive without an LLM): the answer contains a reference answer; its first quoted
 *   sentence does; it cites the named document.
 * `--hybrid` adds the tiny fixture embedding model (random weights: plumbing only, not quality).
 * `--two-stage M` ranks the chunks of the M documents whose first chunk (the cover) best matches
 * the question first (an experiment in this file, not a product path; retrieval figures only).
 * `--write` puts the table into docs/benchmarks.md (section lookalike) with `--label` as its row label.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { SYSTEM_ACTOR } from "../../policies/index.ts";
import { loadConfig } from "../../src/config.ts";
import { normalizeForMatch } from "../../src/eval/run-answer-eval.ts";
import { evalAsker } from "../../src/eval/run-eval.ts";
import type { AnswerEvent } from "../../src/services/answer/types.ts";
import { openKb, type Kb, type KbStores } from "../../src/services/container.ts";
import type { RetrievedChunk } from "../../src/services/retrieval.ts";
import { sqlString } from "../../src/stores/lance/filter.ts";
import { areNearDuplicates, similarity } from "../../src/domain/duplicates/fingerprint.ts";
import { DocumentFingerprints } from "../../src/services/duplicates.ts";
import { analyzeForQuery } from "../../src/domain/analysis/index.ts";
import { ensureFixtureEmbeddingModel, FIXTURE_EMBED_MODEL, FIXTURE_MODELS_DIR } from "../../test/global-setup.ts";
import { replaceSection } from "../report.ts";
import { DEFAULT_FILINGS_OUT, DEFAULT_OUT, readLookalikeSet, writeLookalikeSet, type LookalikeQuestion, type LookalikeSet, type Variant } from "./build.ts";

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const variant: Variant = opt("--variant") === "filings" ? "filings" : "v1";
if (opt("--variant") && opt("--variant") !== variant) throw new Error(`unknown --variant ${opt("--variant")} (v1 or filings)`);
const out = path.resolve(opt("--out") ?? (variant === "filings" ? DEFAULT_FILINGS_OUT : DEFAULT_OUT));

function ensureSet(): LookalikeSet {
  if (!fs.existsSync(path.join(out, "set.json"))) writeLookalikeSet(out, { variant });
  return readLookalikeSet(out);
}

export interface GroupScore {
  questions: number;
  doc1: number;
  doc5: number;
  page5: number;
  answered: number;
  contains: number;
  first: number;
  cites: number;
}

const empty = (): GroupScore => ({ questions: 0, doc1: 0, doc5: 0, page5: 0, answered: 0, contains: 0, first: 0, cites: 0 });

async function ingestSet(kb: Kb, set: LookalikeSet): Promise<{ toSetId: Map<string, string>; seconds: number }> {
  const t0 = performance.now();
  const files = set.documents.map((d) => ({ source: path.join(out, d.file), path: path.join(out, d.file), setId: d.id }));
  const submitted = await kb.ingest.submit(SYSTEM_ACTOR, files.map(({ source, path }) => ({ source, path })));
  const job = await kb.jobs.runHere(submitted.jobId, (done, total) => process.stderr.write(`\ringest ${done}/${total}   `));
  process.stderr.write("\n");
  if (!job) throw new Error("could not claim the ingest job");
  const failed = job.files.filter((f) => f.status === "failed");
  if (failed.length) throw new Error(`${failed.length} documents failed to ingest, e.g. ${failed[0]!.source}: ${failed[0]!.error}`);
  return { toSetId: new Map(submitted.documents.map((d, i) => [d.id, files[i]!.setId])), seconds: (performance.now() - t0) / 1000 };
}

/**
 * `--copies`: how many pairs of look-alike documents (same family: same body paragraphs, another
 * organisation or period on the cover) near-duplicate folding would take for copies of each other,
 * from the product's own fingerprints of the stored page texts. None should be.
 */
async function countFoldedLookalikes(kb: Kb & KbStores, set: LookalikeSet, toSetId: Map<string, string>): Promise<void> {
  const fingerprints = new DocumentFingerprints((id) => kb.metadata.documents.pages(id));
  const byFamily = new Map<string, { id: string; doc: LookalikeSet["documents"][number] }[]>();
  const setDoc = new Map(set.documents.map((d) => [d.id, d]));
  for (const [id, setId] of toSetId) {
    const doc = setDoc.get(setId)!;
    byFamily.set(doc.family, [...(byFamily.get(doc.family) ?? []), { id, doc }]);
  }
  let pairs = 0;
  let folded = 0;
  const similarities: number[] = [];
  for (const docs of byFamily.values()) {
    for (let i = 0; i < docs.length; i++) {
      for (let j = i + 1; j < docs.length; j++) {
        const [a, b] = [docs[i]!, docs[j]!];
        const [fa, fb] = await Promise.all([fingerprints.of(a.id, 1), fingerprints.of(b.id, 1)]);
        if (!fa || !fb) throw new Error(`no fingerprint for ${a.doc.file} or ${b.doc.file}`);
        pairs++;
        similarities.push(similarity(fa, fb));
        if (areNearDuplicates(fa, fb)) folded++;
      }
    }
  }
  similarities.sort((x, y) => x - y);
  const q = (p: number) => similarities[Math.min(similarities.length - 1, Math.floor(p * similarities.length))]!.toFixed(2);
  console.log(`look-alike pairs (same family, other organisation or period): ${pairs}; folded as copies: ${folded} (${((100 * folded) / Math.max(1, pairs)).toFixed(1)}%); shingle similarity median ${q(0.5)}, p90 ${q(0.9)}, max ${q(1)}`);
}

/** Scores every question of the set on `kb` (already holding the set); keyed "ko tune", "en report", … */
export async function scoreSet(
  kb: Kb & KbStores,
  set: LookalikeSet,
  toSetId: Map<string, string>,
  options: { answers: boolean; twoStage?: number; questions?: (q: LookalikeQuestion) => boolean } = { answers: true },
): Promise<Map<string, GroupScore>> {
  const asker = await evalAsker(kb);
  const groups = new Map<string, GroupScore>();
  const qs = set.questions.filter(options.questions ?? (() => true));
  for (const [i, q] of qs.entries()) {
    const g = groups.get(`${q.lang} ${q.half}`) ?? empty();
    groups.set(`${q.lang} ${q.half}`, g);
    g.questions++;
    let { chunks } = await kb.retriever.retrieve(asker, q.question, { topK: 30 });
    if (options.twoStage) chunks = await twoStage(kb, q.question, options.twoStage, chunks);
    const docs = [...new Set(chunks.map((c) => toSetId.get(c.documentId) ?? c.documentId))];
    if (docs[0] === q.documentId) g.doc1++;
    if (docs.slice(0, 5).includes(q.documentId)) g.doc5++;
    if (chunks.slice(0, 5).some((c) => toSetId.get(c.documentId) === q.documentId && c.pageStart <= q.page && q.page <= c.pageEnd)) g.page5++;
    if (options.answers) {
      const { events } = await kb.ask.answer(asker, q.question);
      let done: Extract<AnswerEvent, { type: "done" }> | undefined;
      for await (const e of events) if (e.type === "done") done = e;
      if (done?.found) {
        g.answered++;
        const extractive = kb.ask.answerMode === "extractive";
        const sentences = extractive ? done.answer.split("\n").slice(1).map((s) => s.replace(/\s*\[\d+\]\s*$/, "")) : [done.answer];
        const gold = q.answers.map(normalizeForMatch).filter(Boolean);
        const has = (text: string) => gold.some((x) => normalizeForMatch(text).includes(x));
        if (has(sentences.join(" "))) g.contains++;
        if (sentences[0] && has(sentences[0])) g.first++;
        if (done.citations.some((c) => toSetId.get(c.documentId) === q.documentId)) g.cites++;
      }
    }
    if (i % 50 === 0) process.stderr.write(`\rquestions ${i}/${qs.length}   `);
  }
  process.stderr.write("\n");
  return groups;
}

/**
 * The two-stage alternative (an experiment, bench only): first the documents, ranked by their
 * first chunk (which holds the cover) against the question; then the chunks of the best `m`
 * documents, ranked by document, then by their own score; then the one-stage ranking's other
 * chunks. No access filter (the bench reads everything as the system).
 */
async function twoStage(kb: Kb & KbStores, question: string, m: number, oneStage: RetrievedChunk[]): Promise<RetrievedChunk[]> {
  const terms = analyzeForQuery(question);
  const docs = [...new Set((await kb.chunks.searchText(terms, "ordinal = 0", 50)).map((h) => h.documentId))].slice(0, m);
  if (docs.length === 0) return oneStage;
  const inDocs = await kb.chunks.searchText(terms, `document_id IN (${docs.map(sqlString).join(", ")})`, 30);
  inDocs.sort((a, b) => docs.indexOf(a.documentId) - docs.indexOf(b.documentId) || b.score - a.score);
  const seen = new Set(inDocs.map((h) => h.chunkId));
  return [...inDocs.map(({ score: _s, ...h }, i) => ({ ...h, rank: i + 1 })), ...oneStage.filter((c) => !seen.has(c.chunkId))];
}

async function withKb<T>(hybrid: boolean, fn: (kb: Kb & KbStores) => Promise<T>): Promise<T> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-bench-lookalike-"));
  if (hybrid) await ensureFixtureEmbeddingModel();
  const config = loadConfig(hybrid ? { ...process.env, KB_EMBED_MODEL: FIXTURE_EMBED_MODEL } : process.env, {
    dataDir,
    modelsDir: hybrid ? FIXTURE_MODELS_DIR : (process.env.KB_MODELS_DIR ?? path.join(dataDir, "models")),
    logLevel: "warn",
  });
  const kb = await openKb(config, { logger: pino({ level: "warn" }) });
  try {
    return await fn(kb);
  } finally {
    await kb.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

const pct = (n: number, d: number) => (d ? `${((100 * n) / d).toFixed(1)}%` : "–");

export function tableRows(label: string, mode: string, groups: Map<string, GroupScore>, answers: boolean): string[] {
  const order = ["ko tune", "ko report", "en tune", "en report"];
  return order
    .filter((k) => groups.has(k))
    .map((k) => {
      const g = groups.get(k)!;
      const a = answers ? [pct(g.answered, g.questions), pct(g.contains, g.questions), pct(g.first, g.questions), pct(g.cites, g.questions)] : ["–", "–", "–", "–"];
      return `| ${label} | ${mode} | ${k} | ${g.questions} | ${pct(g.doc1, g.questions)} | ${pct(g.doc5, g.questions)} | ${pct(g.page5, g.questions)} | ${a.join(" | ")} |`;
    });
}

export const TABLE_HEADER =
  "| pipeline | retrieval | set | questions | document hit@1 | document hit@5 | page hit@5 | answered | answer contains reference | first sentence contains it | cites the named document |\n|---|---|---|---|---|---|---|---|---|---|---|";

if (path.resolve(process.argv[1] ?? "") === import.meta.filename) {
  if (flag("--build")) {
    const set = writeLookalikeSet(out, { variant });
    const by = (lang: string) => set.documents.filter((d) => d.lang === lang).length;
    const pages = set.documents.reduce((n, d) => n + d.pageCount, 0);
    console.log(`wrote ${out} (${variant}): ${set.documents.length} documents, ${pages} pages (ko ${by("ko")}, en ${by("en")}), ${set.questions.length} questions`);
  } else {
    const set = ensureSet();
    const hybrid = flag("--hybrid");
    const answers = !flag("--no-answers");
    const label = opt("--label") ?? "current";
    await withKb(hybrid, async (kb) => {
      const { toSetId, seconds } = await ingestSet(kb, set);
      const chunks = await kb.chunks.count();
      if (flag("--copies")) {
        await countFoldedLookalikes(kb, set, toSetId);
        return;
      }
      const t0 = performance.now();
      const twoStageDocs = opt("--two-stage");
      const groups = await scoreSet(kb, set, toSetId, { answers, ...(twoStageDocs ? { twoStage: Number(twoStageDocs) } : {}) });
      const ms = (performance.now() - t0) / set.questions.length;
      const mode = `${kb.retriever.mode}${hybrid ? " (fixture embedder)" : ""}`;
      const rows = tableRows(label, mode, groups, answers);
      console.log(`${set.documents.length} documents, ${chunks} chunks, ingest ${seconds.toFixed(0)} s, ${ms.toFixed(1)} ms per question`);
      console.log(TABLE_HEADER);
      for (const r of rows) console.log(r);
      if (flag("--write") && set.variant === "filings") console.log("--write: not for the filings variant (its figures are in docs/benchmarks.md by hand)");
      else if (flag("--write")) {
        const file = "docs/benchmarks.md";
        const marker = `<!-- bench:lookalike:start -->`;
        const text = fs.readFileSync(file, "utf8");
        const i = text.indexOf(marker);
        const j = text.indexOf("<!-- bench:lookalike:end -->");
        const old = i >= 0 && j > i ? text.slice(i + marker.length, j).split("\n").filter((l) => l.startsWith("| ") && !l.startsWith("| pipeline") && !l.startsWith(`| ${label} | ${mode} |`)) : [];
        const body = [
          `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model.trim()}, Node ${process.version}, commands \`npm run bench:lookalike -- --write --label …\` (lexical rows) and \`npm run bench:lookalike -- --hybrid --write --label …\` (hybrid rows); ${set.documents.length} documents, ${chunks} chunks, seed ${set.seed}.`,
          "",
          TABLE_HEADER,
          ...old,
          ...rows,
        ].join("\n");
        replaceSection(file, "lookalike", body);
        console.log("updated docs/benchmarks.md");
      }
    });
  }
}
