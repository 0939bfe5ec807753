/** Conversations and their messages on PostgreSQL (metadata.ts's ConversationStore); every call names the owner. */
import { and, asc, desc, eq, lt, sql, type SQL } from "drizzle-orm";
import { newId } from "../ids.ts";
import type { ConversationMessageRow, ConversationRow, ConversationStore, NewConversationMessage } from "../metadata.ts";
import { changed, nowSql, type PgContext } from "./context.ts";
import { conversationMessages, conversations } from "./schema.ts";

const columns = { id: conversations.id, title: conversations.title, createdAt: conversations.createdAt, updatedAt: conversations.updatedAt };
const messageColumns = {
  id: conversationMessages.id,
  role: conversationMessages.role,
  content: conversationMessages.content,
  retrievalQuery: conversationMessages.retrievalQuery,
  citations: conversationMessages.citations,
  createdAt: conversationMessages.createdAt,
};

export class PgConversationsRepo implements ConversationStore {
  constructor(private readonly c: PgContext) {}

  async create(ownerId: string, title: string, id: string = newId("conv")): Promise<ConversationRow> {
    return (await this.c.q().insert(conversations).values({ id, ownerId, title }).returning(columns))[0]!;
  }

  async get(ownerId: string, id: string): Promise<ConversationRow | undefined> {
    return (
      await this.c
        .q()
        .select(columns)
        .from(conversations)
        .where(and(eq(conversations.id, id), eq(conversations.ownerId, ownerId)))
    )[0];
  }

  async list(ownerId: string, limit: number, offset: number, q?: string): Promise<{ items: (ConversationRow & { messages: number })[]; total: number }> {
    let where: SQL = eq(conversations.ownerId, ownerId);
    if (q) {
      // strpos() (not LIKE): no wildcard escaping.
      const needle = q.toLowerCase();
      where = and(
        where,
        sql`(strpos(lower(${conversations.title}), ${needle}) > 0 or exists (select 1 from "conversation_messages" m where m."conversation_id" = "conversations"."id" and strpos(lower(m."content"), ${needle}) > 0))`,
      )!;
    }
    const items = await this.c
      .q()
      .select({
        ...columns,
        messages: sql<number>`(select count(*) from "conversation_messages" m where m."conversation_id" = "conversations"."id")`.mapWith(Number),
      })
      .from(conversations)
      .where(where)
      .orderBy(desc(conversations.updatedAt), desc(conversations.id))
      .limit(limit)
      .offset(offset);
    const total = (await this.c.q().select({ n: sql<number>`count(*)`.mapWith(Number) }).from(conversations).where(where))[0]?.n ?? 0;
    return { items, total };
  }

  async messages(ownerId: string, id: string, limit?: number): Promise<ConversationMessageRow[]> {
    if (!(await this.get(ownerId, id))) return [];
    const q = this.c.q().select(messageColumns).from(conversationMessages).where(eq(conversationMessages.conversationId, id));
    if (limit === undefined) return q.orderBy(asc(conversationMessages.id));
    return (await q.orderBy(desc(conversationMessages.id)).limit(limit)).reverse();
  }

  async append(ownerId: string, id: string, messages: NewConversationMessage[]): Promise<number[] | null> {
    return this.c.tx(async () => {
      const touched = await this.c
        .q()
        .update(conversations)
        .set({ updatedAt: nowSql })
        .where(and(eq(conversations.id, id), eq(conversations.ownerId, ownerId)));
      if (changed(touched) === 0) return null;
      if (messages.length === 0) return [];
      const rows = await this.c
        .q()
        .insert(conversationMessages)
        .values(messages.map((m) => ({ conversationId: id, role: m.role, content: m.content, retrievalQuery: m.retrievalQuery ?? null, citations: m.citations ?? null })))
        .returning({ id: conversationMessages.id });
      return rows.map((r) => r.id).sort((a, b) => a - b);
    });
  }

  async message(ownerId: string, messageId: number): Promise<(ConversationMessageRow & { conversationId: string }) | undefined> {
    return (
      await this.c
        .q()
        .select({ ...messageColumns, conversationId: conversationMessages.conversationId })
        .from(conversationMessages)
        .innerJoin(conversations, eq(conversations.id, conversationMessages.conversationId))
        .where(and(eq(conversationMessages.id, messageId), eq(conversations.ownerId, ownerId)))
    )[0];
  }

  async previousMessage(ownerId: string, messageId: number): Promise<ConversationMessageRow | undefined> {
    const m = await this.message(ownerId, messageId);
    if (!m) return undefined;
    return (
      await this.c
        .q()
        .select(messageColumns)
        .from(conversationMessages)
        .where(and(eq(conversationMessages.conversationId, m.conversationId), lt(conversationMessages.id, messageId)))
        .orderBy(desc(conversationMessages.id))
        .limit(1)
    )[0];
  }

  async rename(ownerId: string, id: string, title: string): Promise<ConversationRow | undefined> {
    return (
      await this.c
        .q()
        .update(conversations)
        .set({ title })
        .where(and(eq(conversations.id, id), eq(conversations.ownerId, ownerId)))
        .returning(columns)
    )[0];
  }

  async delete(ownerId: string, id: string): Promise<boolean> {
    return changed(await this.c.q().delete(conversations).where(and(eq(conversations.id, id), eq(conversations.ownerId, ownerId)))) > 0;
  }

  async deleteAllOf(ownerId: string): Promise<number> {
    return changed(await this.c.q().delete(conversations).where(eq(conversations.ownerId, ownerId)));
  }
}
