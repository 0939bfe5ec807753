/**
 * How the lexical analyzer (src/domain/analysis) was chosen.
 *
 * Every paragraph of a QA set is a document; each question should retrieve its own paragraph.
 * A document's indexed text is "title\ntext" (the product indexes title + heading path + chunk
 * text) or just the text. Candidates are scored with an in-memory BM25 that reproduces LanceDB's
 * native FTS scoring exactly (k1 = 1.2, b = 0.75, idf = ln(1 + (N - n + 0.5) / (n + 0.5)),
 * repeated query terms add up, doc length = number of terms), then the chosen one is confirmed
 * through a real LanceDB table.
 *
 * Usage:
 *   npx tsx bench/analysis-experiment.ts                      # all configs, in memory
 *   npx tsx bench/analysis-experiment.ts --configs final --lance
 *   options: --configs a,b   --datasets korquad,squad   --title with|without|both   --lance
 *
 * The data is read in place from ../shared/data beside the repository (override with
 * QA_DATA_DIR); it is never copied into the repository (KorQuAD forbids modified redistribution).
 *
 * Results (in-memory; R@1 / R@5 / MRR@10, "title" = title + text indexed, "text" = text only):
 *
 *   config          KorQuAD title        KorQuAD text         SQuAD title          SQuAD text
 *   words           .765 .895 .821       .761 .887 .816       .763 .918 .830       .757 .912 .824
 *   bi-raw          .904 .989 .942       .885 .982 .928       .764 .918 .831       .757 .912 .824
 *   bi-strip        .912 .991 .947       .894 .984 .933       .786 .935 .851       .781 .930 .845
 *   bi-strip-q      .913 .992 .947       .896 .984 .934       .798 .942 .860       .790 .937 .853
 *   r1+stems3       .905 .990 .942       .883 .979 .925          (no Korean: = bi-strip-q)
 *   r1+uni          .912 .991 .947       .892 .983 .932
 *   r1-eojeol       .905 .989 .942       .887 .983 .929
 *   r1-stem-only    .906 .982 .940       .894 .977 .930
 *   final           .924 .993 .954       .906 .986 .941       .805 .942 .864       .799 .938 .859
 *   r3              .927 .993 .956       .910 .988 .944       .804 .942 .863       .799 .938 .858
 *   stems3          .919 .991 .951       .899 .983 .935
 *   uni             .924 .992 .954       .904 .984 .939
 *   strip1          .924 .992 .954       .906 .987 .941
 *   no-short        .923 .992 .954       .907 .986 .941
 *   lucene-stop                                               .799 .941 .860       .795 .937 .855
 *   snowball-stop                                             .802 .941 .862       .797 .937 .857
 *   no-hyphen                                                 .804 .942 .864       .798 .938 .858
 *   no-enstem                                                 .784 .924 .846       .780 .920 .841
 *   no-fold                                                   .803 .941 .863       .798 .937 .858
 *   dedupe-q        .924 .993 .954       .906 .986 .941       .805 .942 .864       .800 .938 .859
 *   (English-only options change KorQuAD by at most .001; Korean-only options leave SQuAD as is.)
 *
 *   final through LanceDB: KorQuAD .926 .993 .956 / .908 .986 .942; SQuAD .805 .942 .864 /
 *   .799 .938 .859 (same as in memory up to ties).
 *
 * What the numbers say:
 * - Particle/ending stripping before bigrams beats raw eojeol bigrams; unigrams, bigrams of the
 *   unstripped eojeol and stems-only are all worse.
 * - Whole stems as extra terms hurt (-1 to -2 points R@1): a long rare stem is usually the
 *   article's topic entity ("금강산", "천안함"), shared by all its paragraphs, and the extra
 *   weight drowns the words that tell the paragraphs apart.
 * - LanceDB's k1 = 1.2 is too high for passages: k1 = 0.6 (every index term written twice) gains
 *   about a point of R@1 in both languages; k1 = 0.4 helps Korean a little more, English not.
 * - English: Porter stemming +2 points; a function-word stop list beats both Lucene's 33 words and
 *   the full Snowball list (which removes meaningful prepositions like "before", "during").
 * - Question words and Korean polite endings matter little on KorQuAD but keep real queries
 *   ("…에 유의해야 합니까?") from matching on noise.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import * as lancedb from "@lancedb/lancedb";
import { Analyzer, type AnalyzerOptions } from "../src/domain/analysis/analyzer.ts";
import { aggregateMetrics, type RankedResult, type RankingMetrics } from "../src/eval/metrics.ts";
import { readQaDataset, type QaDataset } from "../src/eval/qa-formats.ts";

const DATA_DIR = process.env.QA_DATA_DIR ?? fileURLToPath(new URL("../../shared/data/", import.meta.url));
const DATASETS: Record<string, string> = {
  korquad: join(DATA_DIR, "korquad1_dev/KorQuAD_v1.0_dev.json"),
  squad: join(DATA_DIR, "squad11_dev/dev-v1.1.json"),
  // 55 chunks of one Korean government notice, 20 LLM-written questions: a small real-document check
  autorag: join(DATA_DIR, "autorag_ko_test_resources/qa_gen_by_autorag/qa.jsonl"),
};

interface Candidate {
  name: string;
  note: string;
  index: (text: string) => string[];
  query: (text: string) => string[];
}

function fromOptions(name: string, note: string, options: Partial<AnalyzerOptions>): Candidate {
  const a = new Analyzer(options);
  return { name, note, index: (t) => a.indexTerms(t), query: (t) => a.terms(t, "query") };
}

/** Baseline: lowercase words split on whitespace and punctuation, nothing else. */
const whitespaceWords: Candidate = {
  name: "words",
  note: "lowercased whitespace/punctuation words (baseline)",
  index: (t) => t.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [],
  query: (t) => t.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [],
};

// "r1" = each index term written once: LanceDB's own k1 = 1.2. "final" writes it twice (k1 = 0.6).
const K12 = { indexRepeat: 1 } as const;
const CANDIDATES: Candidate[] = [
  whitespaceWords,
  fromOptions("bi-raw", "r1; Hangul bigrams of whole eojeols; no stripping, stop words, stemming, folding", {
    ...K12, koStripRounds: 0, koStopWords: false, enStopWords: "none", enStem: false, queryQuestionWords: false, foldDiacritics: false, enJoinHyphenated: false,
  }),
  fromOptions("bi-strip", "r1; bigrams of stems (particles/endings stripped); Porter; no stop/question words", {
    ...K12, koStopWords: false, enStopWords: "none", queryQuestionWords: false, enJoinHyphenated: false,
  }),
  fromOptions("bi-strip-q", "r1; bi-strip + stop words + question words dropped from queries", { ...K12 }),
  fromOptions("r1+stems3", "r1; bi-strip-q + stems of 3+ syllables as extra terms", { ...K12, koStemMinLength: 3 }),
  fromOptions("r1+uni", "r1; bi-strip-q + syllable unigrams", { ...K12, koUnigrams: true }),
  fromOptions("r1-eojeol", "r1; bi-strip-q but bigrams of the unstripped eojeol", { ...K12, koBigramsFrom: "eojeol" }),
  fromOptions("r1-stem-only", "r1; stems only, no bigrams", { ...K12, koBigrams: false, koStemMinLength: 1 }),
  fromOptions("final", "bi-strip-q with every index term written twice (BM25 k1 = 0.6)", {}),
  fromOptions("r3", "final but terms written three times (k1 = 0.4)", { indexRepeat: 3 }),
  fromOptions("stems3", "final + stems of 3+ syllables", { koStemMinLength: 3 }),
  fromOptions("uni", "final + syllable unigrams", { koUnigrams: true }),
  fromOptions("strip1", "final but one round of stripping", { koStripRounds: 1 }),
  fromOptions("no-short", "final but no one-syllable stems (곳은 stays)", { koShortStems: false }),
  fromOptions("lucene-stop", "final but Lucene's 33 English stop words", { enStopWords: "lucene" }),
  fromOptions("snowball-stop", "final but a Snowball/NLTK-like English stop list", { enStopWords: "snowball" }),
  fromOptions("no-hyphen", "final without joined hyphenated words", { enJoinHyphenated: false }),
  fromOptions("no-enstem", "final but no Porter stemming", { enStem: false }),
  fromOptions("no-fold", "final but no diacritic folding", { foldDiacritics: false }),
  fromOptions("dedupe-q", "final but each query term once", { dedupeQueryTerms: true }),
];

// ---------------------------------------------------------------------------------------------
// In-memory BM25 identical to LanceDB's native FTS scoring.

const K1 = 1.2;
const B = 0.75;

class MemoryBm25 {
  private readonly postings = new Map<string, { doc: Int32Array; tf: Int32Array }>();
  private readonly docLen: Float64Array;
  private readonly avgLen: number;

  constructor(docs: string[][]) {
    const tmp = new Map<string, { doc: number[]; tf: number[] }>();
    this.docLen = new Float64Array(docs.length);
    let total = 0;
    docs.forEach((terms, d) => {
      this.docLen[d] = terms.length;
      total += terms.length;
      const counts = new Map<string, number>();
      for (const t of terms) counts.set(t, (counts.get(t) ?? 0) + 1);
      for (const [t, c] of counts) {
        let p = tmp.get(t);
        if (!p) tmp.set(t, (p = { doc: [], tf: [] }));
        p.doc.push(d);
        p.tf.push(c);
      }
    });
    this.avgLen = total / Math.max(1, docs.length);
    for (const [t, p] of tmp) this.postings.set(t, { doc: Int32Array.from(p.doc), tf: Int32Array.from(p.tf) });
  }

  search(query: string[], k: number): number[] {
    const n = this.docLen.length;
    const qtf = new Map<string, number>();
    for (const t of query) qtf.set(t, (qtf.get(t) ?? 0) + 1);
    const scores = new Map<number, number>();
    for (const [t, w] of qtf) {
      const p = this.postings.get(t);
      if (!p) continue;
      const idf = Math.log(1 + (n - p.doc.length + 0.5) / (p.doc.length + 0.5));
      for (let i = 0; i < p.doc.length; i++) {
        const d = p.doc[i]!;
        const tf = p.tf[i]!;
        const s = (idf * tf * (K1 + 1)) / (tf + K1 * (1 - B + (B * this.docLen[d]!) / this.avgLen));
        scores.set(d, (scores.get(d) ?? 0) + w * s);
      }
    }
    return [...scores].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, k).map(([d]) => d);
  }
}

function docText(doc: { title: string; text: string }, withTitle: boolean): string {
  return withTitle && doc.title ? `${doc.title}\n${doc.text}` : doc.text;
}

interface RunResult {
  metrics: RankingMetrics;
  analyzeMs: number;
  perQueryMs: { mean: number; p50: number; p95: number };
  emptyQueries: number;
}

function timing(samples: number[]): RunResult["perQueryMs"] {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
  return { mean: s.reduce((a, b) => a + b, 0) / Math.max(1, s.length), p50: at(0.5), p95: at(0.95) };
}

function runMemory(ds: QaDataset, c: Candidate, withTitle: boolean): RunResult {
  const t0 = performance.now();
  const docTerms = ds.documents.map((d) => c.index(docText(d, withTitle)));
  const analyzeMs = performance.now() - t0;
  const bm25 = new MemoryBm25(docTerms);
  const ids = ds.documents.map((d) => d.id);
  const results: RankedResult[] = [];
  const times: number[] = [];
  let emptyQueries = 0;
  for (const q of ds.questions) {
    const s = performance.now();
    const terms = c.query(q.question);
    if (terms.length === 0) emptyQueries++;
    const ranked = bm25.search(terms, 10).map((d) => ids[d]!);
    times.push(performance.now() - s);
    results.push({ ranked, relevant: q.relevantDocumentIds });
  }
  return { metrics: aggregateMetrics(results), analyzeMs, perQueryMs: timing(times), emptyQueries };
}

// ---------------------------------------------------------------------------------------------
// LanceDB confirmation

async function runLance(ds: QaDataset, c: Candidate, withTitle: boolean): Promise<RunResult> {
  const dir = await mkdtemp(join(tmpdir(), "kb-analysis-"));
  try {
    const db = await lancedb.connect(dir);
    const t0 = performance.now();
    const rows = ds.documents.map((d) => ({ id: d.id, title: d.title, analyzed: c.index(docText(d, withTitle)).join(" ") }));
    const analyzeMs = performance.now() - t0;
    const table = await db.createTable("chunks", rows);
    await table.createIndex("analyzed", {
      config: lancedb.Index.fts({
        baseTokenizer: "whitespace", lowercase: false, stem: false, removeStopWords: false, asciiFolding: false, withPosition: false,
      }),
    });
    const results: RankedResult[] = [];
    const times: number[] = [];
    let emptyQueries = 0;
    for (const q of ds.questions) {
      const s = performance.now();
      const analyzed = c.query(q.question).join(" ");
      let ranked: string[] = [];
      if (analyzed === "") emptyQueries++;
      else {
        const hits = await table
          .query()
          .fullTextSearch(new lancedb.MatchQuery(analyzed, "analyzed"))
          .where("id IS NOT NULL") // exercises prefiltering, as the product filters by collection/ACL
          .select(["id", "_score"])
          .limit(10)
          .toArray();
        ranked = hits.map((h) => String(h.id));
      }
      times.push(performance.now() - s);
      results.push({ ranked, relevant: q.relevantDocumentIds });
    }
    return { metrics: aggregateMetrics(results), analyzeMs, perQueryMs: timing(times), emptyQueries };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const f3 = (x: number) => x.toFixed(3);

async function main(): Promise<void> {
  const wanted = arg("configs")?.split(",");
  const candidates = wanted ? CANDIDATES.filter((c) => wanted.includes(c.name)) : CANDIDATES;
  if (candidates.length === 0) throw new Error(`no such config; known: ${CANDIDATES.map((c) => c.name).join(", ")}`);
  const datasetNames = arg("datasets")?.split(",") ?? Object.keys(DATASETS);
  const titleArg = arg("title") ?? "both";
  const titleModes = titleArg === "both" ? [true, false] : [titleArg === "with"];
  const lance = process.argv.includes("--lance");

  console.log("| dataset | config | title | engine | R@1 | R@5 | R@10 | MRR@10 | nDCG@10 | empty q | analyze corpus ms | ms/query (mean/p50/p95) |");
  console.log("|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const name of datasetNames) {
    const path = DATASETS[name];
    if (!path) throw new Error(`unknown dataset ${name}`);
    const ds = await readQaDataset(path);
    for (const c of candidates) {
      for (const withTitle of titleModes) {
        const runs: [string, RunResult][] = [["memory", runMemory(ds, c, withTitle)]];
        if (lance) runs.push(["lancedb", await runLance(ds, c, withTitle)]);
        for (const [engine, r] of runs) {
          const m = r.metrics;
          const pq = r.perQueryMs;
          console.log(
            `| ${name} | ${c.name} | ${withTitle ? "with" : "without"} | ${engine} | ${f3(m.recall1)} | ${f3(m.recall5)} | ${f3(m.recall10)} | ${f3(m.mrr10)} | ${f3(m.ndcg10)} | ${r.emptyQueries} | ${r.analyzeMs.toFixed(0)} | ${pq.mean.toFixed(2)}/${pq.p50.toFixed(2)}/${pq.p95.toFixed(2)} |`,
          );
        }
      }
    }
  }
  if (process.argv.includes("--notes")) for (const c of candidates) console.log(`- ${c.name}: ${c.note}`);
}

await main();
