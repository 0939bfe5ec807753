/**
 * The append-only audit log. Synchronous underneath; services use it as metadata.ts's
 * AuditStore (metadata-store.ts).
 */
import { and, desc, eq, gte, lt, lte, sql, type SQL } from "drizzle-orm";
import type { AuditQuery, AuditRow, NewAuditEvent } from "../metadata.ts";
import type { Db } from "./db.ts";
import { auditEvents } from "./schema.ts";

export type { AuditQuery, AuditRow, NewAuditEvent } from "../metadata.ts";

export class AuditRepo {
  constructor(private readonly db: Db) {}

  append(event: NewAuditEvent): void {
    this.db.insert(auditEvents).values(event).run();
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
      .select()
      .from(auditEvents)
      .where(where.length ? and(...where) : undefined)
      .orderBy(desc(auditEvents.id))
      .limit(Math.min(q.limit ?? 100, 10_000))
      .all();
  }

  /** Retention: drops events older than `before` (ISO time). */
  purgeBefore(before: string): number {
    return this.db.delete(auditEvents).where(lt(auditEvents.at, before)).run().changes;
  }
}
