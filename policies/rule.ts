/**
 * A tiny rule language for row-level access. A rule is data, and it has two interpreters:
 * `evaluate` (decide for one document in memory: document routes, `policy explain`) and
 * `toLanceFilter` (the SQL `where` that LanceDB applies inside every search). Because both
 * read the same rule, the route guard and the retrieval filter cannot disagree.
 */
type RuleNode =
  | { op: "true" }
  | { op: "false" }
  | { op: "all"; rules: Rule[] }
  | { op: "any"; rules: Rule[] }
  | { op: "not"; rule: Rule }
  /** The list column shares at least one value with `values`. */
  | { op: "overlaps"; column: "allow" | "deny"; values: string[] }
  /** The integer column is at most `value`. */
  | { op: "atMost"; column: "classification"; value: number };

/** A rule node, optionally labelled with why it exists (read by `explain`; the other interpreters ignore it). */
export type Rule = RuleNode & { because?: string };

/** The fields of a document (or chunk row) that rules can read. */
export interface AccessFields {
  allow: readonly string[];
  deny: readonly string[];
  classification: number;
}

export const all = (...rules: Rule[]): Rule => ({ op: "all", rules });
export const not = (rule: Rule): Rule => ({ op: "not", rule });
export const overlaps = (column: "allow" | "deny", values: string[]): Rule => ({ op: "overlaps", column, values });
export const atMost = (column: "classification", value: number): Rule => ({ op: "atMost", column, value });
export const always: Rule = { op: "true" };
export const never: Rule = { op: "false" };
/** Labels a rule with the reason it exists, for `explain`. */
export const because = (reason: string, rule: Rule): Rule => ({ ...rule, because: reason });

export function evaluate(rule: Rule, row: AccessFields): boolean {
  switch (rule.op) {
    case "true":
      return true;
    case "false":
      return false;
    case "all":
      return rule.rules.every((r) => evaluate(r, row));
    case "any":
      return rule.rules.some((r) => evaluate(r, row));
    case "not":
      return !evaluate(rule.rule, row);
    case "overlaps": {
      const have = row[rule.column];
      return rule.values.some((v) => have.includes(v));
    }
    case "atMost":
      return row[rule.column] <= rule.value;
  }
}

const PRINCIPAL = /^[\p{L}\p{N}:._@-]+$/u;

function literal(value: string): string {
  // Principals are validated at creation; this is defence in depth for the SQL string.
  if (!PRINCIPAL.test(value)) throw new Error(`invalid principal in access rule: ${JSON.stringify(value)}`);
  return `'${value.replaceAll("'", "''")}'`;
}

/** Compiles a rule to a LanceDB (DataFusion SQL) filter; null means "no restriction". */
export function toLanceFilter(rule: Rule): string | null {
  const sql = compile(rule);
  return sql === "TRUE" ? null : sql;
}

function compile(rule: Rule): string {
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
      return `array_has_any(${rule.column}, make_array(${rule.values.map(literal).join(", ")}))`;
    case "atMost":
      if (!Number.isFinite(rule.value) || rule.value >= 2 ** 31 - 1) return "TRUE";
      return `${rule.column} <= ${Math.trunc(rule.value)}`;
  }
}

/**
 * The third interpreter: decides like `evaluate` and says why. Every node reports its result,
 * its label (`because`), what it tested and the values that decided it (for `overlaps`, the
 * values the row shares with the rule; for `atMost`, the row's value and the limit).
 * `explain(rule, row).result === evaluate(rule, row)` always holds (tested).
 */
export interface Explanation {
  result: boolean;
  op: RuleNode["op"];
  because?: string;
  /** The test in words, e.g. `allow ∩ {user:kim, group:hr} = {group:hr}`. */
  test: string;
  /** overlaps: the shared values; atMost: [row value, limit]. */
  matched?: (string | number)[];
  /** For all/any/not: the children, every one evaluated (no short-circuit, so all evidence is shown). */
  children?: Explanation[];
}

export function explain(rule: Rule, row: AccessFields): Explanation {
  const label = rule.because !== undefined ? { because: rule.because } : {};
  switch (rule.op) {
    case "true":
      return { result: true, op: rule.op, ...label, test: "always" };
    case "false":
      return { result: false, op: rule.op, ...label, test: "never" };
    case "all": {
      const children = rule.rules.map((r) => explain(r, row));
      return { result: children.every((c) => c.result), op: rule.op, ...label, test: `all of ${children.length}`, children };
    }
    case "any": {
      const children = rule.rules.map((r) => explain(r, row));
      return { result: children.some((c) => c.result), op: rule.op, ...label, test: `any of ${children.length}`, children };
    }
    case "not": {
      const inner = explain(rule.rule, row);
      return { result: !inner.result, op: rule.op, ...label, test: "not", children: [inner] };
    }
    case "overlaps": {
      const have = row[rule.column];
      const shared = rule.values.filter((v) => have.includes(v));
      return {
        result: shared.length > 0,
        op: rule.op,
        ...label,
        test: `${rule.column} ∩ {${rule.values.join(", ")}} = {${shared.join(", ")}}`,
        matched: shared,
      };
    }
    case "atMost": {
      const value = row[rule.column];
      const limit = Number.isFinite(rule.value) ? rule.value : Infinity;
      return { result: value <= rule.value, op: rule.op, ...label, test: `${rule.column} ${value} ≤ ${limit}`, matched: [value, rule.value] };
    }
  }
}
