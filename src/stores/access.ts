/**
 * The vocabulary of row-level access that every layer shares, kept in the lowest layer that
 * needs it so that no layer has to import a higher one:
 *  - `Access`: the access triple each document and each of its chunk rows carries;
 *  - `AccessRule`: a predicate over those columns, as data. Policies build it and interpret it
 *    in memory (policies/rule.ts: `evaluate`, `explain`); the chunk store compiles it into its
 *    own query language (lance/filter.ts). Neither imports the other: both import this file.
 *  - `accessSignature`: the one text form of an access triple, compared by re-embed catch-up and
 *    consistency repair (what a table holds against what SQLite says).
 */

/** Who may read a document: allowed principals, denied principals (deny wins), classification level. */
export interface Access {
  allow: string[];
  deny: string[];
  classification: number;
}

/** The list columns of `Access` (`overlaps`) and its integer column (`atMost`). */
export type AccessListColumn = "allow" | "deny";
export type AccessLevelColumn = "classification";

type AccessRuleNode =
  | { op: "true" }
  | { op: "false" }
  | { op: "all"; rules: AccessRule[] }
  | { op: "any"; rules: AccessRule[] }
  | { op: "not"; rule: AccessRule }
  /** The list column shares at least one value with `values`. */
  | { op: "overlaps"; column: AccessListColumn; values: string[] }
  /** The integer column is at most `value`. */
  | { op: "atMost"; column: AccessLevelColumn; value: number };

/** A rule node, optionally labelled with why it exists (read by `explain`; the other interpreters ignore it). */
export type AccessRule = AccessRuleNode & { because?: string };

/** The text form of an access triple (lists in stored order): equal access, equal signature. */
export function accessSignature(access: Access): string {
  return `${access.allow.join(",")}|${access.deny.join(",")}|${access.classification}`;
}
