/**
 * SCIM filters (RFC 7644 §3.4.2.2), parsed by scim2-parse-filter and evaluated here against a
 * resource's JSON, with SCIM's rules: attribute names are case-insensitive, string comparisons
 * ignore case except for `caseExact` attributes (`id`, `externalId`), and a multi-valued
 * attribute matches when any of its values does.
 */
import { parse, type Filter } from "scim2-parse-filter";
import { getAttr, isObject, splitUrn, type Json } from "./attributes.ts";
import { ScimError } from "./errors.ts";

export type { Filter } from "scim2-parse-filter";

/** Longest filter accepted (a filter is evaluated against every resource of its type). */
export const MAX_FILTER_LENGTH = 4096;

const CASE_EXACT = new Set(["id", "externalid"]);

export function parseFilter(text: string): Filter {
  if (text.length > MAX_FILTER_LENGTH) throw new ScimError(400, "invalidFilter", `filter longer than ${MAX_FILTER_LENGTH} characters`);
  let f: Filter;
  try {
    f = parse(text);
  } catch (err) {
    throw new ScimError(400, "invalidFilter", `invalid filter ${JSON.stringify(text)}: ${(err as Error).message}`);
  }
  check(f, text);
  return f;
}

/** The parser accepts some things the grammar does not (an operator's operand of the wrong kind). */
function check(f: Filter, text: string): void {
  const bad = (why: string) => new ScimError(400, "invalidFilter", `invalid filter ${JSON.stringify(text)}: ${why}`);
  switch (f.op) {
    case "and":
    case "or":
      for (const g of f.filters) check(g, text);
      return;
    case "not":
      return check(f.filter, text);
    case "[]":
      if (!/^[A-Za-z][\w$-]*$/.test(f.attrPath.split(":").pop() ?? "")) throw bad(`bad attribute path "${f.attrPath}"`);
      return check(f.valFilter, text);
    case "pr":
      if (!f.attrPath) throw bad("pr needs an attribute");
      return;
    default: {
      if (!["eq", "ne", "co", "sw", "ew", "gt", "lt", "ge", "le"].includes(f.op)) throw bad(`unknown operator "${f.op}"`);
      const v = f.compValue;
      if (v !== null && !["string", "number", "boolean"].includes(typeof v)) throw bad("comparison value must be a string, number, boolean or null");
      if (["co", "sw", "ew"].includes(f.op) && typeof v !== "string") throw bad(`${f.op} needs a string`);
      if (["gt", "lt", "ge", "le"].includes(f.op) && (typeof v === "boolean" || v === null)) throw bad(`${f.op} needs a string or number`);
    }
  }
}

/** The values a path reaches in `r` (arrays flattened), `coreSchema` prefixes dropped. */
export function valuesAt(r: Json, attrPath: string, coreSchema: string): Json[] {
  const { urn, rest } = splitUrn(attrPath, coreSchema);
  let current: Json[] = [r];
  if (urn !== undefined) current = current.flatMap((x) => (isObject(x) ? [getAttr(x, urn)] : [])).filter((x): x is Json => x !== undefined);
  for (const part of rest ? rest.split(".") : []) {
    const next: Json[] = [];
    for (const x of current.flatMap((c) => (Array.isArray(c) ? c : [c]))) {
      if (!isObject(x)) continue;
      const v = getAttr(x, part);
      if (v !== undefined) next.push(v);
    }
    current = next;
  }
  return current.flatMap((c) => (Array.isArray(c) ? c : [c]));
}

const lastName = (attrPath: string) => (attrPath.split(":").pop() ?? "").split(".").pop()!.toLowerCase();

function compare(op: string, actual: Json, expected: string | number | boolean | null, caseExact: boolean): boolean {
  // A complex value (emails, members) is compared by its `value` sub-attribute.
  if (isObject(actual)) actual = getAttr(actual, "value") ?? null;
  if (expected === null) return op === "eq" ? actual === null : op === "ne" ? actual !== null : false;
  if (typeof actual === "string" && typeof expected === "string") {
    const a = caseExact ? actual : actual.toLowerCase();
    const e = caseExact ? expected : expected.toLowerCase();
    switch (op) {
      case "eq":
        return a === e;
      case "ne":
        return a !== e;
      case "co":
        return a.includes(e);
      case "sw":
        return a.startsWith(e);
      case "ew":
        return a.endsWith(e);
      case "gt":
        return a > e;
      case "ge":
        return a >= e;
      case "lt":
        return a < e;
      case "le":
        return a <= e;
    }
    return false;
  }
  if (typeof actual === "number" && typeof expected === "number") {
    switch (op) {
      case "eq":
        return actual === expected;
      case "ne":
        return actual !== expected;
      case "gt":
        return actual > expected;
      case "ge":
        return actual >= expected;
      case "lt":
        return actual < expected;
      case "le":
        return actual <= expected;
    }
    return false;
  }
  if (typeof actual === "boolean" && typeof expected === "boolean") return op === "eq" ? actual === expected : op === "ne" ? actual !== expected : false;
  return op === "ne";
}

/** True when resource `r` matches `f`. */
export function matches(r: Json, f: Filter, coreSchema: string): boolean {
  switch (f.op) {
    case "and":
      return f.filters.every((g) => matches(r, g, coreSchema));
    case "or":
      return f.filters.some((g) => matches(r, g, coreSchema));
    case "not":
      return !matches(r, f.filter, coreSchema);
    case "[]":
      return valuesAt(r, f.attrPath, coreSchema).some((el) => matches(el, f.valFilter, coreSchema));
    case "pr":
      return valuesAt(r, f.attrPath, coreSchema).some((v) => v !== null && v !== "" && !(isObject(v) && Object.keys(v).length === 0));
    default: {
      const values = valuesAt(r, f.attrPath, coreSchema);
      const caseExact = CASE_EXACT.has(lastName(f.attrPath)) && !f.attrPath.includes(".");
      if (values.length === 0) return f.op === "ne" || (f.op === "eq" && f.compValue === null);
      return f.op === "ne" ? values.every((v) => compare("ne", v, f.compValue, caseExact)) : values.some((v) => compare(f.op, v, f.compValue, caseExact));
    }
  }
}

/**
 * `attr eq "value"` on one of `attrs` (userName, externalId …), the IdPs' lookups, which an index
 * answers without reading every resource; null for any other filter.
 */
export function simpleEquality(f: Filter, attrs: readonly string[], coreSchema: string): { attr: string; value: string } | null {
  if (f.op !== "eq" || typeof f.compValue !== "string") return null;
  const { urn, rest } = splitUrn(f.attrPath, coreSchema);
  if (urn !== undefined) return null;
  const attr = attrs.find((a) => a.toLowerCase() === rest.toLowerCase());
  return attr ? { attr, value: f.compValue } : null;
}
