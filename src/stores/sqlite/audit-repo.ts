/**
 * The append-only audit log, hash-chained (../audit-chain.ts). Synchronous underneath; services
 * use it as metadata.ts's AuditStore (metadata-store.ts).
 *
 * An append reads the last row's hash, inserts, and stores the new row's hash in one IMMEDIATE
 * transaction (a savepoint inside an open one): better-sqlite3 runs it without yielding, and the
 * write lock keeps another process (`kb worker`, a CLI command) from appending in between, so
 * the chain never forks.
 */
import { and, asc, desc, eq, gt, gte, isNotNull, lt, lte, sql, type SQL } from "drizzle-orm";
import { AUDIT_ANCHOR_KEY, auditRowHash, GENESIS, newChainedRow } from "../audit-chain.ts";
import type { AuditChainAnchor, AuditChainRow, AuditQuery, AuditRow, NewAuditEvent } from "../metadata.ts";
import type { Db } from "./db.ts";
import { auditEvents } from "./schema.ts";
import { SettingsRepo } from "./settings-repo.ts";

export type { AuditQuery, AuditRow, NewAuditEvent } from "../metadata.ts";

export { AUDIT_ANCHOR_KEY };

/** What readers get (the hash is for verification). */
const ROW_COLUMNS = {
  id: auditEvents.id,
  at: auditEvents.at,
  actor: auditEvents.actor,
  action: auditEvents.action,
  target: auditEvents.target,
  outcome: auditEvents.outcome,
  details: auditEvents.details,
};

export class AuditRepo {
  private readonly settings: SettingsRepo;

  constructor(private readonly db: Db) {
    this.settings = new SettingsRepo(db);
  }

  /**
   * Appends one event and chains it; the stored row with its hash. The id (AUTOINCREMENT: one
   * past the largest ever used, which sqlite_sequence keeps), the time and the hash are known
   * before the insert, so the row is written once, whole.
   */
  append(event: NewAuditEvent): AuditChainRow & { hash: string } {
    return this.db.$client
      .transaction(() => {
        let last = this.lastRow();
        if (last && last.hash === null) {
          this.sealTail();
          last = this.lastRow();
        }
        const prev = last ? last.hash! : (this.chainAnchor()?.hash ?? GENESIS);
        const used = (this.db.$client.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'audit_events'").get() as { seq: number } | undefined)?.seq ?? 0;
        const row = newChainedRow(Math.max(used, last?.id ?? 0) + 1, event) as Omit<AuditChainRow, "hash">;
        const hash = auditRowHash(prev, row);
        this.db.insert(auditEvents).values({ ...row, hash }).run();
        return { ...row, hash };
      })
      .immediate();
  }

  private lastRow(): { id: number; hash: string | null } | undefined {
    return this.db.select({ id: auditEvents.id, hash: auditEvents.hash }).from(auditEvents).orderBy(desc(auditEvents.id)).limit(1).get();
  }

  /**
   * Seals the rows after the last hashed one (rows written before the chain existed, on the
   * first start after the upgrade; rows someone inserted by hand). Rows before a hashed row are
   * never re-sealed: a hash removed there is a break that verification reports.
   */
  private sealTail(): number {
    const last = this.db.select({ hash: auditEvents.hash }).from(auditEvents).orderBy(desc(auditEvents.id)).limit(1).get();
    if (!last || last.hash !== null) return 0;
    const sealed = this.db.select({ id: auditEvents.id, hash: auditEvents.hash }).from(auditEvents).where(isNotNull(auditEvents.hash)).orderBy(desc(auditEvents.id)).limit(1).get();
    let prev = sealed?.hash ?? this.chainAnchor()?.hash ?? GENESIS;
    let after = sealed?.id ?? 0;
    let n = 0;
    for (;;) {
      const rows = this.db.select().from(auditEvents).where(gt(auditEvents.id, after)).orderBy(asc(auditEvents.id)).limit(1000).all() as AuditChainRow[];
      if (rows.length === 0) return n;
      for (const row of rows) {
        prev = auditRowHash(prev, row);
        this.db.update(auditEvents).set({ hash: prev }).where(eq(auditEvents.id, row.id)).run();
        after = row.id;
        n++;
      }
    }
  }

  /** Seals rows written before the chain existed (see sealTail); how many. */
  sealUnhashed(): number {
    return this.db.$client.transaction(() => this.sealTail()).immediate();
  }

  /** Rows after `afterId` in chain order, with their hashes (verification). */
  chain(afterId: number, limit: number): AuditChainRow[] {
    return this.db.select().from(auditEvents).where(gt(auditEvents.id, afterId)).orderBy(asc(auditEvents.id)).limit(limit).all() as AuditChainRow[];
  }

  /** The last row a retention purge removed (its id and hash), or null. */
  chainAnchor(): AuditChainAnchor | null {
    return this.settings.get<AuditChainAnchor>(AUDIT_ANCHOR_KEY) ?? null;
  }

  query(q: AuditQuery): AuditRow[] {
    const where: SQL[] = [];
    if (q.actor) where.push(eq(auditEvents.actor, q.actor));
    if (q.action) {
      const prefix = q.action.endsWith("*") ? q.action.slice(0, -1) : q.action.endsWith(".") ? q.action : null;
      where.push(prefix !== null ? sql`substr(${auditEvents.action}, 1, ${prefix.length}) = ${prefix}` : eq(auditEvents.action, q.action));
    }
    if (q.target) where.push(eq(auditEvents.target, q.target));
    if (q.outcome) where.push(eq(auditEvents.outcome, q.outcome));
    if (q.since) where.push(gte(auditEvents.at, q.since));
    if (q.until) where.push(lte(auditEvents.at, q.until));
    if (q.before) where.push(lt(auditEvents.id, q.before));
    return this.db
      .select(ROW_COLUMNS)
      .from(auditEvents)
      .where(where.length ? and(...where) : undefined)
      .orderBy(desc(auditEvents.id))
      .limit(Math.min(q.limit ?? 100, 10_000))
      .all();
  }

  /**
   * Retention: drops the chain's oldest rows, up to the last one older than `before` (ISO time),
   * so what stays is an unbroken chain; the last dropped row's id and hash become the anchor
   * the first remaining row chains to. How many rows went.
   */
  purgeBefore(before: string): number {
    return this.db.$client
      .transaction(() => {
        this.sealTail();
        const upTo = this.db.select({ id: sql<number | null>`max(${auditEvents.id})` }).from(auditEvents).where(lt(auditEvents.at, before)).get()?.id ?? null;
        if (upTo === null) return 0;
        const last = this.db.select({ id: auditEvents.id, hash: auditEvents.hash }).from(auditEvents).where(eq(auditEvents.id, upTo)).get()!;
        const n = this.db.delete(auditEvents).where(lte(auditEvents.id, upTo)).run().changes;
        this.settings.set(AUDIT_ANCHOR_KEY, { id: last.id, hash: last.hash ?? GENESIS } satisfies AuditChainAnchor);
        return n;
      })
      .immediate();
  }
}
