/**
 * Records what happened, by whom, for the append-only audit log; reads it for admins; applies
 * retention. Events are stored as they happened (queries, questions, paths, titles verbatim);
 * what a reader is shown passes the same personal-data redactor as document text, so a reader
 * without view_sensitive (e.g. the example `auditor` role) sees every string of an event masked.
 */
import { authorize, Audit, mustMask, type Actor } from "../../policies/index.ts";
import { isGeneratedId } from "../stores/ids.ts";
import { auditRowHash, ERASED_DIGEST, GENESIS } from "../stores/audit-chain.ts";
import type { AuditChainAnchor, AuditQuery, AuditRow, AuditStore } from "../stores/metadata.ts";
import type { AuditForwarder } from "./audit-forward.ts";
import { redactorFor } from "./sensitive.ts";

const DAY_MS = 86_400_000;
/** Longest stored target, in UTF-8 bytes: targets can come from request paths of any length. */
export const MAX_TARGET_BYTES = 1024;

/** `s` cut to at most `maxBytes` UTF-8 bytes (ending in "…" when cut), never inside a character. */
export function truncateUtf8(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s) <= maxBytes) return s;
  const budget = maxBytes - 3; // the ellipsis is 3 bytes
  let bytes = 0;
  let end = 0;
  for (const ch of s) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > budget) break;
    bytes += n;
    end += ch.length;
  }
  return `${s.slice(0, end)}…`;
}

/** What `kb audit verify` found. */
export interface AuditVerification {
  ok: boolean;
  /** Rows checked (up to the first broken one). */
  checked: number;
  /** The last purge's anchor the chain started from, or null (the chain starts at GENESIS). */
  anchor: AuditChainAnchor | null;
  /** The last row checked and its hash (compare with the SIEM's copy: a truncated tail is only visible there). */
  last: { id: number; hash: string } | null;
  /** Rows whose details an erasure scrubbed (their original details' digest is kept): ids. */
  erased: number[];
  /** The first row that does not chain, and why. */
  broken?: { id: number; reason: string };
}

export class AuditLog {
  constructor(
    private readonly repo: AuditStore,
    private readonly forwarder: AuditForwarder | null = null,
  ) {}

  async record(actor: Actor | string | null, action: string, target: string | null, details?: Record<string, unknown>, outcome: "ok" | "denied" | "error" | "warning" = "ok"): Promise<void> {
    const who = actor === null ? null : typeof actor === "string" ? actor : `user:${actor.name}`;
    if (target !== null && Buffer.byteLength(target) > MAX_TARGET_BYTES) {
      details = { ...details, targetBytes: Buffer.byteLength(target) };
      target = truncateUtf8(target, MAX_TARGET_BYTES);
    }
    const row = await this.repo.append({ actor: who, action, target, details: details ?? null, outcome });
    this.forwarder?.enqueue(row);
  }

  /**
   * A refused request (403), from the HTTP error handler: who tried what, where. 401s are
   * recorded by AuthFailureLog. Never throws: auditing must not turn a 403 into a 500.
   */
  async recordDenied(actor: Actor | null, request: string, details: Record<string, unknown>, action = "access.denied"): Promise<void> {
    try {
      await this.record(actor, action, request, details, "denied");
    } catch {
      // The refusal is still answered; the database error surfaces on the next write.
    }
  }

  get repository(): AuditStore {
    return this.repo;
  }

  /** A page of events, newest first; `nextBefore` continues the listing (null at the end). */
  async query(actor: Actor, q: AuditQuery): Promise<{ items: AuditRow[]; nextBefore: number | null }> {
    authorize(actor, "read", Audit, null);
    const limit = Math.min(Math.max(q.limit ?? 100, 1), 1000);
    const items = await this.repo.query({ ...q, limit });
    const shown = auditRedactor(actor);
    return { items: items.map(shown), nextBefore: items.length === limit ? items.at(-1)!.id : null };
  }

  /**
   * Every matching event, newest first, in pages (for JSONL/CSV export), at most `max` of them;
   * the export itself is audited (with its format when given).
   */
  async *export(actor: Actor, q: Omit<AuditQuery, "limit" | "before">, pageSize = 1000, options: { max?: number; format?: string } = {}): AsyncGenerator<AuditRow> {
    authorize(actor, "export", Audit, null);
    await this.record(actor, "audit.export", null, { filters: q, ...(options.format ? { format: options.format } : {}), ...(options.max !== undefined ? { max: options.max } : {}) });
    const shown = auditRedactor(actor);
    let left = options.max ?? Number.POSITIVE_INFINITY;
    let before: number | undefined;
    while (left > 0) {
      const page = await this.repo.query({ ...q, before, limit: Math.min(pageSize, left) });
      yield* page.map(shown);
      left -= page.length;
      if (page.length < pageSize) return;
      before = page.at(-1)!.id;
    }
  }

  /** Deletes events older than `days` days (0 keeps everything); returns how many. */
  async purgeOlderThan(days: number, now = Date.now()): Promise<number> {
    if (days <= 0) return 0;
    const cutoff = new Date(now - days * DAY_MS).toISOString();
    const n = await this.repo.purgeBefore(cutoff);
    // The anchor is recorded in the chain too, so the purge itself is tamper-evident.
    if (n > 0) await this.record("system", "audit.purge", null, { before: cutoff, deleted: n, retentionDays: days, anchor: await this.repo.chainAnchor() });
    return n;
  }

  /**
   * Checks the whole hash chain (stores/audit-chain.ts) from the anchor of the last purge (or the
   * genesis) to the newest row; names the first row that does not chain. A changed row breaks at
   * itself; a deleted row breaks at the row after it. Rows cut off the end are not visible here:
   * compare `last` with the forwarded copy (KB_AUDIT_FORWARD).
   */
  async verify(actor: Actor, pageSize = 5000): Promise<AuditVerification> {
    authorize(actor, "verify", Audit, null);
    const result = await this.walkChain(pageSize);
    await this.record(actor, "audit.verify", null, { ok: result.ok, checked: result.checked, lastId: result.last?.id ?? null, ...(result.broken ? { broken: result.broken } : {}) }, result.ok ? "ok" : "warning");
    return result;
  }

  private async walkChain(pageSize: number): Promise<AuditVerification> {
    const anchor = await this.repo.chainAnchor();
    let prev = anchor?.hash ?? GENESIS;
    let prevId = anchor?.id ?? 0;
    let last: AuditVerification["last"] = null;
    const erased: number[] = [];
    let checked = 0;
    let after = 0;
    for (;;) {
      const page = await this.repo.chain(after, pageSize);
      for (const row of page) {
        const missing = row.id > prevId + 1 ? ` (rows ${prevId + 1}${row.id - 1 > prevId + 1 ? `–${row.id - 1}` : ""} are missing)` : "";
        if (row.hash === null) return { ok: false, checked, anchor, last, erased, broken: { id: row.id, reason: `the row has no hash${missing}` } };
        if (auditRowHash(prev, row) !== row.hash) {
          const reason = missing ? `it does not chain to the row before it${missing}` : "its content or hash was changed";
          return { ok: false, checked, anchor, last, erased, broken: { id: row.id, reason } };
        }
        if (row.details && typeof row.details[ERASED_DIGEST] === "string") erased.push(row.id);
        prev = row.hash;
        prevId = row.id;
        last = { id: row.id, hash: row.hash };
        checked++;
      }
      if (page.length < pageSize) break;
      after = page.at(-1)!.id;
    }
    return { ok: true, checked, anchor, last, erased };
  }

  /** Chains rows written before the chain existed (the first start after the upgrade); how many. */
  sealUnhashed(): Promise<number> {
    return this.repo.sealUnhashed();
  }

  /** Sends what is queued for KB_AUDIT_FORWARD and closes its connection. */
  async close(): Promise<void> {
    await this.forwarder?.close();
  }

  /** Purges now and then daily (the timer does not keep the process alive). Returns a stop function. */
  startRetention(days: number, log?: (msg: string) => void): () => void {
    if (days <= 0) return () => {};
    const run = async () => {
      try {
        const n = await this.purgeOlderThan(days);
        if (n > 0) log?.(`audit retention: purged ${n} events older than ${days} days`);
      } catch (err) {
        log?.(`audit retention failed: ${String(err)}`);
      }
    };
    void run(); // never rejects: a failure is logged
    const timer = setInterval(() => void run(), DAY_MS);
    timer.unref();
    return () => clearInterval(timer);
  }
}

/**
 * How `reader` is shown an event: every string in it (actor, target, and every string at any
 * depth of `details`) masked for readers without view_sensitive; unchanged for the others.
 * Ids we generate are left alone: they are random, and the detector would now and then take a
 * run of their hex digits for a number (about 1 chunk id in 750).
 */
export function auditRedactor(reader: Actor): (row: AuditRow) => AuditRow {
  const redact = redactorFor(reader);
  const text = (s: string) => (isGeneratedId(s) ? s : redact(s));
  const deep = (v: unknown): unknown => {
    if (typeof v === "string") return text(v);
    if (Array.isArray(v)) return v.map(deep);
    if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, deep(x)]));
    return v;
  };
  if (!mustMask(reader)) return (row) => row;
  return (row) => ({
    ...row,
    actor: row.actor === null ? null : text(row.actor),
    target: row.target === null ? null : text(row.target),
    details: row.details === null ? null : (deep(row.details) as AuditRow["details"]),
  });
}

/** One JSON object per line, as exported. */
export function auditJsonLine(row: AuditRow): string {
  return `${JSON.stringify({ id: row.id, at: row.at, actor: row.actor, action: row.action, target: row.target, outcome: row.outcome, details: row.details })}\n`;
}

export const AUDIT_CSV_COLUMNS = ["id", "at", "actor", "action", "target", "outcome", "details"] as const;

/**
 * One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. A text starting
 * with = + - @ or a tab/CR is prefixed with ' so a spreadsheet does not run it as a formula
 * (audit events hold user input: queries, titles, paths).
 */
export function csvField(value: string | number | null): string {
  if (value === null) return "";
  let s = String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** One CSV row, as exported (details as JSON text); rows end in CRLF. */
export function auditCsvLine(row: AuditRow): string {
  return `${[row.id, row.at, row.actor, row.action, row.target, row.outcome, row.details === null ? null : JSON.stringify(row.details)].map(csvField).join(",")}\r\n`;
}

/** The CSV header row. */
export const AUDIT_CSV_HEADER = `${AUDIT_CSV_COLUMNS.join(",")}\r\n`;
