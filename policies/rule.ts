/**
 * A tiny rule language for row-level access. A rule is data, and it has three interpreters:
 * `evaluate` (decide for one document in memory: document routes), `explain` (the same decision
 * with its reasons: `kb policy explain`) and the chunk store's compiler to the SQL `where` that
 * LanceDB applies inside every search (src/stores/lance/filter.ts: `compileAccessRule`). Because
 * all read the same rule, the route guard and the retrieval filter cannot disagree.
 *
 * The rule's data type lives with the access triple in src/stores/access.ts, the lowest layer
 * that both this file and the store's compiler import, so policies need not know the store's
 * query language and the store need not import policies.
 */
import type { Access, AccessRule } from "../src/stores/access.ts";

export type { Access };
export type Rule = AccessRule;

export const all = (...rules: Rule[]): Rule => ({ op: "all", rules });
export const not = (rule: Rule): Rule => ({ op: "not", rule });
export const overlaps = (column: "allow" | "deny", values: string[]): Rule => ({ op: "overlaps", column, values });
export const atMost = (column: "classification", value: number): Rule => ({ op: "atMost", column, value });
export const always: Rule = { op: "true" };
export const never: Rule = { op: "false" };
/** Labels a rule with the reason it exists, for `explain`. */
export const because = (reason: string, rule: Rule): Rule => ({ ...rule, because: reason });

export function evaluate(rule: Rule, row: Access): boolean {
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

/**
 * The interpreter that explains: decides like `evaluate` and says why. Every node reports its result,
 * its label (`because`), what it tested and the values that decided it (for `overlaps`, the
 * values the row shares with the rule; for `atMost`, the row's value and the limit).
 * `explain(rule, row).result === evaluate(rule, row)` always holds (tested).
 */
export interface Explanation {
  result: boolean;
  op: Rule["op"];
  because?: string;
  /** The test in words, e.g. `allow ∩ {user:kim, group:hr} = {group:hr}`. */
  test: string;
  /** overlaps: the shared values; atMost: [row value, limit]. */
  matched?: (string | number)[];
  /** For all/any/not: the children, every one evaluated (no short-circuit, so all evidence is shown). */
  children?: Explanation[];
}

export function explain(rule: Rule, row: Access): Explanation {
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
