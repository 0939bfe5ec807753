/**
 * The chunk table's layout version: which columns a chunk table has and what they hold. It is
 * stored in the table itself, as metadata of its `chunk_id` column (LanceDB can update a
 * column's metadata in place, not the table's), so a table carries its version wherever it is
 * opened from (the active table, a re-embed's shadow table, the previous one kept for rollback).
 *
 * Versions:
 *  1. v0.1 (no version stored): chunk_id … text, analyzed, allow, deny, classification, [vector].
 *  2. The same columns, with the version stored. What v0.1 wrote into `analyzed` differs only for
 *     text holding personal data in forms v0.1's detector missed; that is tracked per document
 *     (documents.sensitive_version, SQLite) and re-indexed by its own job at worker start
 *     (services/ingest/jobs-service.ts, reindexDocumentsOfOlderDetector), not by the layout.
 *  3. Adds `tags` (list of strings) and `version_at` (ISO string, nullable): the document's tags
 *     and the date its live version was written, so a search scoped by tag or date is tested on
 *     the rows (stores/lance/filter.ts) instead of a list of document ids. Added in place, with
 *     the values SQLite holds (`documents.tags`, `documents.version_at`).
 *
 * Opening a table brings it to the current version through LAYOUT_STEPS: an "in-place" step
 * rewrites the table itself (cheap: metadata, a new column with a default); a "reindex" step
 * means every document's chunks must be rebuilt from the stored originals, which the caller
 * does as a reindex job (submitted before the new version is stamped, so a crash in between
 * submits it again rather than never).
 */
import * as lancedb from "@lancedb/lancedb";
import * as arrow from "apache-arrow";

export const CHUNK_LAYOUT_VERSION = 4;
const LAYOUT_KEY = "private_kb.layout";
/** The column whose metadata holds the version. */
export const LAYOUT_COLUMN = "chunk_id";

/** The columns of layouts 1 and 2 (vector optional: a lexical-only table has none). */
const LAYOUT_2_COLUMNS = [
  "chunk_id",
  "document_id",
  "document_version",
  "ordinal",
  "title",
  "source",
  "page_start",
  "page_end",
  "headings",
  "text",
  "analyzed",
  "allow",
  "deny",
  "classification",
];

/** What a step may ask of the rest of the data folder. */
export interface LayoutContext {
  /** Per document id, the facts SQLite holds that layout 3's columns copy. */
  documentFacts?: () => Promise<Map<string, { tags: string[]; versionAt: string | null }>>;
}

export interface LayoutStep {
  from: number;
  to: number;
  /** What changes, for the log. */
  what: string;
  /** in-place: `apply` rewrites the table; reindex: every document's chunks are rebuilt by a reindex job. */
  kind: "in-place" | "reindex";
  apply?: (table: lancedb.Table, context: LayoutContext) => Promise<void>;
  /**
   * An in-place step after which a reindex would improve a table with vectors, though it is not
   * submitted (too costly to start unasked): what the operator is told at open.
   */
  reindexAdvisedWithVectors?: string;
}

export const LAYOUT_STEPS: readonly LayoutStep[] = [
  {
    from: 1,
    to: 2,
    what: "record the layout version (v0.1 tables have the same columns)",
    kind: "in-place",
    apply: async (table) => {
      const columns = (await table.schema()).fields.map((f) => f.name).filter((n) => n !== "vector");
      if (columns.join(",") !== LAYOUT_2_COLUMNS.join(",")) {
        throw new Error(`chunk table ${table.name} has columns ${columns.join(", ")}; a v0.1 table has ${LAYOUT_2_COLUMNS.join(", ")}: not a layout this version can upgrade`);
      }
    },
  },
  {
    from: 2,
    to: 3,
    what: "add the columns tags and version_at (search scopes), filled from SQLite",
    kind: "in-place",
    apply: addScopeColumns,
  },
  {
    from: 3,
    to: 4,
    what: "add the column context (what the embedding model sees of the document), empty until a reindex",
    kind: "in-place",
    apply: (table) => addNullColumns(table, ["context"]),
    reindexAdvisedWithVectors: "chunks embedded before chunk layout 4 were embedded without their document's context (cover lines, folders); `kb reindex` re-embeds them with it",
  },
];

/** Adds nullable string columns that the table lacks (repeatable; another process may add them first). */
async function addNullColumns(table: lancedb.Table, names: string[]): Promise<void> {
  const columns = async () => new Set((await table.schema()).fields.map((f) => f.name));
  const present = await columns();
  const missing = names.filter((n) => !present.has(n));
  if (missing.length === 0) return;
  try {
    await table.addColumns(missing.map((name) => ({ name, valueSql: "arrow_cast(NULL, 'Utf8')" })));
  } catch (err) {
    const now = await columns();
    if (!names.every((n) => now.has(n))) throw err;
  }
}

/**
 * 2 → 3: adds `tags` and `version_at` with empty values, then writes each row's values from
 * SQLite in one merge-insert of those two columns (keyed by chunk_id; no other column is read or
 * rewritten). Repeatable: a crash before the version is stamped runs it again, and the columns
 * already added are kept.
 */
async function addScopeColumns(table: lancedb.Table, context: LayoutContext): Promise<void> {
  if (!context.documentFacts) throw new Error("chunk layout 2 → 3 needs the documents' tags and dates (documentFacts)");
  const names = new Set((await table.schema()).fields.map((f) => f.name));
  const add = [
    ...(names.has("tags") ? [] : [{ name: "tags", valueSql: "arrow_cast(make_array(), 'List(Utf8)')" }]),
    ...(names.has("version_at") ? [] : [{ name: "version_at", valueSql: "arrow_cast(NULL, 'Utf8')" }]),
  ];
  if (add.length) {
    try {
      await table.addColumns(add);
    } catch (err) {
      // Another process opening the same folder may have added them first.
      const now = new Set((await table.schema()).fields.map((f) => f.name));
      if (!(now.has("tags") && now.has("version_at"))) throw err;
    }
  }
  if ((await table.countRows()) === 0) return;
  const facts = await context.documentFacts();
  const rows = (await table.query().select(["chunk_id", "document_id"]).toArray()) as { chunk_id: string; document_id: string }[];
  const data = rows.flatMap((r) => {
    const f = facts.get(String(r.document_id));
    return f && (f.tags.length > 0 || f.versionAt !== null) ? [{ chunk_id: String(r.chunk_id), tags: f.tags, version_at: f.versionAt }] : [];
  });
  if (data.length === 0) return;
  const schema = await table.schema();
  const part = new arrow.Schema(schema.fields.filter((f) => f.name === "chunk_id" || f.name === "tags" || f.name === "version_at"));
  await table.mergeInsert("chunk_id").whenMatchedUpdateAll().execute(lancedb.makeArrowTable(data, { schema: part }));
}

/** The field metadata a new table's `chunk_id` column gets (the current version). */
export function currentLayoutMetadata(): Map<string, string> {
  return new Map([[LAYOUT_KEY, String(CHUNK_LAYOUT_VERSION)]]);
}

/** The layout version of a table: 1 when none is stored (v0.1). */
export async function layoutVersionOf(table: lancedb.Table): Promise<number> {
  const field = (await table.schema()).fields.find((f) => f.name === LAYOUT_COLUMN);
  const stored = field?.metadata.get(LAYOUT_KEY);
  return stored === undefined ? 1 : Number(stored);
}

export interface LayoutUpgrade {
  table: string;
  from: number;
  to: number;
  /** The steps taken, in order. */
  steps: Pick<LayoutStep, "from" | "to" | "what" | "kind" | "reindexAdvisedWithVectors">[];
}

/**
 * Brings `table` to the last version of `steps` (default: the current layout). A reindex step
 * calls `submitReindex` and stamps its version once that returned. A table of a newer layout
 * than this code knows is refused: this version would write rows it cannot describe.
 */
export interface UpgradeOptions extends LayoutContext {
  steps?: readonly LayoutStep[];
  submitReindex: (why: string) => void | Promise<void>;
}

export async function upgradeLayout(table: lancedb.Table, options: UpgradeOptions): Promise<LayoutUpgrade> {
  const steps = options.steps ?? LAYOUT_STEPS;
  const target = steps.reduce((v, s) => Math.max(v, s.to), 1);
  const from = await layoutVersionOf(table);
  if (!Number.isInteger(from) || from > target) {
    throw new Error(`chunk table ${table.name} has layout version ${String(from)}, newer than this version of kb knows (${target}): upgrade kb, do not open it with this one`);
  }
  const done: LayoutUpgrade["steps"] = [];
  let version = from;
  while (version < target) {
    const step = steps.find((s) => s.from === version);
    if (!step) throw new Error(`chunk table ${table.name}: no upgrade step from layout version ${version}`);
    if (step.kind === "in-place") await step.apply?.(table, options);
    else await options.submitReindex(`chunk layout ${step.from} → ${step.to}: ${step.what}`);
    await table.updateFieldMetadata([{ path: LAYOUT_COLUMN, metadata: { [LAYOUT_KEY]: String(step.to) } }]);
    done.push({ from: step.from, to: step.to, what: step.what, kind: step.kind, ...(step.reindexAdvisedWithVectors ? { reindexAdvisedWithVectors: step.reindexAdvisedWithVectors } : {}) });
    version = step.to;
  }
  return { table: table.name, from, to: version, steps: done };
}
