/**
 * Conversations and their messages. Every read and write names the owner: a conversation id
 * alone never finds anything, so one user cannot reach another's history through this repo.
 * Synchronous underneath; services use it as metadata.ts's ConversationStore (metadata-store.ts).
 */
import { and, asc, desc, eq, sql } from "drizzle-orm";
import { newId } from "../ids.ts";
import type { ConversationMessageRow, ConversationRow, NewConversationMessage } from "../metadata.ts";
import type { Db } from "./db.ts";
import { conversationMessages, conversations } from "./schema.ts";

const nowSql = sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`;

export type { ConversationMessageRow, ConversationRow } from "../metadata.ts";

const columns = { id: conversations.id, title: conversations.title, createdAt: conversations.createdAt, updatedAt: conversations.updatedAt };

export class ConversationsRepo {
  constructor(private readonly db: Db) {}

  create(ownerId: string, title: string, id: string = newId("conv")): ConversationRow {
    return this.db.insert(conversations).values({ id, ownerId, title }).returning(columns).get();
  }

  get(ownerId: string, id: string): ConversationRow | undefined {
    return this.db
      .select(columns)
      .from(conversations)
      .where(and(eq(conversations.id, id), eq(conversations.ownerId, ownerId)))
      .get();
  }

  /** Newest activity first. */
  list(ownerId: string, limit: number, offset: number): { items: (ConversationRow & { messages: number })[]; total: number } {
    const items = this.db
      .select({
        ...columns,
        // Qualified by hand: drizzle renders columns unqualified inside a select, and both tables have "id".
        messages: sql<number>`(select count(*) from "conversation_messages" m where m."conversation_id" = "conversations"."id")`,
      })
      .from(conversations)
      .where(eq(conversations.ownerId, ownerId))
      .orderBy(desc(conversations.updatedAt), desc(conversations.id))
      .limit(limit)
      .offset(offset)
      .all();
    const total = this.db.select({ n: sql<number>`count(*)` }).from(conversations).where(eq(conversations.ownerId, ownerId)).get()?.n ?? 0;
    return { items, total };
  }

  /** Messages oldest first; the last `limit` when given. */
  messages(ownerId: string, id: string, limit?: number): ConversationMessageRow[] {
    if (!this.get(ownerId, id)) return [];
    const q = this.db
      .select({
        id: conversationMessages.id,
        role: conversationMessages.role,
        content: conversationMessages.content,
        retrievalQuery: conversationMessages.retrievalQuery,
        citations: conversationMessages.citations,
        createdAt: conversationMessages.createdAt,
      })
      .from(conversationMessages)
      .where(eq(conversationMessages.conversationId, id));
    if (limit === undefined) return q.orderBy(asc(conversationMessages.id)).all();
    return q.orderBy(desc(conversationMessages.id)).limit(limit).all().reverse();
  }

  /** Appends messages (one transaction) and touches the conversation; false when it is not the owner's. */
  append(ownerId: string, id: string, messages: NewConversationMessage[]): boolean {
    return this.db.transaction((tx) => {
      const touched = tx
        .update(conversations)
        .set({ updatedAt: nowSql })
        .where(and(eq(conversations.id, id), eq(conversations.ownerId, ownerId)))
        .run();
      if (touched.changes === 0) return false;
      if (messages.length > 0) {
        tx.insert(conversationMessages)
          .values(messages.map((m) => ({ conversationId: id, role: m.role, content: m.content, retrievalQuery: m.retrievalQuery ?? null, citations: m.citations ?? null })))
          .run();
      }
      return true;
    });
  }

  delete(ownerId: string, id: string): boolean {
    return this.db.delete(conversations).where(and(eq(conversations.id, id), eq(conversations.ownerId, ownerId))).run().changes > 0;
  }

  /** Removes every conversation of an owner (e.g. when the user is deleted); returns how many. */
  deleteAllOf(ownerId: string): number {
    return this.db.delete(conversations).where(eq(conversations.ownerId, ownerId)).run().changes;
  }
}
