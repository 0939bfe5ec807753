/**
 * Feedback on answers (one row per user and answer). Synchronous underneath; services use it as
 * metadata.ts's FeedbackStore (metadata-store.ts).
 */
import { and, asc, desc, eq, gt, inArray, isNotNull, isNull, sql, type SQL } from "drizzle-orm";
import { newId } from "../ids.ts";
import type { FeedbackQuery, FeedbackRow, NewFeedback } from "../metadata.ts";
import type { Db } from "./db.ts";
import { answerFeedback } from "./schema.ts";

const nowSql = sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`;

export class FeedbackRepo {
  constructor(private readonly db: Db) {}

  upsert(row: NewFeedback): { row: FeedbackRow; created: boolean } {
    return this.db.transaction((tx) => {
      const existing = tx
        .select({ id: answerFeedback.id })
        .from(answerFeedback)
        .where(and(eq(answerFeedback.userId, row.userId), eq(answerFeedback.messageId, row.messageId)))
        .get();
      if (!existing) {
        const created = tx.insert(answerFeedback).values({ id: newId("fb"), ...row }).returning().get() as FeedbackRow;
        return { row: created, created: true };
      }
      // A new judgement of what the user is shown now (their access may have changed): the
      // earlier review no longer applies.
      const updated = tx
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
        .where(eq(answerFeedback.id, existing.id))
        .returning()
        .get() as FeedbackRow;
      return { row: updated, created: false };
    });
  }

  byId(id: string): FeedbackRow | undefined {
    return this.db.select().from(answerFeedback).where(eq(answerFeedback.id, id)).get() as FeedbackRow | undefined;
  }

  ofMessages(userId: string, messageIds: number[]): FeedbackRow[] {
    if (messageIds.length === 0) return [];
    return this.db
      .select()
      .from(answerFeedback)
      .where(and(eq(answerFeedback.userId, userId), inArray(answerFeedback.messageId, messageIds)))
      .all() as FeedbackRow[];
  }

  list(q: FeedbackQuery): { items: FeedbackRow[]; total: number } {
    const where: SQL[] = [];
    if (q.rating) where.push(eq(answerFeedback.rating, q.rating));
    if (q.reviewed === true) where.push(isNotNull(answerFeedback.reviewedAt));
    if (q.reviewed === false) where.push(isNull(answerFeedback.reviewedAt));
    const cond = where.length ? and(...where) : undefined;
    const items = this.db
      .select()
      .from(answerFeedback)
      .where(cond)
      // Negative first ("down" sorts before "up"), then the most recent.
      .orderBy(asc(answerFeedback.rating), desc(answerFeedback.updatedAt), desc(answerFeedback.id))
      .limit(q.limit)
      .offset(q.offset)
      .all() as FeedbackRow[];
    const total = this.db.select({ n: sql<number>`count(*)` }).from(answerFeedback).where(cond).get()?.n ?? 0;
    return { items, total };
  }

  review(id: string, review: { reviewedBy: string; expectedDocumentIds: string[]; expectedAnswer: string | null }): FeedbackRow | undefined {
    return this.db
      .update(answerFeedback)
      .set({ reviewedAt: nowSql, reviewedBy: review.reviewedBy, expectedDocumentIds: review.expectedDocumentIds, expectedAnswer: review.expectedAnswer })
      .where(eq(answerFeedback.id, id))
      .returning()
      .get() as FeedbackRow | undefined;
  }

  reviewed(afterId: string | null, limit: number): FeedbackRow[] {
    const cond = afterId === null ? isNotNull(answerFeedback.reviewedAt) : and(isNotNull(answerFeedback.reviewedAt), gt(answerFeedback.id, afterId));
    return this.db.select().from(answerFeedback).where(cond).orderBy(asc(answerFeedback.id)).limit(limit).all() as FeedbackRow[];
  }

  deleteAllOf(userId: string): number {
    return this.db.delete(answerFeedback).where(eq(answerFeedback.userId, userId)).run().changes;
  }
}
