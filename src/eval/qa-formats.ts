/**
 * Readers for question-answering evaluation sets. Each reader produces the same shape: the
 * documents to index and the questions with the ids of their relevant documents.
 *
 * Supported formats:
 * - "squad": SQuAD 1.1 / 2.0 and KorQuAD 1.0 JSON (`{ data: [{ title, paragraphs: [{ context,
 *   qas: [{ id, question, answers }] }] }] }`). Every paragraph is one document whose title is
 *   the article title; a question's relevant document is its own paragraph. SQuAD 2.0
 *   questions marked `is_impossible` are skipped (the paragraph does not answer them).
 * - "autorag": AutoRAG JSONL, a `qa.jsonl` (`qid`, `query`, `retrieval_gt: string[][]`,
 *   `generation_gt: string[]`) with a `corpus.jsonl` beside it (`doc_id`, `contents`, `path`,
 *   `metadata.path`). The title of a corpus document is its file name without extension.
 *
 * - "feedback": reviewed answer feedback exported by GET /api/v1/admin/feedback/export, JSONL
 *   `{ question, expected_document_ids: string[], expected_answer?: string }` whose ids are
 *   documents of an existing knowledge base. It has no documents of its own: `kb eval`
 *   measures it against the configured data folder.
 *
 * `readQaDataset(path)` detects the format from the extension and the content. `path` may be
 * the QA file itself or, for AutoRAG, the folder that holds `qa.jsonl` and `corpus.jsonl`.
 */
import { readFile, stat } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";

export interface QaDocument {
  id: string;
  title: string;
  text: string;
}

export interface QaQuestion {
  id: string;
  question: string;
  relevantDocumentIds: string[];
  /** Reference answers when the format has them (SQuAD answer spans, AutoRAG generation_gt). */
  answers?: string[];
}

export interface QaDataset {
  documents: QaDocument[];
  questions: QaQuestion[];
}

export type QaFormat = "squad" | "autorag" | "feedback";

export class QaFormatError extends Error {
  override name = "QaFormatError";
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function asString(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// SQuAD / KorQuAD

export function looksLikeSquad(json: unknown): boolean {
  if (!isObject(json) || !Array.isArray(json.data)) return false;
  const first = json.data[0];
  return first === undefined || (isObject(first) && Array.isArray(first.paragraphs));
}

/** Parses an already-decoded SQuAD-style JSON value. */
export function parseSquad(json: unknown, source = "SQuAD JSON"): QaDataset {
  if (!looksLikeSquad(json)) {
    throw new QaFormatError(`${source}: expected an object with data[].paragraphs[] (SQuAD/KorQuAD format)`);
  }
  const data = (json as { data: unknown[] }).data;
  const documents: QaDocument[] = [];
  const questions: QaQuestion[] = [];
  const seenQuestionIds = new Set<string>();
  data.forEach((article, ai) => {
    if (!isObject(article) || !Array.isArray(article.paragraphs)) {
      throw new QaFormatError(`${source}: data[${ai}] has no paragraphs array`);
    }
    const title = asString(article.title) ?? "";
    article.paragraphs.forEach((paragraph, pi) => {
      if (!isObject(paragraph) || typeof paragraph.context !== "string") {
        throw new QaFormatError(`${source}: data[${ai}].paragraphs[${pi}] has no context string`);
      }
      const docId = `${ai}-${pi}`;
      documents.push({ id: docId, title, text: paragraph.context });
      const qas = Array.isArray(paragraph.qas) ? paragraph.qas : [];
      qas.forEach((qa, qi) => {
        if (!isObject(qa) || typeof qa.question !== "string") {
          throw new QaFormatError(`${source}: data[${ai}].paragraphs[${pi}].qas[${qi}] has no question string`);
        }
        if (qa.is_impossible === true) return;
        let id = asString(qa.id) ?? `${docId}-${qi}`;
        if (seenQuestionIds.has(id)) id = `${id}#${docId}-${qi}`;
        seenQuestionIds.add(id);
        const answers = Array.isArray(qa.answers)
          ? qa.answers.flatMap((a) => (isObject(a) && typeof a.text === "string" ? [a.text] : []))
          : [];
        questions.push({ id, question: qa.question, relevantDocumentIds: [docId], answers });
      });
    });
  });
  return { documents, questions };
}

// ---------------------------------------------------------------------------------------------
// AutoRAG JSONL

function parseJsonLines(text: string, source: string): unknown[] {
  const rows: unknown[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    const trimmed = line.trim();
    if (trimmed === "") return;
    try {
      rows.push(JSON.parse(trimmed) as Json);
    } catch (e) {
      throw new QaFormatError(`${source}: line ${i + 1} is not valid JSON (${(e as Error).message})`);
    }
  });
  return rows;
}

export function looksLikeAutoRagQa(row: unknown): boolean {
  return isObject(row) && "qid" in row && "query" in row && "retrieval_gt" in row;
}

export function looksLikeAutoRagCorpus(row: unknown): boolean {
  return isObject(row) && "doc_id" in row && "contents" in row;
}

function titleFromPath(path: string): string {
  const name = basename(path.replace(/\\/g, "/"));
  const ext = extname(name);
  return ext.length > 0 && ext.length < name.length ? name.slice(0, -ext.length) : name;
}

/** Parses AutoRAG `qa.jsonl` and `corpus.jsonl` contents. */
export function parseAutoRag(qaJsonl: string, corpusJsonl: string, source = "AutoRAG"): QaDataset {
  const documents: QaDocument[] = [];
  const docIds = new Set<string>();
  parseJsonLines(corpusJsonl, `${source} corpus`).forEach((row, i) => {
    if (!looksLikeAutoRagCorpus(row)) {
      throw new QaFormatError(`${source} corpus: row ${i + 1} lacks doc_id/contents`);
    }
    const r = row as Record<string, unknown>;
    const id = asString(r.doc_id);
    if (id === undefined || typeof r.contents !== "string") {
      throw new QaFormatError(`${source} corpus: row ${i + 1} has a non-string doc_id or contents`);
    }
    const metaPath = isObject(r.metadata) ? asString(r.metadata.path) : undefined;
    const path = metaPath ?? asString(r.path);
    documents.push({ id, title: path ? titleFromPath(path) : "", text: r.contents });
    docIds.add(id);
  });

  const questions: QaQuestion[] = [];
  parseJsonLines(qaJsonl, `${source} qa`).forEach((row, i) => {
    if (!looksLikeAutoRagQa(row)) {
      throw new QaFormatError(`${source} qa: row ${i + 1} lacks qid/query/retrieval_gt`);
    }
    const r = row as Record<string, unknown>;
    const id = asString(r.qid);
    if (id === undefined || typeof r.query !== "string") {
      throw new QaFormatError(`${source} qa: row ${i + 1} has a non-string qid or query`);
    }
    // retrieval_gt is a list of groups of alternatives ([[a, b], [c]]); any listed id is relevant.
    const gt = Array.isArray(r.retrieval_gt) ? (r.retrieval_gt as unknown[]).flat(2) : [];
    const relevant = [...new Set(gt.flatMap((x) => (typeof x === "string" ? [x] : [])))];
    const missing = relevant.filter((d) => !docIds.has(d));
    if (missing.length > 0) {
      throw new QaFormatError(`${source} qa: row ${i + 1} refers to unknown doc_id ${missing[0]}`);
    }
    const answers = Array.isArray(r.generation_gt)
      ? (r.generation_gt as unknown[]).filter((a): a is string => typeof a === "string")
      : [];
    questions.push({ id, question: r.query, relevantDocumentIds: relevant, answers });
  });
  return { documents, questions };
}

// ---------------------------------------------------------------------------------------------
// Reviewed feedback (GET /api/v1/admin/feedback/export)

export function looksLikeFeedbackEval(row: unknown): boolean {
  return isObject(row) && typeof row.question === "string" && Array.isArray(row.expected_document_ids);
}

/** Parses the feedback export: questions whose relevant documents are ids of an existing knowledge base. */
export function parseFeedbackEval(jsonl: string, source = "feedback JSONL"): QaDataset {
  const questions: QaQuestion[] = [];
  parseJsonLines(jsonl, source).forEach((row, i) => {
    if (!looksLikeFeedbackEval(row)) throw new QaFormatError(`${source}: line ${i + 1} lacks question/expected_document_ids`);
    const r = row as { question: string; expected_document_ids: unknown[]; expected_answer?: unknown };
    const ids = [...new Set(r.expected_document_ids.filter((x): x is string => typeof x === "string" && x !== ""))];
    if (ids.length === 0) throw new QaFormatError(`${source}: line ${i + 1} has no expected document id`);
    const answers = typeof r.expected_answer === "string" && r.expected_answer ? [r.expected_answer] : [];
    questions.push({ id: `feedback-${i + 1}`, question: r.question, relevantDocumentIds: ids, ...(answers.length ? { answers } : {}) });
  });
  return { documents: [], questions };
}

// ---------------------------------------------------------------------------------------------
// Detection + reading from disk

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function fileExists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

function firstJsonLine(text: string): unknown {
  for (const line of text.split(/\r?\n/)) {
    const t = line.trim();
    if (t === "") continue;
    try {
      return JSON.parse(t) as Json;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * Reads a QA evaluation set from disk, detecting its format. Throws `QaFormatError` with a
 * description of the supported formats when the content is not recognised.
 */
export async function readQaDataset(path: string): Promise<QaDataset & { format: QaFormat }> {
  if (await isDirectory(path)) {
    const qaPath = join(path, "qa.jsonl");
    if (await fileExists(qaPath)) return readQaDataset(qaPath);
    throw new QaFormatError(`${path}: folder has no qa.jsonl (AutoRAG); pass a QA file instead`);
  }
  const text = await readFile(path, "utf8");
  const ext = extname(path).toLowerCase();
  const trimmed = text.replace(/^\uFEFF/, "").trimStart();

  // Whole-file JSON (SQuAD/KorQuAD) unless the extension says JSON Lines.
  if (ext !== ".jsonl" && ext !== ".ndjson" && trimmed.startsWith("{")) {
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch {
      json = undefined; // maybe JSON Lines with a .json extension; fall through
    }
    if (json !== undefined) {
      if (looksLikeSquad(json)) return { format: "squad", ...parseSquad(json, path) };
      throw unknownFormat(path);
    }
  }

  const first = firstJsonLine(trimmed);
  if (looksLikeAutoRagQa(first)) {
    const corpusPath = join(dirname(path), "corpus.jsonl");
    if (!(await fileExists(corpusPath))) {
      throw new QaFormatError(`${path}: AutoRAG qa file found but ${corpusPath} is missing`);
    }
    const corpus = await readFile(corpusPath, "utf8");
    return { format: "autorag", ...parseAutoRag(trimmed, corpus.replace(/^\uFEFF/, ""), path) };
  }
  if (looksLikeFeedbackEval(first)) return { format: "feedback", ...parseFeedbackEval(trimmed, path) };
  if (looksLikeAutoRagCorpus(first)) {
    throw new QaFormatError(`${path}: this is an AutoRAG corpus file; pass the qa.jsonl beside it`);
  }
  throw unknownFormat(path);
}

function unknownFormat(path: string): QaFormatError {
  return new QaFormatError(
    `${path}: unknown QA format. Supported: SQuAD/KorQuAD JSON ({ data: [{ title, paragraphs: [{ context, qas }] }] }) ` +
      `AutoRAG JSONL (qa.jsonl with qid/query/retrieval_gt, plus corpus.jsonl with doc_id/contents beside it) ` +
      `and reviewed feedback JSONL (question/expected_document_ids[/expected_answer], from GET /api/v1/admin/feedback/export).`,
  );
}
