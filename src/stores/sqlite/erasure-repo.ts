/**
 * What erasing a document asks of SQLite besides its own rows (which cascade: page texts,
 * personal-data spans): quotes of it in conversations, names of it in audit details and job
 * records, whether another document still needs its original, and pushing freed pages out of
 * the WAL. Synchronous underneath; services use it as metadata.ts's ErasureStore
 * (metadata-store.ts).
 */
import { sql } from "drizzle-orm";
import { detailsDigest, ERASED_DIGEST } from "../audit-chain.ts";
import type { Db } from "./db.ts";

export const DELETED = "[deleted]";

export class ErasureRepo {
  constructor(private readonly db: Db) {}

  /**
   * True when some document's live version still names this original, or an unfinished job
   * file will read it (an upload waiting for its job, a reindex).
   */
  blobInUse(blobPath: string): boolean {
    const client = this.db.$client;
    return (
      client.prepare("SELECT 1 FROM documents WHERE blob_path = ? LIMIT 1").get(blobPath) !== undefined ||
      client.prepare("SELECT 1 FROM job_files WHERE path = ? AND status IN ('queued', 'running') LIMIT 1").get(blobPath) !== undefined
    );
  }

  /**
   * Replaces what conversations quoted of a document (citation quote, title, source, and the
   * text of an answer that cites it) with "[deleted]", and so the copy of such an answer kept
   * with feedback on it; the citation keeps the document id and page, other citations of the
   * answer stay as they were. Audit events about it keep actor,
   * action, target id and outcome; names and sources in their details are removed. Job file
   * records lose the title given with the file and (finished ones) the file's name.
   * Runs inside the caller's transaction.
   */
  scrubReferences(documentId: string): void {
    const client = this.db.$client;
    const messages = client.prepare("SELECT id, citations FROM conversation_messages WHERE citations IS NOT NULL AND instr(citations, ?) > 0").all(documentId) as { id: number; citations: string }[];
    // The answer itself is derived from what it cites (an extractive answer is the quotes, a
    // model's answer may paraphrase them): no reliable way to keep the rest, so it goes too.
    const update = client.prepare("UPDATE conversation_messages SET citations = ?, content = ? WHERE id = ?");
    for (const m of messages) {
      const citations = JSON.parse(m.citations) as Record<string, unknown>[];
      let changed = false;
      const next = citations.map((c) => {
        if (c?.documentId !== documentId) return c;
        changed = true;
        return { ...c, quote: DELETED, title: DELETED, source: DELETED };
      });
      if (changed) update.run(JSON.stringify(next), DELETED, m.id);
    }
    // Feedback keeps a copy of the answer it judged: the same goes for it. Its sources are ids and
    // pages only; an expected document of a review is dropped from the list.
    const feedback = client
      .prepare("SELECT id, sources, expected_document_ids AS expected FROM answer_feedback WHERE instr(sources, ?) > 0 OR instr(coalesce(expected_document_ids, ''), ?) > 0")
      .all(documentId, documentId) as { id: string; sources: string; expected: string | null }[];
    const scrubAnswer = client.prepare("UPDATE answer_feedback SET answer = ? WHERE id = ?");
    const scrubExpected = client.prepare("UPDATE answer_feedback SET expected_document_ids = ? WHERE id = ?");
    for (const f of feedback) {
      if ((JSON.parse(f.sources) as { documentId?: string }[]).some((x) => x?.documentId === documentId)) scrubAnswer.run(DELETED, f.id);
      if (f.expected !== null) {
        const expected = JSON.parse(f.expected) as string[];
        if (expected.includes(documentId)) scrubExpected.run(JSON.stringify(expected.filter((x) => x !== documentId)), f.id);
      }
    }
    // Job records: the title given with the file, and a finished file's name (a running job
    // still reads it).
    this.db.run(sql`UPDATE job_files SET options = json_remove(options, '$.title') WHERE document_id = ${documentId} AND json_valid(options)`);
    this.db.run(sql`UPDATE job_files SET source = ${DELETED} WHERE document_id = ${documentId} AND status NOT IN ('queued', 'running')`);
    // Audit events keep their place in the hash chain: the scrubbed details carry the digest of
    // the original ones (stores/audit-chain.ts), and verification reports them as erased.
    const named = client
      .prepare(
        "SELECT id, details FROM audit_events WHERE target = ? AND details IS NOT NULL AND json_valid(details) AND (json_type(details, '$.source') IS NOT NULL OR json_type(details, '$.title') IS NOT NULL OR json_type(details, '$.files') IS NOT NULL)",
      )
      .all(documentId) as { id: number; details: string }[];
    const scrubAudit = client.prepare("UPDATE audit_events SET details = ? WHERE id = ?");
    for (const e of named) {
      const details = JSON.parse(e.details) as Record<string, unknown>;
      const digest = detailsDigest(details);
      const { source: _s, title: _t, files: _f, ...rest } = details;
      scrubAudit.run(JSON.stringify({ ...rest, [ERASED_DIGEST]: digest }), e.id);
    }
  }

  /** Moves the WAL's pages into the database and truncates it, so freed text is not kept in the WAL file. */
  checkpoint(): void {
    this.db.$client.pragma("wal_checkpoint(TRUNCATE)");
  }
}
