/**
 * What erasing a document asks of PostgreSQL besides its own rows (which cascade): the same
 * scrubbing as SQLite's (../sqlite/erasure-repo.ts) with jsonb operators, and a VACUUM of the
 * tables that held the text so dead row versions are not kept in the table files.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { ErasureStore } from "../metadata.ts";
import { DELETED } from "../sqlite/erasure-repo.ts";
import type { PgContext } from "./context.ts";
import { answerFeedback, auditEvents, conversationMessages, documents, jobFiles } from "./schema.ts";
import { detailsDigest, ERASED_DIGEST } from "../audit-chain.ts";

export class PgErasureRepo implements ErasureStore {
  constructor(private readonly c: PgContext) {}

  async blobInUse(blobPath: string): Promise<boolean> {
    const doc = await this.c.q().select({ id: documents.id }).from(documents).where(eq(documents.blobPath, blobPath)).limit(1);
    if (doc.length) return true;
    const file = await this.c
      .q()
      .select({ id: jobFiles.jobId })
      .from(jobFiles)
      .where(and(eq(jobFiles.path, blobPath), inArray(jobFiles.status, ["queued", "running"])))
      .limit(1);
    return file.length > 0;
  }

  async scrubReferences(documentId: string): Promise<void> {
    const q = this.c.q();
    const messages = await q
      .select({ id: conversationMessages.id, citations: conversationMessages.citations })
      .from(conversationMessages)
      .where(sql`${conversationMessages.citations} IS NOT NULL AND strpos(${conversationMessages.citations}::text, ${documentId}) > 0`);
    for (const m of messages) {
      let changedAny = false;
      const next = ((m.citations ?? []) as Record<string, unknown>[]).map((c) => {
        if (c?.documentId !== documentId) return c;
        changedAny = true;
        return { ...c, quote: DELETED, title: DELETED, source: DELETED };
      });
      if (changedAny) await q.update(conversationMessages).set({ citations: next, content: DELETED }).where(eq(conversationMessages.id, m.id));
    }
    const feedback = await q
      .select({ id: answerFeedback.id, sources: answerFeedback.sources, expected: answerFeedback.expectedDocumentIds })
      .from(answerFeedback)
      .where(sql`strpos(${answerFeedback.sources}::text, ${documentId}) > 0 OR strpos(coalesce(${answerFeedback.expectedDocumentIds}::text, ''), ${documentId}) > 0`);
    for (const f of feedback) {
      if ((f.sources as { documentId?: string }[]).some((x) => x?.documentId === documentId)) await q.update(answerFeedback).set({ answer: DELETED }).where(eq(answerFeedback.id, f.id));
      if (f.expected !== null && f.expected.includes(documentId)) {
        await q
          .update(answerFeedback)
          .set({ expectedDocumentIds: f.expected.filter((x) => x !== documentId) })
          .where(eq(answerFeedback.id, f.id));
      }
    }
    await q.execute(sql`UPDATE job_files SET options = options - 'title' WHERE document_id = ${documentId} AND jsonb_typeof(options) = 'object'`);
    await q.execute(sql`UPDATE job_files SET source = ${DELETED} WHERE document_id = ${documentId} AND status NOT IN ('queued', 'running')`);
    // Audit events keep their place in the hash chain: the scrubbed details carry the digest of
    // the original ones (stores/audit-chain.ts), and verification reports them as erased.
    const named = await q
      .select({ id: auditEvents.id, details: auditEvents.details })
      .from(auditEvents)
      .where(sql`${auditEvents.target} = ${documentId} AND jsonb_typeof(${auditEvents.details}) = 'object' AND ${auditEvents.details} ?| ARRAY['source', 'title', 'files']`);
    for (const e of named) {
      const details = e.details!;
      const digest = detailsDigest(details);
      const { source: _s, title: _t, files: _f, ...rest } = details;
      await q.update(auditEvents).set({ details: { ...rest, [ERASED_DIGEST]: digest } }).where(eq(auditEvents.id, e.id));
    }
  }

  /**
   * VACUUM the tables an erasure changed, so the dead row versions holding the text are freed now
   * rather than at autovacuum's next pass. PostgreSQL's WAL and its archive (if the operator keeps
   * one) are not touched: say so to whoever relies on erasure (docs/architecture.md).
   */
  async checkpoint(): Promise<void> {
    if (this.c.inTransaction()) return;
    await this.c.q().execute(sql`VACUUM documents, document_pages, sensitive_spans, conversation_messages, answer_feedback, job_files, audit_events`);
  }
}
