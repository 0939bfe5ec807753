/**
 * The audit log's hash chain: each row stores SHA-256 of (the previous row's hash + its own
 * canonical content), so changing, inserting or deleting a row breaks every later link until
 * someone recomputes them all (forwarding to a SIEM keeps a copy of the hashes out of reach).
 * The canonical form is the same for every store (SQLite here; a PostgreSQL store must use it
 * too), independent of how a store orders JSON keys:
 *
 *   hash = sha256hex(canonicalJson([prev, id, at, actor, action, target, outcome, detailsDigest]))
 *
 * `prev` is the previous row's hash; for the first row, the anchor (the hash of the last row a
 * retention purge removed) or GENESIS. `detailsDigest` is sha256hex(canonicalJson(details)) (null
 * for no details), or, for a row whose details a document erasure scrubbed, the digest of the
 * original details that the scrub kept in `details[ERASED_DIGEST]` (verify reports such rows).
 */
import { createHash } from "node:crypto";

/** Settings key of the chain's anchor: the last row a retention purge removed. */
export const AUDIT_ANCHOR_KEY = "audit.chain_anchor";

/** The `prev` of the very first row. */
export const GENESIS = "0".repeat(64);
/** The details key under which an erasure keeps the digest of the details it scrubbed. */
export const ERASED_DIGEST = "_erasedDigest";

/** JSON with object keys sorted at every depth (arrays keep their order). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/** The digest of a row's details as the chain covers it (see the file's comment). */
export function detailsDigest(details: Record<string, unknown> | null): string | null {
  if (details === null) return null;
  const erased = details[ERASED_DIGEST];
  if (typeof erased === "string") return erased;
  return sha256(canonicalJson(details));
}

export interface ChainedRow {
  id: number;
  at: string;
  actor: string | null;
  action: string;
  target: string | null;
  outcome: string;
  details: Record<string, unknown> | null;
}

export function auditRowHash(prev: string, row: ChainedRow): string {
  return sha256(canonicalJson([prev, row.id, row.at, row.actor, row.action, row.target, row.outcome, detailsDigest(row.details)]));
}

/**
 * The row an append stores for `event` as row `id` (the time is now): what it will read back, so
 * its hash is computed before the insert (details as JSON keeps them: no undefined, dates as strings).
 */
export function newChainedRow(id: number, event: { actor?: string | null; action: string; target?: string | null; outcome?: string; details?: Record<string, unknown> | null }): ChainedRow {
  return {
    id,
    at: new Date().toISOString(),
    actor: event.actor ?? null,
    action: event.action,
    target: event.target ?? null,
    outcome: event.outcome ?? "ok",
    details: event.details == null ? null : (JSON.parse(JSON.stringify(event.details)) as Record<string, unknown>),
  };
}
