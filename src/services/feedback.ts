/**
 * Feedback on answers: a user rates one of their own answers (👍/👎 + an optional comment); a
 * reviewer (`review_feedback`) reads everyone's, negative first, records what the answer should
 * have cited and said, and exports the reviewed items as an evaluation set that `kb eval` reads
 * (JSONL `{question, expected_document_ids, expected_answer?}`, src/eval/qa-formats.ts).
 *
 * What is stored is what the user was shown: the question and the answer masked as they saw
 * them, and only the cited sources (document ids and pages) they can read. Reviewers are shown
 * it through the same rules as conversation history: an answer citing a document the reviewer
 * may not read is withheld and its unreadable sources are left out, and text is masked for
 * reviewers without view_sensitive.
 */
import { authorize, Feedback, type Actor } from "../../policies/index.ts";
import type { FeedbackRating, FeedbackRow, MetadataStore } from "../stores/metadata.ts";
import type { Citation } from "./answer/types.ts";
import type { AuditLog } from "./audit.ts";
import { WITHHELD_ANSWER, type HistoryGuard } from "./conversation/conversations.ts";
import { badRequest, notFound } from "./errors.ts";
import { requireMaxLength, TEXT_LIMITS } from "./limits.ts";

export interface FeedbackSourceView {
  n: number;
  documentId: string;
  page: number;
  title: string;
}

/** What a user is shown of their own feedback. */
export interface OwnFeedbackView {
  id: string;
  messageId: number;
  conversationId: string;
  rating: FeedbackRating;
  comment: string | null;
  createdAt: string;
  updatedAt: string;
}

/** What a reviewer is shown. */
export interface FeedbackView extends OwnFeedbackView {
  user: string;
  question: string;
  answer: string;
  sources: FeedbackSourceView[];
  /** Cited sources left out because the reviewer may not read them. */
  hiddenSources: number;
  review: { reviewedAt: string; reviewedBy: string | null; expectedDocumentIds: string[]; expectedAnswer: string | null } | null;
}

/** One line of the export: the evaluation-set format `kb eval` reads (src/eval/qa-formats.ts, "feedback"). */
export interface FeedbackEvalItem {
  question: string;
  expected_document_ids: string[];
  expected_answer?: string;
}

export interface FeedbackDeps {
  store: MetadataStore;
  guard: HistoryGuard;
  /** The document's title (undefined when it is gone), shown to reviewers who may read it. */
  titleOf: (documentId: string) => string | undefined;
  audit: AuditLog;
}

const ownView = (r: FeedbackRow): OwnFeedbackView => ({
  id: r.id,
  messageId: r.messageId,
  conversationId: r.conversationId,
  rating: r.rating,
  comment: r.comment,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
});

export class FeedbackService {
  constructor(private readonly deps: FeedbackDeps) {}

  /**
   * Rates one of the actor's answers (an assistant message of one of their conversations; any
   * other id is "not found"). A repeat updates the earlier feedback and clears its review.
   */
  async give(actor: Actor, input: { messageId: number; conversationId?: string; rating: FeedbackRating; comment?: string | null }): Promise<OwnFeedbackView & { created: boolean }> {
    authorize(actor, "give", Feedback, null);
    requireMaxLength("comment", input.comment, TEXT_LIMITS.comment);
    const { store, guard } = this.deps;
    const message = await store.conversations.message(actor.id, input.messageId);
    if (!message || message.role !== "assistant" || (input.conversationId !== undefined && input.conversationId !== message.conversationId)) throw notFound("answer");
    const question = await store.conversations.previousMessage(actor.id, input.messageId);
    const redact = guard.redactorFor(actor);
    const citations = (message.citations ?? []) as Citation[];
    const readable = citations.filter((c) => guard.canReadDocument(actor, c.documentId));
    // As in the conversation: an answer citing what the asker can no longer read is withheld.
    const answer = readable.length < citations.length ? WITHHELD_ANSWER : redact(message.content);
    const comment = input.comment?.trim() ? input.comment.trim() : null;
    const { row, created } = await store.feedback.upsert({
      userId: actor.id,
      userName: actor.name,
      conversationId: message.conversationId,
      messageId: message.id,
      rating: input.rating,
      comment,
      question: redact(question?.role === "user" ? question.content : ""),
      answer,
      sources: (readable.length < citations.length ? [] : readable).map((c) => ({ n: c.n, documentId: c.documentId, page: c.page })),
    });
    this.deps.audit.record(actor, created ? "feedback.create" : "feedback.update", row.id, { messageId: row.messageId, conversationId: row.conversationId, rating: row.rating });
    return { ...ownView(row), created };
  }

  /** The actor's own feedback on these answers, by message id (conversation views show it). */
  async ofMessages(actor: Actor, messageIds: number[]): Promise<Map<number, OwnFeedbackView>> {
    const rows = await this.deps.store.feedback.ofMessages(actor.id, messageIds);
    return new Map(rows.map((r) => [r.messageId, ownView(r)]));
  }

  private reviewerView(reviewer: Actor): (r: FeedbackRow) => FeedbackView {
    const { guard, titleOf } = this.deps;
    const redact = guard.redactorFor(reviewer);
    return (r) => {
      const sources = r.sources.flatMap((s) => {
        const title = titleOf(s.documentId);
        return title !== undefined && guard.canReadDocument(reviewer, s.documentId) ? [{ ...s, title: redact(title) }] : [];
      });
      const hiddenSources = r.sources.length - sources.length;
      const expected = (r.expectedDocumentIds ?? []).filter((id) => guard.canReadDocument(reviewer, id));
      return {
        ...ownView(r),
        comment: r.comment === null ? null : redact(r.comment),
        user: r.userName,
        question: redact(r.question),
        answer: hiddenSources > 0 ? WITHHELD_ANSWER : redact(r.answer),
        sources,
        hiddenSources,
        review: r.reviewedAt ? { reviewedAt: r.reviewedAt, reviewedBy: r.reviewedBy, expectedDocumentIds: expected, expectedAnswer: r.expectedAnswer === null ? null : redact(r.expectedAnswer) } : null,
      };
    };
  }

  /** Everyone's feedback, negative first, then the most recent (reviewers). */
  async list(actor: Actor, q: { rating?: FeedbackRating; reviewed?: boolean; limit?: number; offset?: number }): Promise<{ items: FeedbackView[]; total: number }> {
    authorize(actor, "list", Feedback, null);
    const limit = Math.min(Math.max(q.limit ?? 50, 1), 200);
    const offset = Math.max(q.offset ?? 0, 0);
    const { items, total } = await this.deps.store.feedback.list({ rating: q.rating, reviewed: q.reviewed, limit, offset });
    return { items: items.map(this.reviewerView(actor)), total };
  }

  /**
   * Marks an item reviewed with the documents that answer its question (each one the reviewer
   * may read; an unknown or hidden id is refused) and, optionally, the answer expected.
   */
  async review(actor: Actor, id: string, input: { expectedDocumentIds: string[]; expectedAnswer?: string | null }): Promise<FeedbackView> {
    authorize(actor, "review", Feedback, null);
    requireMaxLength("expectedAnswer", input.expectedAnswer, TEXT_LIMITS.message);
    const ids = [...new Set(input.expectedDocumentIds)];
    const bad = ids.find((d) => !this.deps.guard.canReadDocument(actor, d));
    if (bad !== undefined) throw badRequest(`document ${bad} not found`, "unknown_document");
    const expectedAnswer = input.expectedAnswer?.trim() ? input.expectedAnswer.trim() : null;
    const row = await this.deps.store.feedback.review(id, { reviewedBy: `user:${actor.name}`, expectedDocumentIds: ids, expectedAnswer });
    if (!row) throw notFound("feedback");
    this.deps.audit.record(actor, "feedback.review", id, { expectedDocumentIds: ids, expectedAnswer: expectedAnswer !== null });
    return this.reviewerView(actor)(row);
  }

  /**
   * The reviewed items as evaluation lines, oldest first, in pages (streamed by the route). Only
   * expected documents the exporter may still read are written; an item left with none is skipped.
   * Authorized and audited before the first line.
   */
  async exportReviewed(actor: Actor, pageSize = 500): Promise<AsyncGenerator<FeedbackEvalItem>> {
    authorize(actor, "export", Feedback, null);
    this.deps.audit.record(actor, "feedback.export", null);
    const { store, guard } = this.deps;
    const redact = guard.redactorFor(actor);
    return (async function* () {
      let after: string | null = null;
      for (;;) {
        const page = await store.feedback.reviewed(after, pageSize);
        for (const r of page) {
          const ids = (r.expectedDocumentIds ?? []).filter((d) => guard.canReadDocument(actor, d));
          const question = redact(r.question).trim();
          if (ids.length === 0 || !question) continue;
          yield { question, expected_document_ids: ids, ...(r.expectedAnswer ? { expected_answer: redact(r.expectedAnswer) } : {}) };
        }
        if (page.length < pageSize) return;
        after = page.at(-1)!.id;
      }
    })();
  }
}
