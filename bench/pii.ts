/**
 * Personal-data detection on real Korean (and English) text: detections per kind with the
 * previous detector (version 1, read from git at the commit before version 2) and the current
 * one, and a sample of what only the current one finds, to judge its false positives by eye.
 * The corpora are read in place from ../shared/data; a missing one is skipped. Writes the
 * "pii" section of docs/benchmarks.md.
 *
 *   npm run bench:pii [-- --sample 40]
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { detectSensitive, SENSITIVE_DETECTOR_VERSION, SENSITIVE_KINDS, type SensitiveSpan } from "../src/domain/sensitive/index.ts";
import { replaceSection } from "./report.ts";

const SHARED = path.resolve("../shared/data");
/** The last commit with detector version 1. */
const V1_COMMIT = "2f157c9";
const sampleArg = process.argv.indexOf("--sample");
const SAMPLE = sampleArg > 0 ? Number(process.argv[sampleArg + 1]) : 30;

interface Corpus {
  name: string;
  texts: () => string[];
}

const readJson = (file: string) => JSON.parse(fs.readFileSync(file, "utf8"));
const squadContexts = (file: string) => (readJson(file).data as any[]).flatMap((a) => a.paragraphs.map((p: any) => p.context as string));
const filesIn = (dir: string, re: RegExp) =>
  fs
    .readdirSync(dir)
    .filter((f) => re.test(f))
    .sort()
    .map((f) => fs.readFileSync(path.join(dir, f), "utf8"));

const CORPORA: (Corpus & { requires: string })[] = [
  { name: "KorQuAD 1.0 dev contexts", requires: "korquad1_dev/KorQuAD_v1.0_dev.json", texts: () => squadContexts(path.join(SHARED, "korquad1_dev/KorQuAD_v1.0_dev.json")) },
  {
    name: "AutoRAG Korean corpus (government notices)",
    requires: "autorag_ko_test_resources/qa_gen_by_autorag/corpus.jsonl",
    texts: () =>
      fs
        .readFileSync(path.join(SHARED, "autorag_ko_test_resources/qa_gen_by_autorag/corpus.jsonl"), "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l).contents as string),
  },
  // Includes the layout text of the KBO statistics tables: columns of numbers separated by spaces.
  { name: "Korean OCR ground truth (PDF text layers)", requires: "ocr_korean/ground_truth_txt", texts: () => filesIn(path.join(SHARED, "ocr_korean/ground_truth_txt"), /\.txt$/) },
  {
    name: "multiformat_korean text files",
    requires: "multiformat_korean",
    texts: () => filesIn(path.join(SHARED, "multiformat_korean"), /(utf8\.txt|reference\.txt|\.html|\.json|\.csv)$/),
  },
  {
    // Number-dense text: CSV and JSON tables, e-mails, Markdown ground truth of tables, HTML.
    name: "other text files (multiformat_*, ocr_tesseract_test_en)",
    requires: "multiformat_docling",
    texts: () => ["multiformat_docling", "multiformat_unstructured", "multiformat_markitdown", "ocr_tesseract_test_en"].flatMap((d) => textFilesUnder(path.join(SHARED, d))),
  },
  { name: "SQuAD 1.1 dev contexts (English)", requires: "squad11_dev/dev-v1.1.json", texts: () => squadContexts(path.join(SHARED, "squad11_dev/dev-v1.1.json")) },
];

function textFilesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(txt|md|csv|tsv|eml|json|html?)$/i.test(e.name))
    .map((e) => path.join(e.parentPath, e.name))
    .sort()
    .filter((f) => fs.statSync(f).size < 4_000_000)
    .map((f) => fs.readFileSync(f, "utf8"));
}

type Detector = (text: string) => SensitiveSpan[];

/** Detector version 1 as it was, from git (the bench only: the product has one detector). */
async function loadV1(): Promise<Detector | null> {
  try {
    const source = execFileSync("git", ["show", `${V1_COMMIT}:src/domain/sensitive/detect.ts`], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "pii-v1-")), "detect-v1.ts");
    fs.writeFileSync(file, source);
    return ((await import(pathToFileURL(file).href)) as { detectSensitive: Detector }).detectSensitive;
  } catch (err) {
    console.log(`no version 1 detector (git show ${V1_COMMIT} failed: ${(err as Error).message.split("\n")[0]}); counting the current one only`);
    return null;
  }
}

const count = (spans: SensitiveSpan[][]) => {
  const c: Record<string, number> = Object.fromEntries(SENSITIVE_KINDS.map((k) => [k, 0]));
  for (const list of spans) for (const s of list) c[s.kind]!++;
  return c;
};

const oneLine = (s: string) => s.replace(/\s+/g, " ");

async function main() {
  if (!fs.existsSync(SHARED)) {
    console.log(`skip: ${SHARED} not found (the corpora are read in place from ../shared/data)`);
    return;
  }
  const v1 = await loadV1();
  const rows: string[] = [];
  const samples: string[] = [];
  let dropped = 0;
  let droppedAfterDecimalPoint = 0;
  for (const corpus of CORPORA) {
    if (!fs.existsSync(path.join(SHARED, corpus.requires))) {
      console.log(`skip ${corpus.name}: ${corpus.requires} not found`);
      continue;
    }
    const texts = corpus.texts();
    const chars = texts.reduce((n, t) => n + t.length, 0);
    const after = texts.map((t) => detectSensitive(t));
    const before = v1 ? texts.map((t) => v1(t)) : null;
    const ca = count(after);
    const cb = before ? count(before) : null;
    const cell = (k: string) => (cb ? `${cb[k]} → ${ca[k]}` : `${ca[k]}`);
    const row = `| ${corpus.name} | ${texts.length} | ${(chars / 1e6).toFixed(2)} M | ${SENSITIVE_KINDS.map(cell).join(" | ")} |`;
    console.log(row);
    rows.push(row);
    if (!before) continue;
    // New: spans of the current detector that no span of version 1 covers exactly.
    texts.forEach((t, i) => {
      const old = new Set(before[i]!.map((s) => `${s.kind}:${s.start}:${s.end}`));
      for (const s of after[i]!) {
        if (old.has(`${s.kind}:${s.start}:${s.end}`)) continue;
        samples.push(`| ${corpus.name.split(" ")[0]} | ${s.kind} | \`${oneLine(t.slice(s.start, s.end))}\` | ${oneLine(t.slice(Math.max(0, s.start - 25), s.start))}⟦…⟧${oneLine(t.slice(s.end, s.end + 20))} |`);
      }
      const now = new Set(after[i]!.map((s) => `${s.kind}:${s.start}:${s.end}`));
      for (const s of before[i]!) {
        if (now.has(`${s.kind}:${s.start}:${s.end}`)) continue;
        dropped++;
        if (t[s.start - 1] === "." && /\d/.test(t[s.start - 2] ?? "")) droppedAfterDecimalPoint++;
        if (dropped <= SAMPLE) console.log(`  only version 1: ${s.kind} ${JSON.stringify(t.slice(Math.max(0, s.start - 12), s.end + 8))}`);
      }
    });
  }
  if (rows.length === 0) return;
  // The price of detecting RRNs separated by a space: how often two unrelated numbers, six digits
  // and seven digits, written side by side in a table pass as one (seeded, so reproducible).
  let seed = 20_261_206;
  const rand = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  const digits = (n: number) => Array.from({ length: n }, () => Math.floor(rand() * 10)).join("");
  const PAIRS = 100_000;
  let pairHits = 0;
  for (let i = 0; i < PAIRS; i++) if (detectSensitive(`| ${digits(6)} ${digits(7)} |`).length) pairHits++;
  const pairLine = `Two random numbers, 6 and 7 digits, side by side with a space (a table row): ${pairHits} of ${PAIRS.toLocaleString("en-US")} (${((100 * pairHits) / PAIRS).toFixed(2)}%) are taken for an RRN (a real YYMMDD date and a 7th digit 1-8).`;
  console.log(pairLine);
  console.log(`\n${samples.length} detections only version ${SENSITIVE_DETECTOR_VERSION} makes; the first ${Math.min(SAMPLE, samples.length)}:`);
  for (const s of samples.slice(0, SAMPLE)) console.log(s);

  const body = [
    `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench:pii\` (\`bench/pii.ts\`): personal-data detections per kind in the corpora under ../shared/data, detector version 1 (git ${V1_COMMIT}) → version ${SENSITIVE_DETECTOR_VERSION} (NFKC folding; dash, dot, underscore and space separators). Apart from e-mail addresses (headers of the test e-mails, addresses in HTML pages), these corpora hold no personal data: a number detected in them is a false positive.`,
    "",
    `| corpus | texts | chars | ${SENSITIVE_KINDS.join(" | ")} |`,
    `|---|---|---|${SENSITIVE_KINDS.map(() => "---").join("|")}|`,
    ...rows,
    "",
    `Detections version 1 made and version ${SENSITIVE_DETECTOR_VERSION} does not: ${dropped}, of which ${droppedAfterDecimalPoint} are digits after a decimal point ("0.022146275" taken for a Seoul number, "0.3897705078125" for a card); version ${SENSITIVE_DETECTOR_VERSION} rejects a value glued to a digit by a dot, dash or underscore.`,
    "",
    pairLine,
    "",
    `Detections only version ${SENSITIVE_DETECTOR_VERSION} makes: ${samples.length}${samples.length ? (samples.length > SAMPLE ? ` (first ${SAMPLE} shown)` : " (all shown)") : ""}.`,
    ...(samples.length ? ["", "| corpus | kind | value | context |", "|---|---|---|---|", ...samples.slice(0, SAMPLE)] : []),
  ].join("\n");
  replaceSection(path.resolve("docs/benchmarks.md"), "pii", body);
}

await main();
