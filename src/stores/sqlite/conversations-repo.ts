/**
 * Conversations and their messages. Every read and write names the owner: a conversation id
 * alone never finds anything, so one user cannot reach another's history through this repo.
 * Synchronous underneath; services use it as metadata.ts's ConversationStore (metadata-store.ts).
 */
import { and, asc, desc, eq, lt, sql, type SQL } from "drizzle-orm";
import { newId } from "../ids.ts";
import type { ConversationMessageRow, ConversationRow, NewConversationMessage } from "../metadata.ts";
import type { Db } from "./db.ts";
import { conversationMessages, conversations } from "./schema.ts";

const nowSql = sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`;

export type { ConversationMessageRow, ConversationRow } from "../metadata.ts";

const columns = { id: conversations.id, title: conversations.title, createdAt: conversations.createdAt, updatedAt: conversations.updatedAt };
const messageColumns = {
  id: conversationMessages.id,
  role: conversationMessages.role,
  content: conversationMessages.content,
  retrievalQuery: conversationMessages.retrievalQuery,
  citations: conversationMessages.citations,
  createdAt: conversationMessages.createdAt,
};

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
  list(ownerId: string, limit: number, offset: number, q?: string): { items: (ConversationRow & { messages: number })[]; total: number } {
    let where: SQL = eq(conversations.ownerId, ownerId);
    if (q) {
      // instr() (not LIKE): no wildcard escaping, and lower() makes ASCII case-insensitive.
      const needle = q.toLowerCase();
      where = and(
        where,
        sql`(instr(lower(${conversations.title}), ${needle}) > 0 or exists (select 1 from "conversation_messages" m where m."conversation_id" = "conversations"."id" and instr(lower(m."content"), ${needle}) > 0))`,
      )!;
    }
    const items = this.db
      .select({
        ...columns,
        // Qualified by hand: drizzle renders columns unqualified inside a select, and both tables have "id".
        messages: sql<number>`(select count(*) from "conversation_messages" m where m."conversation_id" = "conversations"."id")`,
      })
      .from(conversations)
      .where(where)
      .orderBy(desc(conversations.updatedAt), desc(conversations.id))
      .limit(limit)
      .offset(offset)
      .all();
    const total = this.db.select({ n: sql<number>`count(*)` }).from(conversations).where(where).get()?.n ?? 0;
    return { items, total };
  }

  /** Messages oldest first; the last `limit` when given. */
  messages(ownerId: string, id: string, limit?: number): ConversationMessageRow[] {
    if (!this.get(ownerId, id)) return [];
    const q = this.db
      .select(messageColumns)
      .from(conversationMessages)
      .where(eq(conversationMessages.conversationId, id));
    if (limit === undefined) return q.orderBy(asc(conversationMessages.id)).all();
    return q.orderBy(desc(conversationMessages.id)).limit(limit).all().reverse();
  }

  /** Appends messages (one transaction) and touches the conversation; their ids, or null when it is not the owner's. */
  append(ownerId: string, id: string, messages: NewConversationMessage[]): number[] | null {
    return this.db.transaction((tx) => {
      const touched = tx
        .update(conversations)
        .set({ updatedAt: nowSql })
        .where(and(eq(conversations.id, id), eq(conversations.ownerId, ownerId)))
        .run();
      if (touched.changes === 0) return null;
      if (messages.length === 0) return [];
      return tx
        .insert(conversationMessages)
        .values(messages.map((m) => ({ conversationId: id, role: m.role, content: m.content, retrievalQuery: m.retrievalQuery ?? null, citations: m.citations ?? null })))
        .returning({ id: conversationMessages.id })
        .all()
        .map((r) => r.id);
    });
  }

  /** One message of one of the owner's conversations; undefined for anyone else's. */
  message(ownerId: string, messageId: number): (ConversationMessageRow & { conversationId: string }) | undefined {
    return this.db
      .select({ ...messageColumns, conversationId: conversationMessages.conversationId })
      .from(conversationMessages)
      .innerJoin(conversations, eq(conversations.id, conversationMessages.conversationId))
      .where(and(eq(conversationMessages.id, messageId), eq(conversations.ownerId, ownerId)))
      .get();
  }

  /** The message just before `messageId` in the same (owner's) conversation. */
  previousMessage(ownerId: string, messageId: number): ConversationMessageRow | undefined {
    const m = this.message(ownerId, messageId);
    if (!m) return undefined;
    return this.db
      .select(messageColumns)
      .from(conversationMessages)
      .where(and(eq(conversationMessages.conversationId, m.conversationId), lt(conversationMessages.id, messageId)))
      .orderBy(desc(conversationMessages.id))
      .limit(1)
      .get();
  }

  rename(ownerId: string, id: string, title: string): ConversationRow | undefined {
    return this.db
      .update(conversations)
      .set({ title })
      .where(and(eq(conversations.id, id), eq(conversations.ownerId, ownerId)))
      .returning(columns)
      .get();
  }

  delete(ownerId: string, id: string): boolean {
    return this.db.delete(conversations).where(and(eq(conversations.id, id), eq(conversations.ownerId, ownerId))).run().changes > 0;
  }

  /** Removes every conversation of an owner (e.g. when the user is deleted); returns how many. */
  deleteAllOf(ownerId: string): number {
    return this.db.delete(conversations).where(eq(conversations.ownerId, ownerId)).run().changes;
  }
}
