/**
 * Records what happened, by whom, for the append-only audit log; reads it for admins; applies
 * retention. Events are stored as they happened (queries, questions, paths, titles verbatim);
 * what a reader is shown passes the same personal-data redactor as document text, so a reader
 * without view_sensitive (e.g. the example `auditor` role) sees every string of an event masked.
 */
import { authorize, Audit, mustMask, type Actor } from "../../policies/index.ts";
import { isGeneratedId } from "../stores/ids.ts";
import type { AuditQuery, AuditRow, AuditStore } from "../stores/metadata.ts";
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

export class AuditLog {
  constructor(private readonly repo: AuditStore) {}

  async record(actor: Actor | string | null, action: string, target: string | null, details?: Record<string, unknown>, outcome: "ok" | "denied" | "error" | "warning" = "ok"): Promise<void> {
    const who = actor === null ? null : typeof actor === "string" ? actor : `user:${actor.name}`;
    if (target !== null && Buffer.byteLength(target) > MAX_TARGET_BYTES) {
      details = { ...details, targetBytes: Buffer.byteLength(target) };
      target = truncateUtf8(target, MAX_TARGET_BYTES);
    }
    await this.repo.append({ actor: who, action, target, details: details ?? null, outcome });
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
    if (n > 0) await this.record("system", "audit.purge", null, { before: cutoff, deleted: n, retentionDays: days });
    return n;
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
