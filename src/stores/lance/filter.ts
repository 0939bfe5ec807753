/**
 * LanceDB's query language (DataFusion SQL) in one place: the quoting of string literals and the
 * compiler of access rules into the `where` clause every search applies inside the index.
 * Policies decide what a reader may see (policies/documents.ts: `documentReadRule`); this file
 * only translates that rule, so the policy layer does not know the store's query language.
 * The property test in policies/rule.test.ts checks on a real table that the compiled filter
 * selects exactly the rows `evaluate` accepts.
 */
import type { AccessRule } from "../access.ts";

/** SQL string literal for LanceDB filters. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

// `~` only occurs in directory names (`corp~6b3c…`, policies/principal-format.ts).
const PRINCIPAL = /^[\p{L}\p{N}:._@~-]+$/u;

function principalLiteral(value: string): string {
  // Principals are validated at creation; this is defence in depth for the SQL string.
  if (!PRINCIPAL.test(value)) throw new Error(`invalid principal in access rule: ${JSON.stringify(value)}`);
  return sqlString(value);
}

/** Compiles an access rule to a LanceDB (DataFusion SQL) filter; null means "no restriction". */
export function compileAccessRule(rule: AccessRule): string | null {
  const sql = compile(rule);
  return sql === "TRUE" ? null : sql;
}

function compile(rule: AccessRule): string {
  switch (rule.op) {
    case "true":
      return "TRUE";
    case "false":
      return "FALSE";
    case "all": {
      const parts = rule.rules.map(compile).filter((s) => s !== "TRUE");
      if (parts.includes("FALSE")) return "FALSE";
      return parts.length === 0 ? "TRUE" : parts.map((p) => `(${p})`).join(" AND ");
    }
    case "any": {
      const parts = rule.rules.map(compile).filter((s) => s !== "FALSE");
      if (parts.includes("TRUE")) return "TRUE";
      return parts.length === 0 ? "FALSE" : parts.map((p) => `(${p})`).join(" OR ");
    }
    case "not": {
      const inner = compile(rule.rule);
      return inner === "TRUE" ? "FALSE" : inner === "FALSE" ? "TRUE" : `NOT (${inner})`;
    }
    case "overlaps":
      if (rule.values.length === 0) return "FALSE";
      return `array_has_any(${rule.column}, make_array(${rule.values.map(principalLiteral).join(", ")}))`;
    case "atMost":
      if (!Number.isFinite(rule.value) || rule.value >= 2 ** 31 - 1) return "TRUE";
      return `${rule.column} <= ${Math.trunc(rule.value)}`;
  }
}

/** `document_id = …` for one id, `document_id IN (…)` for several. */
export function documentIdsWhere(documentIds: readonly string[]): string {
  return documentIds.length === 1 ? `document_id = ${sqlString(documentIds[0]!)}` : `document_id IN (${documentIds.map(sqlString).join(", ")})`;
}

/**
 * A search scope as the chunk table can test it: on the `source` column (folder prefix, type
 * suffix), on `tags` and `version_at` (chunk layout 3), or on document ids (what only SQLite
 * can decide: titles as shown, sources masked for the asker).
 */
export type ScopeClause =
  | { op: "ids"; ids: readonly string[] }
  | { op: "notIds"; ids: readonly string[] }
  | { op: "sourcePrefix"; prefix: string }
  /** The source, lower-cased, ends with one of these (".pdf"). */
  | { op: "sourceSuffix"; suffixes: readonly string[] }
  /** The document has this tag. */
  | { op: "tag"; tag: string }
  /** The live version was written in this range (ISO strings, inclusive, compared as strings). */
  | { op: "versionAt"; since?: string; until?: string }
  | { op: "all" | "any"; clauses: readonly ScopeClause[] };

/** Compiles a scope clause to a LanceDB filter; null means "no restriction". */
export function compileScope(clause: ScopeClause): string | null {
  const sql = compileClause(clause);
  return sql === "TRUE" ? null : sql;
}

function compileClause(c: ScopeClause): string {
  switch (c.op) {
    case "ids":
      return c.ids.length === 0 ? "FALSE" : documentIdsWhere(c.ids);
    case "notIds":
      return c.ids.length === 0 ? "TRUE" : `document_id NOT IN (${c.ids.map(sqlString).join(", ")})`;
    case "sourcePrefix":
      return c.prefix === "" ? "TRUE" : `starts_with(source, ${sqlString(c.prefix)})`;
    case "sourceSuffix":
      return c.suffixes.length === 0 ? "FALSE" : c.suffixes.map((x) => `ends_with(lower(source), ${sqlString(x.toLowerCase())})`).join(" OR ");
    case "tag":
      return `array_has(tags, ${sqlString(c.tag)})`;
    case "versionAt": {
      const parts = [c.since !== undefined ? `version_at >= ${sqlString(c.since)}` : null, c.until !== undefined ? `version_at <= ${sqlString(c.until)}` : null].filter((x) => x !== null);
      return parts.length === 0 ? "TRUE" : parts.join(" AND ");
    }
    case "all": {
      const parts = c.clauses.map(compileClause).filter((x) => x !== "TRUE");
      if (parts.includes("FALSE")) return "FALSE";
      return parts.length === 0 ? "TRUE" : parts.map((x) => `(${x})`).join(" AND ");
    }
    case "any": {
      const parts = c.clauses.map(compileClause).filter((x) => x !== "FALSE");
      if (parts.includes("TRUE")) return "TRUE";
      return parts.length === 0 ? "FALSE" : parts.map((x) => `(${x})`).join(" OR ");
    }
  }
}

/** Both filters (null: no restriction). */
export function andFilters(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return `(${a}) AND (${b})`;
}
