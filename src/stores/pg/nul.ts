/**
 * U+0000 on PostgreSQL. SQLite's text holds it; PostgreSQL's text refuses it ("invalid byte
 * sequence for encoding UTF8: 0x00") and so does jsonb (the `\u0000` escape: "unsupported
 * Unicode escape sequence"). Left alone, a search query, a question, a file name or a chat
 * message with one fails with a 500 on PostgreSQL only: the audit event (or the row) cannot be
 * written. The PostgreSQL store therefore drops U+0000 from every value it writes, at one place:
 * the connections' `query` (NulFreeClient, the pool's client class in db.ts), so statements
 * built by drizzle, raw SQL and the backup's restore are all covered. A value read back lacks
 * the character; nothing else changes. Audit rows are hashed after the same cleaning
 * (small-repos.ts), so the chain verifies over what was stored.
 */
import pg from "pg";

const NUL = "\u0000";
/** The JSON escape of U+0000, as JSON.stringify writes it (jsonb parameters are JSON text). */
const NUL_ESCAPE = "\\u0000";

export function withoutNul(s: string): string {
  return s.includes(NUL) ? s.replaceAll(NUL, "") : s;
}

/** `v` with U+0000 dropped from every string in it (object keys included); other values as they are. */
export function withoutNulDeep<T>(v: T): T {
  if (typeof v === "string") return withoutNul(v) as T;
  if (Array.isArray(v)) return v.map((x) => withoutNulDeep(x)) as T;
  if (v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [withoutNul(k), withoutNulDeep(x)])) as T;
  }
  return v;
}

/**
 * A query parameter fit for PostgreSQL: U+0000 dropped from text, and from JSON text (a jsonb
 * value arrives as JSON.stringify's output) whose escapes hold one.
 */
export function nulFreeParameter(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(nulFreeParameter);
  if (typeof v !== "string") return v;
  const s = withoutNul(v);
  if (!s.includes(NUL_ESCAPE)) return s;
  let parsed: unknown;
  try {
    parsed = JSON.parse(s);
  } catch {
    return s; // not JSON: the six characters are text, which PostgreSQL stores
  }
  return JSON.stringify(withoutNulDeep(parsed));
}

/** node-postgres' Client whose every query's parameters go through nulFreeParameter. */
export class NulFreeClient extends pg.Client {}

const baseQuery = pg.Client.prototype.query as (...args: unknown[]) => unknown;
// Patched on the prototype rather than overridden: `query` has many overloads, one body serves all.
NulFreeClient.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const [config, values] = args;
  if (Array.isArray(values)) {
    args[1] = values.map(nulFreeParameter);
  } else if (config !== null && typeof config === "object" && typeof (config as { submit?: unknown }).submit !== "function" && Array.isArray((config as { values?: unknown }).values)) {
    args[0] = { ...config, values: (config as { values: unknown[] }).values.map(nulFreeParameter) };
  }
  return baseQuery.apply(this, args);
} as pg.Client["query"];
