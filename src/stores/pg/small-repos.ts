/**
 * The smaller repositories on PostgreSQL: audit log, local passwords and sessions, settings,
 * personal-data spans, answer feedback, SCIM tokens and resources (metadata.ts's interfaces).
 */
import { and, asc, count, desc, eq, gt, gte, inArray, isNotNull, isNull, lt, lte, or, sql, type SQL, type SQLWrapper } from "drizzle-orm";
import { newId } from "../ids.ts";
import { AUDIT_ANCHOR_KEY, auditRowHash, GENESIS, newChainedRow } from "../audit-chain.ts";
import { withoutNulDeep } from "./nul.ts";
import type {
  AuditChainAnchor,
  AuditChainRow,
  AuditQuery,
  AuditRow,
  AuditStore,
  CredentialRow,
  CredentialStore,
  FeedbackQuery,
  FeedbackRow,
  FeedbackStore,
  NewAuditEvent,
  NewFeedback,
  ScimResourceRow,
  ScimResourceStore,
  ScimResourceType,
  ScimTokenRow,
  ScimTokenStore,
  SensitiveKindName,
  SensitiveSpanRow,
  SensitiveStore,
  SessionRow,
  SessionStore,
  SettingsStore,
} from "../metadata.ts";
import { changed, nowSql, type PgContext } from "./context.ts";
import { answerFeedback, auditEvents, scimResources, scimTokens, sensitiveSpans, sessions, settings, userCredentials } from "./schema.ts";

/** `column` starts with `prefix` (no LIKE wildcards to escape). */
const startsWith = (column: SQLWrapper, prefix: string) => sql`left(${column}, ${prefix.length}::int) = ${prefix}`;

/** pg_advisory_xact_lock key serialising audit appends across processes ("kbau" as hex digits). */
const AUDIT_APPEND_LOCK = 0x6b626175;

/**
 * The hash-chained audit log (../audit-chain.ts: the same canonical form as SQLite's). An append
 * takes a transaction-level advisory lock, reads the last row's hash, draws the next id from the
 * identity sequence and inserts the whole row with its hash: appends from every process are
 * serialised, so ids grow in chain order and the chain never forks.
 */
export class PgAuditRepo implements AuditStore {
  constructor(private readonly c: PgContext) {}

  async append(event: NewAuditEvent): Promise<AuditChainRow & { hash: string }> {
    return this.c.tx(async () => {
      const q = this.c.q();
      await q.execute(sql`SELECT pg_advisory_xact_lock(${AUDIT_APPEND_LOCK})`);
      let last = await this.lastRow();
      if (last && last.hash === null) {
        await this.sealTail();
        last = await this.lastRow();
      }
      const prev = last ? last.hash! : ((await this.chainAnchor())?.hash ?? GENESIS);
      const next = await q.execute<{ id: string }>(sql`SELECT nextval(pg_get_serial_sequence('audit_events', 'id')) AS id`);
      // Hashed as stored: without U+0000, which PostgreSQL cannot hold (nul.ts).
      const row = newChainedRow(Number(next.rows[0]!.id), withoutNulDeep(event)) as Omit<AuditChainRow, "hash">;
      const hash = auditRowHash(prev, row);
      await q.insert(auditEvents).values({ ...row, outcome: row.outcome as AuditRow["outcome"], hash });
      return { ...row, hash };
    });
  }

  private async lastRow(): Promise<{ id: number; hash: string | null } | undefined> {
    return (await this.c.q().select({ id: auditEvents.id, hash: auditEvents.hash }).from(auditEvents).orderBy(desc(auditEvents.id)).limit(1))[0];
  }

  /** Chains the rows after the last hashed one (written before the chain existed); how many. Runs under the append lock. */
  private async sealTail(): Promise<number> {
    const q = this.c.q();
    const last = await this.lastRow();
    if (!last || last.hash !== null) return 0;
    const sealed = (await q.select({ id: auditEvents.id, hash: auditEvents.hash }).from(auditEvents).where(isNotNull(auditEvents.hash)).orderBy(desc(auditEvents.id)).limit(1))[0];
    let prev = sealed?.hash ?? (await this.chainAnchor())?.hash ?? GENESIS;
    let after = sealed?.id ?? 0;
    let n = 0;
    for (;;) {
      const rows = (await q.select().from(auditEvents).where(gt(auditEvents.id, after)).orderBy(asc(auditEvents.id)).limit(1000)) as AuditChainRow[];
      if (rows.length === 0) return n;
      for (const row of rows) {
        prev = auditRowHash(prev, row);
        await q.update(auditEvents).set({ hash: prev }).where(eq(auditEvents.id, row.id));
        after = row.id;
        n++;
      }
    }
  }

  async sealUnhashed(): Promise<number> {
    return this.c.tx(async () => {
      await this.c.q().execute(sql`SELECT pg_advisory_xact_lock(${AUDIT_APPEND_LOCK})`);
      return this.sealTail();
    });
  }

  async chain(afterId: number, limit: number): Promise<AuditChainRow[]> {
    return (await this.c.q().select().from(auditEvents).where(gt(auditEvents.id, afterId)).orderBy(asc(auditEvents.id)).limit(limit)) as AuditChainRow[];
  }

  async chainAnchor(): Promise<AuditChainAnchor | null> {
    const row = (await this.c.q().select({ value: settings.value }).from(settings).where(eq(settings.key, AUDIT_ANCHOR_KEY)))[0];
    return (row?.value as AuditChainAnchor | undefined) ?? null;
  }

  async query(q: AuditQuery): Promise<AuditRow[]> {
    const where: SQL[] = [];
    if (q.actor) where.push(eq(auditEvents.actor, q.actor));
    if (q.action) {
      const prefix = q.action.endsWith("*") ? q.action.slice(0, -1) : q.action.endsWith(".") ? q.action : null;
      where.push(prefix !== null ? startsWith(auditEvents.action, prefix) : eq(auditEvents.action, q.action));
    }
    if (q.target) where.push(eq(auditEvents.target, q.target));
    if (q.outcome) where.push(eq(auditEvents.outcome, q.outcome));
    if (q.since) where.push(gte(auditEvents.at, q.since));
    if (q.until) where.push(lte(auditEvents.at, q.until));
    if (q.before) where.push(lt(auditEvents.id, q.before));
    return this.c
      .q()
      .select({
        id: auditEvents.id,
        at: auditEvents.at,
        actor: auditEvents.actor,
        action: auditEvents.action,
        target: auditEvents.target,
        outcome: auditEvents.outcome,
        details: auditEvents.details,
      })
      .from(auditEvents)
      .where(where.length ? and(...where) : undefined)
      .orderBy(desc(auditEvents.id))
      .limit(Math.min(q.limit ?? 100, 10_000));
  }

  /**
   * Retention: drops the chain's oldest rows up to the last one older than `before`, and records
   * the last dropped row as the anchor the first remaining row chains to (one transaction, under
   * the append lock).
   */
  async purgeBefore(before: string): Promise<number> {
    return this.c.tx(async () => {
      const q = this.c.q();
      await q.execute(sql`SELECT pg_advisory_xact_lock(${AUDIT_APPEND_LOCK})`);
      await this.sealTail();
      const upTo = (await q.select({ id: sql<number | null>`max(${auditEvents.id})` }).from(auditEvents).where(lt(auditEvents.at, before)))[0]?.id ?? null;
      if (upTo === null) return 0;
      const last = (await q.select({ id: auditEvents.id, hash: auditEvents.hash }).from(auditEvents).where(eq(auditEvents.id, upTo)))[0]!;
      const n = changed(await q.delete(auditEvents).where(lte(auditEvents.id, upTo)));
      const anchor: AuditChainAnchor = { id: last.id, hash: last.hash ?? GENESIS };
      await q.insert(settings).values({ key: AUDIT_ANCHOR_KEY, value: anchor }).onConflictDoUpdate({ target: settings.key, set: { value: anchor, updatedAt: nowSql } });
      return n;
    });
  }
}

export class PgCredentialsRepo implements CredentialStore {
  constructor(private readonly c: PgContext) {}

  async get(userId: string): Promise<CredentialRow | undefined> {
    return (await this.c.q().select().from(userCredentials).where(eq(userCredentials.userId, userId)))[0];
  }

  async set(userId: string, passwordHash: string, at: string): Promise<void> {
    await this.c
      .q()
      .insert(userCredentials)
      .values({ userId, passwordHash, updatedAt: at, failedCount: 0, lockedUntil: null })
      .onConflictDoUpdate({ target: userCredentials.userId, set: { passwordHash, updatedAt: at, failedCount: 0, lockedUntil: null } });
  }

  async recordFailure(userId: string, lockAfter: number, lockedUntil: string): Promise<CredentialRow | undefined> {
    // One statement: concurrent failures each count (the row is locked while it is updated).
    const rows = await this.c
      .q()
      .update(userCredentials)
      .set({
        failedCount: sql`CASE WHEN ${userCredentials.failedCount} + 1 >= ${lockAfter}::int THEN 0 ELSE ${userCredentials.failedCount} + 1 END`,
        lockedUntil: sql`CASE WHEN ${userCredentials.failedCount} + 1 >= ${lockAfter}::int THEN ${lockedUntil} ELSE ${userCredentials.lockedUntil} END`,
      })
      .where(eq(userCredentials.userId, userId))
      .returning();
    return rows[0];
  }

  async clearFailures(userId: string): Promise<void> {
    await this.c.q().update(userCredentials).set({ failedCount: 0, lockedUntil: null }).where(eq(userCredentials.userId, userId));
  }
}

export class PgSessionsRepo implements SessionStore {
  constructor(private readonly c: PgContext) {}

  async insert(row: SessionRow): Promise<void> {
    await this.c.q().insert(sessions).values(row);
  }

  async byTokenHash(tokenHash: string): Promise<SessionRow | undefined> {
    return (await this.c.q().select().from(sessions).where(eq(sessions.tokenHash, tokenHash)))[0];
  }

  async byId(id: string): Promise<SessionRow | undefined> {
    return (await this.c.q().select().from(sessions).where(eq(sessions.id, id)))[0];
  }

  async touch(id: string, at: string): Promise<void> {
    await this.c.q().update(sessions).set({ lastSeenAt: at }).where(eq(sessions.id, id));
  }

  async revoke(id: string, at: string): Promise<boolean> {
    return changed(await this.c.q().update(sessions).set({ revokedAt: at }).where(and(eq(sessions.id, id), isNull(sessions.revokedAt)))) > 0;
  }

  async revokeAllOf(userId: string, at: string): Promise<number> {
    return changed(await this.c.q().update(sessions).set({ revokedAt: at }).where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt))));
  }

  async revokeOidc(provider: string, match: { opSid?: string; userId?: string }, at: string): Promise<number> {
    if (match.opSid === undefined && match.userId === undefined) return 0;
    const conditions = [eq(sessions.provider, provider), eq(sessions.method, "oidc"), isNull(sessions.revokedAt)];
    if (match.opSid !== undefined) conditions.push(eq(sessions.opSid, match.opSid));
    if (match.userId !== undefined) conditions.push(eq(sessions.userId, match.userId));
    return changed(await this.c.q().update(sessions).set({ revokedAt: at }).where(and(...conditions)));
  }

  async liveOf(userId: string, now: string): Promise<SessionRow[]> {
    return this.c
      .q()
      .select()
      .from(sessions)
      .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, now)))
      .orderBy(asc(sessions.createdAt));
  }

  async purgeEnded(now: string, idleBefore: string): Promise<number> {
    return changed(await this.c.q().delete(sessions).where(or(lt(sessions.expiresAt, now), lt(sessions.revokedAt, now), lt(sessions.lastSeenAt, idleBefore))));
  }
}

export class PgSettingsRepo implements SettingsStore {
  constructor(private readonly c: PgContext) {}

  async get<T>(key: string): Promise<T | undefined> {
    const row = (await this.c.q().select({ value: settings.value }).from(settings).where(eq(settings.key, key)))[0];
    return row === undefined ? undefined : (row.value as T);
  }

  async set(key: string, value: unknown): Promise<void> {
    await this.c
      .q()
      .insert(settings)
      .values({ key, value })
      .onConflictDoUpdate({ target: settings.key, set: { value, updatedAt: nowSql } });
  }

  async setIfAbsent<T>(key: string, value: T): Promise<T> {
    await this.c.q().insert(settings).values({ key, value }).onConflictDoNothing();
    return (await this.get<T>(key))!;
  }

  async delete(key: string): Promise<void> {
    await this.c.q().delete(settings).where(eq(settings.key, key));
  }

  async increment(key: string, by = 1): Promise<number> {
    // One statement, so two processes incrementing at once both count.
    const r = await this.c.q().execute<{ value: unknown }>(sql`
      INSERT INTO settings (key, value) VALUES (${key}, to_jsonb(${by}::float8))
      ON CONFLICT (key) DO UPDATE SET
        value = to_jsonb(CASE WHEN jsonb_typeof(settings.value) = 'number' THEN (settings.value #>> '{}')::float8 ELSE 0 END + ${by}::float8),
        updated_at = ${nowSql}
      RETURNING value`);
    return Number(r.rows[0]!.value);
  }

  async withPrefix<T>(prefix: string): Promise<Map<string, T>> {
    const rows = await this.c.q().select().from(settings).where(startsWith(settings.key, prefix));
    return new Map(rows.map((r) => [r.key, r.value as T]));
  }
}

export class PgSensitiveRepo implements SensitiveStore {
  constructor(private readonly c: PgContext) {}

  async replaceDocument(documentId: string, rows: Omit<SensitiveSpanRow, "documentId">[]): Promise<void> {
    await this.c.tx(async () => {
      await this.c.q().delete(sensitiveSpans).where(eq(sensitiveSpans.documentId, documentId));
      for (let i = 0; i < rows.length; i += 1000) {
        await this.c
          .q()
          .insert(sensitiveSpans)
          .values(rows.slice(i, i + 1000).map((r) => ({ ...r, documentId })))
          .onConflictDoNothing();
      }
    });
  }

  async spansOfChunks(chunkIds: string[]): Promise<SensitiveSpanRow[]> {
    if (chunkIds.length === 0) return [];
    return this.c.q().select().from(sensitiveSpans).where(inArray(sensitiveSpans.chunkId, chunkIds));
  }

  async countsOf(documentId: string): Promise<Record<string, number>> {
    const rows = await this.c
      .q()
      .select({ kind: sensitiveSpans.kind, n: count() })
      .from(sensitiveSpans)
      .where(eq(sensitiveSpans.documentId, documentId))
      .groupBy(sensitiveSpans.kind);
    return Object.fromEntries(rows.map((r) => [r.kind, r.n]));
  }

  async report(kind?: SensitiveKindName): Promise<{ documentId: string; kind: SensitiveKindName; n: number }[]> {
    return this.c
      .q()
      .select({ documentId: sensitiveSpans.documentId, kind: sensitiveSpans.kind, n: sql<number>`count(*)`.mapWith(Number) })
      .from(sensitiveSpans)
      .where(kind ? eq(sensitiveSpans.kind, kind) : undefined)
      .groupBy(sensitiveSpans.documentId, sensitiveSpans.kind)
      .orderBy(sensitiveSpans.documentId, sensitiveSpans.kind);
  }
}

export class PgFeedbackRepo implements FeedbackStore {
  constructor(private readonly c: PgContext) {}

  async upsert(row: NewFeedback): Promise<{ row: FeedbackRow; created: boolean }> {
    return this.c.tx(async () => {
      const inserted = await this.c
        .q()
        .insert(answerFeedback)
        .values({ id: newId("fb"), ...row })
        .onConflictDoNothing({ target: [answerFeedback.userId, answerFeedback.messageId] })
        .returning();
      if (inserted[0]) return { row: inserted[0] as FeedbackRow, created: true };
      // A new judgement of what the user is shown now: the earlier review no longer applies.
      const updated = await this.c
        .q()
        .update(answerFeedback)
        .set({
          rating: row.rating,
          comment: row.comment,
          question: row.question,
          answer: row.answer,
          sources: row.sources,
          userName: row.userName,
          updatedAt: nowSql,
          reviewedAt: null,
          reviewedBy: null,
          expectedDocumentIds: null,
          expectedAnswer: null,
        })
        .where(and(eq(answerFeedback.userId, row.userId), eq(answerFeedback.messageId, row.messageId)))
        .returning();
      return { row: updated[0] as FeedbackRow, created: false };
    });
  }

  async byId(id: string): Promise<FeedbackRow | undefined> {
    return (await this.c.q().select().from(answerFeedback).where(eq(answerFeedback.id, id)))[0] as FeedbackRow | undefined;
  }

  async ofMessages(userId: string, messageIds: number[]): Promise<FeedbackRow[]> {
    if (messageIds.length === 0) return [];
    return (await this.c
      .q()
      .select()
      .from(answerFeedback)
      .where(and(eq(answerFeedback.userId, userId), inArray(answerFeedback.messageId, messageIds)))) as FeedbackRow[];
  }

  async list(q: FeedbackQuery): Promise<{ items: FeedbackRow[]; total: number }> {
    const where: SQL[] = [];
    if (q.rating) where.push(eq(answerFeedback.rating, q.rating));
    if (q.reviewed === true) where.push(isNotNull(answerFeedback.reviewedAt));
    if (q.reviewed === false) where.push(isNull(answerFeedback.reviewedAt));
    const cond = where.length ? and(...where) : undefined;
    const items = (await this.c
      .q()
      .select()
      .from(answerFeedback)
      .where(cond)
      .orderBy(asc(answerFeedback.rating), desc(answerFeedback.updatedAt), desc(answerFeedback.id))
      .limit(q.limit)
      .offset(q.offset)) as FeedbackRow[];
    const total = (await this.c.q().select({ n: count() }).from(answerFeedback).where(cond))[0]?.n ?? 0;
    return { items, total };
  }

  async review(id: string, review: { reviewedBy: string; expectedDocumentIds: string[]; expectedAnswer: string | null }): Promise<FeedbackRow | undefined> {
    const rows = await this.c
      .q()
      .update(answerFeedback)
      .set({ reviewedAt: nowSql, reviewedBy: review.reviewedBy, expectedDocumentIds: review.expectedDocumentIds, expectedAnswer: review.expectedAnswer })
      .where(eq(answerFeedback.id, id))
      .returning();
    return rows[0] as FeedbackRow | undefined;
  }

  async reviewed(afterId: string | null, limit: number): Promise<FeedbackRow[]> {
    const cond = afterId === null ? isNotNull(answerFeedback.reviewedAt) : and(isNotNull(answerFeedback.reviewedAt), gt(answerFeedback.id, afterId));
    return (await this.c.q().select().from(answerFeedback).where(cond).orderBy(asc(answerFeedback.id)).limit(limit)) as FeedbackRow[];
  }

  async deleteAllOf(userId: string): Promise<number> {
    return changed(await this.c.q().delete(answerFeedback).where(eq(answerFeedback.userId, userId)));
  }
}

export class PgScimTokensRepo implements ScimTokenStore {
  constructor(private readonly c: PgContext) {}

  async insert(row: { id: string; source: string; tokenHash: string; name?: string | null; expiresAt?: string | null }): Promise<void> {
    await this.c.q().insert(scimTokens).values(row);
  }

  async byHash(hash: string): Promise<ScimTokenRow | undefined> {
    return (await this.c.q().select().from(scimTokens).where(eq(scimTokens.tokenHash, hash)))[0];
  }

  async byId(id: string): Promise<ScimTokenRow | undefined> {
    return (await this.c.q().select().from(scimTokens).where(eq(scimTokens.id, id)))[0];
  }

  async list(): Promise<ScimTokenRow[]> {
    return this.c.q().select().from(scimTokens).orderBy(asc(scimTokens.createdAt), asc(scimTokens.id));
  }

  async revoke(id: string, at: string): Promise<boolean> {
    return changed(await this.c.q().update(scimTokens).set({ revokedAt: at }).where(and(eq(scimTokens.id, id), isNull(scimTokens.revokedAt)))) > 0;
  }

  async touchIfStale(id: string, at: string, staleBefore: string): Promise<boolean> {
    const r = await this.c
      .q()
      .update(scimTokens)
      .set({ lastUsedAt: at })
      .where(and(eq(scimTokens.id, id), or(isNull(scimTokens.lastUsedAt), lt(scimTokens.lastUsedAt, staleBefore))));
    return changed(r) > 0;
  }
}

export class PgScimResourcesRepo implements ScimResourceStore {
  constructor(private readonly c: PgContext) {}

  async get(source: string, type: ScimResourceType, id: string): Promise<ScimResourceRow | undefined> {
    return (
      await this.c
        .q()
        .select()
        .from(scimResources)
        .where(and(eq(scimResources.source, source), eq(scimResources.resourceType, type), eq(scimResources.id, id)))
    )[0];
  }

  async byNameKey(source: string, type: ScimResourceType, nameKey: string): Promise<ScimResourceRow | undefined> {
    return (
      await this.c
        .q()
        .select()
        .from(scimResources)
        .where(and(eq(scimResources.source, source), eq(scimResources.resourceType, type), eq(scimResources.nameKey, nameKey)))
    )[0];
  }

  async byExternalId(source: string, type: ScimResourceType, externalId: string): Promise<ScimResourceRow[]> {
    return this.c
      .q()
      .select()
      .from(scimResources)
      .where(and(eq(scimResources.source, source), eq(scimResources.resourceType, type), eq(scimResources.externalId, externalId)))
      .orderBy(asc(scimResources.createdAt), asc(scimResources.id));
  }

  async list(source: string, type: ScimResourceType): Promise<ScimResourceRow[]> {
    return this.c
      .q()
      .select()
      .from(scimResources)
      .where(and(eq(scimResources.source, source), eq(scimResources.resourceType, type)))
      .orderBy(asc(scimResources.createdAt), asc(scimResources.id));
  }

  async insert(row: Pick<ScimResourceRow, "source" | "id" | "resourceType" | "principal" | "nameKey" | "externalId" | "attributes">): Promise<void> {
    await this.c.q().insert(scimResources).values(row);
  }

  async update(source: string, id: string, values: Pick<ScimResourceRow, "nameKey" | "externalId" | "attributes">): Promise<boolean> {
    const r = await this.c
      .q()
      .update(scimResources)
      .set({ ...values, version: sql`${scimResources.version} + 1`, updatedAt: nowSql })
      .where(and(eq(scimResources.source, source), eq(scimResources.id, id)));
    return changed(r) > 0;
  }

  async delete(source: string, id: string): Promise<boolean> {
    return changed(await this.c.q().delete(scimResources).where(and(eq(scimResources.source, source), eq(scimResources.id, id)))) > 0;
  }
}
