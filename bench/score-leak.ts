/**
 * npm run bench:score-leak — what a viewer's *ranking* still says about documents they may not read.
 *
 * Scores are withheld from users without `read_all_documents` (BM25 statistics count hidden
 * documents), but the order of results is still a function of those statistics. This measures it
 * through the real ingest and search path (LanceDB, lexical mode): visible documents are
 * paragraphs of KorQuAD/SQuAD dev; for each *test* question one of its terms that occurs in its
 * visible results is the target, and N hidden documents (allow `group:hidden`, which the viewer is
 * not in) containing that term and nothing else of any question are added. After each level the
 * index is compacted (as the worker does) and every question is searched again as the viewer.
 * For pairs of visible results present in both rankings, we count how often their order flipped.
 * *Control* questions share no term with any hidden document: their flips measure what adding
 * unrelated hidden documents (more rows, another average length) does, i.e. not a term leak.
 *
 *   npm run bench:score-leak [-- --docs 600 --queries 40 --controls 20 --levels 1,5,20,100 --top-k 10]
 *
 * Needs ../shared/data (a missing dataset is skipped). Writes docs/benchmarks.md (score-leak markers).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { documentReadRule, SYSTEM_ACTOR, type Actor } from "../policies/index.ts";
import { loadConfig } from "../src/config.ts";
import { analyzeForQuery, passageTerms, queryTerms } from "../src/domain/analysis/index.ts";
import { evalAsker, ingestQaDocuments } from "../src/eval/run-eval.ts";
import { readQaDataset, type QaDataset } from "../src/eval/qa-formats.ts";
import { openKb, type Kb } from "../src/services/container.ts";
import { compileAccessRule } from "../src/stores/lance/filter.ts";
import { QA_DATASETS, writeTableSection } from "./qa-datasets.ts";
import { seededRandom as rng } from "../test/helpers/seeded-random.ts";

const { values } = parseArgs({
  options: {
    docs: { type: "string", default: "600" },
    queries: { type: "string", default: "40" },
    controls: { type: "string", default: "20" },
    levels: { type: "string", default: "1,5,20,100" },
    "top-k": { type: "string", default: "10" },
    "no-write": { type: "boolean", default: false },
  },
});
const DOCS = Number(values.docs);
const QUERIES = Number(values.queries);
const CONTROLS = Number(values.controls);
const LEVELS = values.levels.split(",").map(Number);
const TOP_K = Number(values["top-k"]);

interface Probe {
  question: string;
  /** The target term and a word that analyzes to exactly it (null for control questions). */
  target: { term: string; surface: string } | null;
  baseline: string[];
  /** Baseline results that contain the target term (test questions). */
  holders: Set<string>;
}

interface LevelStats {
  pairs: number;
  flipped: number;
  /** Pairs where exactly one result contains the target term: the ones a term leak reorders. */
  splitPairs: number;
  splitFlipped: number;
  queries: number;
  queriesWithFlip: number;
  queriesChanged: number;
}


/** Nonsense filler words (letters only, so no digit or real word can match a question). */
function fillerWords(n: number): string[] {
  const letters = "bcdfghjklmnpqrstvwxz";
  return Array.from({ length: n }, (_, i) => `zq${letters[i % 20]}${letters[Math.floor(i / 20) % 20]}ux`);
}

async function withLexicalKb<T>(fn: (kb: Kb) => Promise<T>): Promise<T> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-bench-leak-"));
  const kb = await openKb(loadConfig({}, { dataDir, modelsDir: path.join(dataDir, "models"), embedModel: "none", logLevel: "warn" }), { logger: pino({ level: "warn" }) });
  try {
    return await fn(kb);
  } finally {
    await kb.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

async function ranking(kb: Kb, viewer: Actor, question: string, hidden: ReadonlySet<string>): Promise<string[]> {
  const { chunks } = await kb.retriever.retrieve(viewer, question, { topK: TOP_K });
  for (const c of chunks) if (hidden.has(c.documentId)) throw new Error(`the viewer was shown hidden document ${c.documentId}`);
  for (const c of chunks) if ("score" in c) throw new Error("the viewer was shown a score");
  return chunks.map((c) => c.chunkId);
}

/** Pairs of results present in both rankings, and how many of them swapped places. */
function compare(before: string[], after: string[], holders: Set<string>): { pairs: number; flipped: number; splitPairs: number; splitFlipped: number } {
  const pos = new Map(after.map((id, i) => [id, i]));
  const both = before.filter((id) => pos.has(id));
  const r = { pairs: 0, flipped: 0, splitPairs: 0, splitFlipped: 0 };
  for (let i = 0; i < both.length; i++) {
    for (let j = i + 1; j < both.length; j++) {
      const flip = pos.get(both[i]!)! > pos.get(both[j]!)! ? 1 : 0;
      r.pairs++;
      r.flipped += flip;
      if (holders.has(both[i]!) !== holders.has(both[j]!)) {
        r.splitPairs++;
        r.splitFlipped += flip;
      }
    }
  }
  return r;
}

async function measure(name: string, dataset: QaDataset): Promise<string[]> {
  const documents = dataset.documents.slice(0, DOCS);
  const inCorpus = new Set(documents.map((d) => d.id));
  const questions = dataset.questions.filter((q) => q.relevantDocumentIds.some((id) => inCorpus.has(id)));
  return withLexicalKb(async (kb) => {
    const t0 = performance.now();
    await ingestQaDocuments(kb, documents);
    await kb.chunks.optimize(new Date());
    const viewer = await evalAsker(kb);
    const hiddenIds = new Set<string>();

    // Pick test and control questions whose terms do not overlap any target of another question.
    const random = rng(7);
    const step = Math.max(1, Math.floor(questions.length / ((QUERIES + CONTROLS) * 4)));
    const probes: Probe[] = [];
    const allTerms = new Set<string>();
    const targets = new Set<string>();
    let tests = 0;
    let controls = 0;
    for (let i = 0; i < questions.length && (tests < QUERIES || controls < CONTROLS); i += step) {
      const question = questions[i]!.question;
      const terms = queryTerms(question);
      if (terms.length < 2 || terms.some((t) => targets.has(t))) continue;
      const baseline = await ranking(kb, viewer, question, hiddenIds);
      if (baseline.length < 3) continue;
      if (tests < QUERIES) {
        const { chunks } = await kb.retriever.retrieve(viewer, question, { topK: TOP_K });
        const termsOf = new Map(chunks.map((c) => [c.chunkId, new Set(passageTerms(`${c.title} ${c.text}`))]));
        const inResults = new Set([...termsOf.values()].flatMap((t) => [...t]));
        const usable = terms.filter((t) => inResults.has(t) && !allTerms.has(t));
        const term = usable[Math.floor(random() * usable.length)];
        const words = question.split(/[\s?.,!"'()\[\]]+/).filter(Boolean);
        const surface = term === undefined ? undefined : [term, ...words].find((w) => { const p = new Set(passageTerms(w)); return p.size === 1 && p.has(term); });
        if (term !== undefined && surface !== undefined) {
          const holders = new Set([...termsOf].filter(([, t]) => t.has(term)).map(([id]) => id));
          probes.push({ question, target: { term, surface }, baseline, holders });
          targets.add(term);
          terms.forEach((t) => allTerms.add(t));
          tests++;
          continue;
        }
      }
      if (controls < CONTROLS) {
        probes.push({ question, target: null, baseline, holders: new Set() });
        terms.forEach((t) => allTerms.add(t));
        controls++;
      }
    }
    // Diagnostic: baseline pairs whose scores tie (their order may change for no reason of content).
    let tied = 0;
    for (const p of probes) {
      const hits = await kb.chunks.searchText(analyzeForQuery(p.question), compileAccessRule(documentReadRule(viewer)), TOP_K);
      for (let i = 0; i < hits.length; i++) for (let j = i + 1; j < hits.length; j++) if (Math.abs(hits[i]!.score - hits[j]!.score) < 1e-6) tied++;
    }
    console.log(`tied baseline pairs: ${tied}`);
    const filler = fillerWords(60);
    if (filler.some((w) => passageTerms(w).some((t) => allTerms.has(t)))) throw new Error("a filler word matches a question term");
    // Hidden documents as long as an average visible passage, so that length normalization moves little.
    const avgTerms = documents.reduce((n, d) => n + passageTerms(d.text).length, 0) / documents.length;
    const fillerLength = Math.min(300, Math.max(10, Math.round(avgTerms)));
    console.log(`${name}: ${documents.length} visible documents (${((performance.now() - t0) / 1000).toFixed(1)} s to ingest), ${tests} test and ${controls} control questions, hidden documents of ${fillerLength + 1} words`);

    const hiddenDir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-bench-leak-hidden-"));
    const rows: string[] = [];
    let added = 0;
    try {
      for (const level of [0, ...LEVELS]) {
        const files: { source: string; path: string; title: string; allow: string[] }[] = [];
        for (const p of probes) {
          if (!p.target) continue;
          for (let k = added; k < level; k++) {
            const file = path.join(hiddenDir, `${p.target.term.replace(/[^\p{L}\p{N}]/gu, "_")}-${files.length}-${k}.txt`);
            const words = Array.from({ length: fillerLength }, (_, w) => filler[(k * 7 + w * 13 + files.length) % filler.length]);
            words.splice(Math.floor(fillerLength / 2), 0, p.target.surface);
            fs.writeFileSync(file, `${words.join(" ")}.\n`);
            files.push({ source: file, path: file, title: filler[k % filler.length]!, allow: ["group:hidden"] });
          }
        }
        const t1 = performance.now();
        if (files.length) {
          const submitted = await kb.ingest.submit(SYSTEM_ACTOR, files);
          submitted.documents.forEach((d) => hiddenIds.add(d.id));
          const job = await kb.jobs.runHere(submitted.jobId);
          if (!job) throw new Error("could not claim the hidden-documents job");
          if (job.status !== "succeeded") throw new Error(`hidden documents: job ${job.status}`);
        }
        await kb.chunks.optimize(new Date());
        added = level;
        const stats = { test: empty(), control: empty() };
        for (const p of probes) {
          const after = await ranking(kb, viewer, p.question, hiddenIds);
          const { pairs, flipped, splitPairs, splitFlipped } = compare(p.baseline, after, p.holders);
          const s = p.target ? stats.test : stats.control;
          s.pairs += pairs;
          s.flipped += flipped;
          s.splitPairs += splitPairs;
          s.splitFlipped += splitFlipped;
          s.queries++;
          if (flipped > 0) s.queriesWithFlip++;
          if (after.join() !== p.baseline.join()) s.queriesChanged++;
        }
        const pct = (a: number, b: number) => (b ? `${((100 * a) / b).toFixed(1)}%` : "—");
        const ratio = (a: number, b: number) => `${pct(a, b)} (${a}/${b})`;
        const { test: t, control: c } = stats;
        const row = `| ${name} | ${level} | ${hiddenIds.size} | ${ratio(t.flipped, t.pairs)} | ${ratio(t.splitFlipped, t.splitPairs)} | ${pct(t.queriesWithFlip, t.queries)} | ${pct(t.queriesChanged, t.queries)} | ${ratio(c.flipped, c.pairs)} | ${pct(c.queriesWithFlip, c.queries)} | ${pct(c.queriesChanged, c.queries)} |`;
        console.log(`${row}   (${((performance.now() - t1) / 1000).toFixed(1)} s)`);
        rows.push(row);
      }
    } finally {
      fs.rmSync(hiddenDir, { recursive: true, force: true });
    }
    return rows;
  });
}

function empty(): LevelStats {
  return { pairs: 0, flipped: 0, splitPairs: 0, splitFlipped: 0, queries: 0, queriesWithFlip: 0, queriesChanged: 0 };
}

const started = performance.now();
const rows: string[] = [];
for (const ds of QA_DATASETS) {
  if (!fs.existsSync(ds.file)) {
    console.log(`skip ${ds.name}: ${ds.file} not found`);
    continue;
  }
  rows.push(...(await measure(ds.name, await readQaDataset(ds.file))));
}
console.log(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);
if (!values["no-write"]) {
  writeTableSection(
    "score-leak",
    [
      `Visible: the first ${DOCS} paragraphs of each set, readable by the viewer who searches (top ${TOP_K}, lexical mode). Each of ${QUERIES} test questions gets N hidden documents (the viewer may not read them) containing one of its terms that occurs in its visible results, and no other term of any question; ${CONTROLS} control questions share no term with any hidden document. N is cumulative; the index is compacted after each level, as the worker does. *Pairs flipped*: pairs of visible results in both rankings whose order swapped. *Split pairs flipped*: the same, among pairs where exactly one of the two results contains the target term (the pairs a term leak reorders). *Questions with a flip*: at least one such pair. *Top ${TOP_K} changed*: any change of order or membership among the visible results. N = 0 is the same searches repeated with nothing added.`,
    ],
    ["dataset", "N per target term", "hidden documents in all", "test: pairs flipped", "test: split pairs flipped", "test: questions with a flip", `test: top ${TOP_K} changed`, "control: pairs flipped", "control: questions with a flip", `control: top ${TOP_K} changed`],
    rows,
  );
}
