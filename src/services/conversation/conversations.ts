/**
 * Conversations for ask: history kept per user in SQLite, follow-ups rewritten into standalone
 * retrieval queries. A conversation is only ever found through its owner (the actor's id): another
 * user's conversation id answers 404 exactly like one that does not exist.
 *
 * A turn: `begin` (find or start the conversation, load its recent history, rewrite the question
 * for retrieval) → ask → `finish` (store the question and the answer that was shown). A turn that
 * fails or is cancelled before its answer is done stores nothing; a new conversation is only
 * created when its first turn finishes.
 */
import type { Actor } from "../../../policies/index.ts";
import type { ConversationRow, MetadataStore } from "../../stores/metadata.ts";
import { newId } from "../../stores/ids.ts";
import type { Citation } from "../answer/types.ts";
import type { AuditLog } from "../audit.ts";
import { badRequest, notFound } from "../errors.ts";
import { requireAskText, requireMaxLength, TEXT_LIMITS } from "../limits.ts";
import { rewriteFollowUp, type ConversationTurn, type RewriteLlm } from "./rewrite.ts";

/** Earlier messages handed to the answerer and the rewriter (the prompt budget trims further). */
export const HISTORY_MESSAGES = 20;
const TITLE_CHARS = 80;
/** Conversations a search looks at (the newest that SQLite finds the text in). */
const SEARCH_CANDIDATES = 1000;

export interface Turn {
  conversationId: string;
  /** True when this turn starts the conversation (created by `finish`). */
  isNew: boolean;
  history: ConversationTurn[];
  /** What retrieval searches for: the question, or the follow-up rewritten to stand alone. */
  retrievalQuery: string;
}

export interface ConversationSummary {
  id: string;
  title: string;
  messages: number;
  createdAt: string;
  updatedAt: string;
}

export interface ConversationDetail {
  id: string;
  title: string;
  createdAt: string;
  updatedAt: string;
  messages: {
    id: number;
    role: "user" | "assistant";
    content: string;
    retrievalQuery?: string;
    citations?: Citation[];
    /** Assistant turns: the owner's feedback on the answer, when given. */
    feedback?: { rating: "up" | "down"; comment: string | null };
    createdAt: string;
  }[];
}

/**
 * Decides, at read time, whether the actor may still see what a stored answer was built from
 * (access may have narrowed since), and masks personal data the actor may not see.
 */
export interface HistoryGuard {
  canReadDocument(actor: Actor, documentId: string): boolean;
  redactorFor(actor: Actor): (text: string) => string;
}

/** Shown instead of a stored answer whose sources the asker may no longer read. */
export const WITHHELD_ANSWER = "[answer withheld: its sources are no longer available to you]";

export class ConversationService {
  constructor(
    /** Conversations live in the metadata store; a turn is stored in one transaction. */
    private readonly repo: MetadataStore,
    /** The LLM used to rewrite follow-ups, when there is one (loaded on demand). */
    private readonly rewriter: () => Promise<RewriteLlm | null>,
    private readonly guard: HistoryGuard,
    private readonly audit?: AuditLog,
  ) {}

  /**
   * Stored turns are re-checked every time they are read back (listing, history for the prompt
   * and the rewriter): an answer citing a document the actor can no longer read is withheld,
   * and text is masked for actors without view_sensitive.
   */
  private async visibleMessages(actor: Actor, id: string, limit?: number) {
    const redact = this.guard.redactorFor(actor);
    return (await this.repo.conversations.messages(actor.id, id, limit)).map((m) => {
      const citations = (m.citations ?? []) as Citation[];
      const withheld = citations.some((c) => !this.guard.canReadDocument(actor, c.documentId));
      return {
        ...m,
        content: withheld ? WITHHELD_ANSWER : redact(m.content),
        citations: withheld ? [] : citations.map((c) => ({ ...c, quote: redact(c.quote), title: redact(c.title) })),
      };
    });
  }

  /**
   * The actor's conversations, newest activity first; `q` keeps those whose title or any message
   * contains it, as the actor is shown them now: an answer withheld since (its sources are no
   * longer readable) or masked does not match on its hidden text. SQLite narrows the candidates
   * (at most SEARCH_CANDIDATES, newest first); each is then checked on its visible messages.
   */
  async list(actor: Actor, page: { limit?: number; offset?: number; q?: string } = {}): Promise<{ conversations: ConversationSummary[]; total: number }> {
    requireMaxLength("q", page.q, TEXT_LIMITS.query);
    const limit = Math.min(Math.max(page.limit ?? 50, 1), 200);
    const offset = Math.max(page.offset ?? 0, 0);
    const q = page.q?.trim() || undefined;
    const summary = (c: ConversationRow & { messages: number }): ConversationSummary => ({ id: c.id, title: c.title, messages: Number(c.messages), createdAt: c.createdAt, updatedAt: c.updatedAt });
    if (!q) {
      const { items, total } = await this.repo.conversations.list(actor.id, limit, offset);
      return { conversations: items.map(summary), total: Number(total) };
    }
    const needle = q.toLowerCase();
    const has = (text: string) => text.toLowerCase().includes(needle);
    const { items } = await this.repo.conversations.list(actor.id, SEARCH_CANDIDATES, 0, q);
    const matched: ConversationSummary[] = [];
    for (const c of items) {
      if (has(c.title) || (await this.visibleMessages(actor, c.id)).some((m) => has(m.content))) matched.push(summary(c));
    }
    return { conversations: matched.slice(offset, offset + limit), total: matched.length };
  }

  async get(actor: Actor, id: string): Promise<ConversationDetail> {
    const c = await this.repo.conversations.get(actor.id, id);
    if (!c) throw notFound("conversation");
    const visible = await this.visibleMessages(actor, id);
    const feedback = new Map((await this.repo.feedback.ofMessages(actor.id, visible.filter((m) => m.role === "assistant").map((m) => m.id))).map((f) => [f.messageId, f]));
    const messages = visible.map((m) => {
      const f = feedback.get(m.id);
      return {
        id: m.id,
        role: m.role,
        content: m.content,
        ...(m.retrievalQuery ? { retrievalQuery: m.retrievalQuery } : {}),
        ...(m.role === "assistant" ? { citations: m.citations } : {}),
        ...(f ? { feedback: { rating: f.rating, comment: f.comment } } : {}),
        createdAt: m.createdAt,
      };
    });
    return { ...c, messages };
  }

  /** Renames one of the actor's conversations. */
  async rename(actor: Actor, id: string, title: string): Promise<ConversationSummary> {
    const t = title.replace(/\s+/g, " ").trim();
    if (!t) throw badRequest("title must not be empty", "invalid_request");
    requireMaxLength("title", t, TEXT_LIMITS.title);
    const c = await this.repo.conversations.rename(actor.id, id, t);
    if (!c) throw notFound("conversation");
    const messages = (await this.repo.conversations.messages(actor.id, id)).length;
    return { ...c, messages };
  }

  async delete(actor: Actor, id: string): Promise<void> {
    if (!(await this.repo.conversations.delete(actor.id, id))) throw notFound("conversation");
  }

  /**
   * Deletes every conversation of the actor (their feedback on answers stays: it is a copy kept
   * for review, removed with the user's history by an admin's purge). Audited with the count.
   */
  async deleteAll(actor: Actor): Promise<number> {
    const n = await this.repo.conversations.deleteAllOf(actor.id);
    this.audit?.record(actor, "conversation.delete_all", null, { deleted: n });
    return n;
  }

  /** The standalone retrieval query for a question after `history` (LLM when present, heuristic otherwise). */
  async rewrite(question: string, history: ConversationTurn[], signal?: AbortSignal): Promise<string> {
    requireAskText(question, history); // before a model is asked to rewrite it
    if (history.length === 0) return question.trim();
    let llm: RewriteLlm | null = null;
    try {
      llm = await this.rewriter();
    } catch {
      llm = null; // a model that fails to load must not fail the question; the heuristic still works
    }
    const rewritten = await rewriteFollowUp(question, history, llm ?? undefined, signal ? { signal } : {});
    // Terms put in front of a question near the limit must not make the query too long to search.
    return rewritten.length <= TEXT_LIMITS.query ? rewritten : question.trim();
  }

  /** Starts a turn: the conversation (404 when it is not the actor's), its history, the retrieval query. */
  async begin(actor: Actor, question: string, options: { conversationId?: string; signal?: AbortSignal } = {}): Promise<Turn> {
    requireAskText(question);
    if (!options.conversationId) return { conversationId: newId("conv"), isNew: true, history: [], retrievalQuery: question.trim() };
    const c = await this.repo.conversations.get(actor.id, options.conversationId);
    if (!c) throw notFound("conversation");
    const history = (await this.visibleMessages(actor, c.id, HISTORY_MESSAGES)).map((m) => ({ role: m.role, content: m.content }));
    const retrievalQuery = await this.rewrite(question, history, options.signal);
    return { conversationId: c.id, isNew: false, history, retrievalQuery };
  }

  /**
   * Stores the turn: the question and the answer as shown. Returns the answer's message id (the
   * id feedback names), or null when the conversation vanished meanwhile.
   */
  async finish(actor: Actor, turn: Turn, question: string, answer: { answer: string; citations: Citation[] }): Promise<number | null> {
    const q = question.trim();
    // One transaction: a new conversation is never left without its first turn.
    return this.repo.withTransaction(async (tx) => {
      if (turn.isNew) await tx.conversations.create(actor.id, titleOf(question), turn.conversationId);
      const ids = await tx.conversations.append(actor.id, turn.conversationId, [
        { role: "user", content: q, retrievalQuery: turn.retrievalQuery !== q ? turn.retrievalQuery : null },
        { role: "assistant", content: answer.answer, citations: answer.citations },
      ]);
      return ids?.[1] ?? null;
    });
  }
}

function titleOf(question: string): string {
  const q = question.replace(/\s+/g, " ").trim();
  return q.length <= TITLE_CHARS ? q : `${q.slice(0, TITLE_CHARS - 1).trimEnd()}…`;
}
