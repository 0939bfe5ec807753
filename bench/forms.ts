/**
 * Forms and receipts OCR benchmark (issue 17 item 3): our OCR pipeline against Debian's `tesseract`
 * command line on a SYNTHETIC, degraded set of forms and receipts generated at bench time
 * (bench/forms-set.ts; the generated text is the ground truth).
 *
 *   npm run bench:forms [-- --quick] [--no-cli] [--only en|ko] [--degradation NAME[,NAME…]] [--verbose] [--out FILE]
 *                       [--pages NAME,NAME…] [--no-fax-clean]
 *
 * The command line reads the same image files with the SAME traineddata as the product (the
 * best_int models of @tesseract.js-data/{eng,kor}, unpacked into a temporary --tessdata-dir) and
 * default settings otherwise: `-l eng` on the English pages, `-l kor+eng` on the Korean ones
 * (OMP_THREAD_LIMIT=1, which changes its speed, not its output). Skipped with a note when
 * `tesseract` is not on PATH (`apt-get install tesseract-ocr`). Our pipeline: OcrEngine with its
 * defaults (languages "auto"), one worker, as the image extractor calls it.
 *
 * Prints word recall (ingest/ocr/metrics.ts: ground-truth words of 2+ characters found, as a bag)
 * per degradation and pooled, ours vs the command line, with our CPU seconds per page and the load
 * average, and writes a Markdown section (default .tmp/bench-forms.md). --quick: 2 English pages
 * per degradation and no Korean pages. The heavy tier has 20 English pages (the first 5 are the tier's
 * original pages) and 4 Korean.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { OcrEngine } from "../ingest/ocr/engine.ts";
import { wordRecall } from "../ingest/ocr/metrics.ts";
import { packagedModelFile } from "../ingest/ocr/tessdata.ts";
import { DEGRADATIONS, formsSet, setupKoreanFont, type Degradation, type FormPage } from "./forms-set.ts";

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const QUICK = flag("--quick");
const OUT = opt("--out") ?? ".tmp/bench-forms.md";
const ONLY = opt("--only");
const ONLY_DEG = opt("--degradation");
const VERBOSE = flag("--verbose");
// --pages NAME,NAME…: only these pages (e.g. to finish a run that was cut off).
const ONLY_PAGES = opt("--pages")?.split(",");
// --no-fax-clean: the engine without the fax cleaning (OcrEngineOptions.faxClean false: the passes as before it).
const FAX_CLEAN = !flag("--no-fax-clean");

const haveKorean = setupKoreanFont(); // before any SVG text is rendered
// The heavy tier (the held-out noisy scans' stand-in) is larger than the others: 20 English pages
// (the first 5 as before) and 4 Korean, so a 10-point difference is more than a few pages' luck.
// --degradation takes one name or several, comma-separated; the other pages are not generated.
const onlyDegradations = ONLY_DEG?.split(",").filter((d): d is Degradation => (DEGRADATIONS as readonly string[]).includes(d));
if (ONLY_DEG && !onlyDegradations?.length) throw new Error(`--degradation: none of ${ONLY_DEG} is one of ${DEGRADATIONS.join(", ")}`);
let pages = await formsSet({
  perDegradation: QUICK ? 2 : 5,
  heavyPages: QUICK ? 2 : 20,
  heavyKoreanPages: 4,
  korean: haveKorean && !QUICK,
  ...(onlyDegradations ? { degradations: onlyDegradations } : {}),
});
if (ONLY) pages = pages.filter((p) => p.lang === ONLY);
if (ONLY_PAGES) pages = pages.filter((p) => ONLY_PAGES.includes(p.name));
if (!haveKorean) console.log("Korean pages left out: @fontsource/noto-sans-kr is not installed");

// ---------------------------------------------------------------------------------------------
// The command line, with the product's traineddata.

const work = mkdtempSync(path.join(tmpdir(), "kb-bench-forms-"));
let cliVersion: string | undefined;
{
  const v = spawnSync("tesseract", ["--version"], { encoding: "utf8" });
  if (!flag("--no-cli") && v.status === 0) cliVersion = (v.stdout || v.stderr).split("\n")[0]!.trim();
}
const tessdata = path.join(work, "tessdata");
if (cliVersion) {
  mkdirSync(tessdata);
  for (const lang of ["eng", "kor"]) writeFileSync(path.join(tessdata, `${lang}.traineddata`), gunzipSync(readFileSync(packagedModelFile(lang))));
} else {
  console.log("tesseract command line not found (or --no-cli): only our pipeline is measured");
}
const cliLang = (p: FormPage) => (p.lang === "ko" ? "kor+eng" : "eng");

function runCli(p: FormPage): { text: string; cpu: number } {
  const file = path.join(work, `${p.name}.${p.ext}`);
  writeFileSync(file, p.bytes);
  const t = process.hrtime.bigint();
  const r = spawnSync("tesseract", [file, "stdout", "--tessdata-dir", tessdata, "-l", cliLang(p)], {
    encoding: "utf8",
    env: { ...process.env, OMP_THREAD_LIMIT: "1" },
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`tesseract failed on ${p.name}: ${r.stderr}`);
  return { text: r.stdout, cpu: Number(process.hrtime.bigint() - t) / 1e9 };
}

// ---------------------------------------------------------------------------------------------

interface Row {
  page: FormPage;
  ours: ReturnType<typeof wordRecall>;
  cli?: ReturnType<typeof wordRecall>;
  cpu: number;
  cliSeconds?: number;
  detail: string;
}

const engine = new OcrEngine({ poolSize: 1, faxClean: FAX_CLEAN });
const rows: Row[] = [];
const load0 = loadavg()[0]!;
const started = Date.now();
try {
  // Warm the worker up (model loading is a one-time cost), outside the measurement.
  await engine.recognizeImage(pages[0]!.bytes);
  for (const p of pages) {
    const cpu0 = process.cpuUsage();
    const r = await engine.recognizeImage(p.bytes);
    const cpu = process.cpuUsage(cpu0);
    const ours = wordRecall(p.truth, r.text);
    let cli: ReturnType<typeof wordRecall> | undefined;
    let cliSeconds: number | undefined;
    if (cliVersion) {
      const c = runCli(p);
      cli = wordRecall(p.truth, c.text);
      cliSeconds = c.cpu;
    }
    const detail = `${r.languages} ${r.rotation}° x${r.scale} conf ${r.confidence.toFixed(0)} passes ${r.passes.map((x) => `${x.kind === "read" ? "" : "probe:"}${x.languages}${x.psm !== undefined ? `/psm${x.psm}` : ""}`).join(",")}${r.faxCleaned ? ` fax-cleaned (${r.faxCleaned.specks} specks, ${r.faxCleaned.holes} holes, ${r.faxCleaned.streakRows} streak rows)` : ""}`;
    rows.push({ page: p, ours, cli, cpu: (cpu.user + cpu.system) / 1e6, cliSeconds, detail });
    console.log(
      `${p.name.padEnd(24)} ours ${ours.recall.toFixed(3)} (${ours.found}/${ours.total})${cli ? `  cli ${cli.recall.toFixed(3)} (${cli.found}/${cli.total})` : ""}  ${((cpu.user + cpu.system) / 1e6).toFixed(1)} CPU s  ${detail}`,
    );
    if (VERBOSE) {
      console.log(`    ours missed: ${ours.missed.join(" ")}`);
      if (cli) console.log(`    cli missed:  ${cli.missed.join(" ")}`);
    }
  }
} finally {
  await engine.close();
  rmSync(work, { recursive: true, force: true });
}
const load1 = loadavg()[0]!;

// ---------------------------------------------------------------------------------------------

const f3 = (x: number) => x.toFixed(3);
function pooled(rs: Row[]) {
  const sum = (f: (r: Row) => number) => rs.reduce((n, r) => n + f(r), 0);
  const total = sum((r) => r.ours.total);
  const ours = sum((r) => r.ours.found) / total;
  const cli = cliVersion ? sum((r) => r.cli!.found) / total : undefined;
  return { total, ours, cli, cpu: sum((r) => r.cpu) / rs.length, cliCpu: cliVersion ? sum((r) => r.cliSeconds!) / rs.length : undefined };
}
function table(head: string[], body: string[][]): string {
  return [`| ${head.join(" | ")} |`, `| ${head.map(() => "---").join(" | ")} |`, ...body.map((r) => `| ${r.join(" | ")} |`)].join("\n");
}
const head = ["degradation", "pages", "words", "ours", "command line", "ours − CLI (points)", "ours CPU s/page", "CLI s/page"];
function line(label: string, rs: Row[], bold = false): string[] {
  const p = pooled(rs);
  const b = (s: string) => (bold ? `**${s}**` : s);
  return [
    b(label),
    String(rs.length),
    String(p.total),
    b(f3(p.ours)),
    p.cli === undefined ? "–" : b(f3(p.cli)),
    p.cli === undefined ? "–" : b(((p.ours - p.cli) * 100).toFixed(1)),
    p.cpu.toFixed(1),
    p.cliCpu === undefined ? "–" : p.cliCpu.toFixed(1),
  ];
}
const md: string[] = [];
for (const lang of ["en", "ko"] as const) {
  const rs = rows.filter((r) => r.page.lang === lang);
  if (rs.length === 0) continue;
  const body = DEGRADATIONS.filter((d) => rs.some((r) => r.page.degradation === d)).map((d) => line(d, rs.filter((r) => r.page.degradation === d)));
  for (const kind of ["form", "receipt"] as const) {
    const k = rs.filter((r) => r.page.kind === kind);
    if (k.length) body.push(line(`all ${kind}s`, k));
  }
  body.push(line("all (words pooled)", rs, true));
  // The tiers before the heavy one was added, pooled as they were reported then.
  const light = rs.filter((r) => r.page.degradation !== "heavy");
  if (light.length && light.length < rs.length) body.push(line("all but heavy (words pooled)", light, true));
  const title = lang === "en" ? "English forms and receipts (CLI: -l eng)" : "Korean forms and receipts (CLI: -l kor+eng)";
  const t = table(head, body);
  console.log(`\n## ${title}\n${t}`);
  md.push(`#### ${title}\n\n${t}\n`);
}
const note = `${rows.length} pages, ${((Date.now() - started) / 1000).toFixed(0)} s; ${cliVersion ?? "no command line"}; machine: ${availableParallelism()} CPUs shared with other jobs, load average (1 min) ${load0.toFixed(1)} → ${load1.toFixed(1)}. Ours CPU s/page = this process's CPU time (tesseract.js worker thread, sharp) per page, one worker; CLI s/page = wall time of one single-threaded \`tesseract\` run.`;
console.log(`\n${note}`);
md.push(note);
mkdirSync(path.dirname(OUT), { recursive: true });
writeFileSync(OUT, `### Forms and receipts (synthetic)\n\nMeasured by \`npm run bench:forms\` on ${new Date().toISOString().slice(0, 10)}${QUICK ? " (--quick subset)" : ""}.\n\n${md.join("\n")}\n`);
console.log(`Markdown written to ${OUT}`);
