/**
 * Recorded personal-data spans per chunk (see schema.ts `sensitive_spans`). Synchronous
 * underneath; services use it as metadata.ts's SensitiveStore (metadata-store.ts).
 */
import { and, count, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "./db.ts";
import { sensitiveSpans } from "./schema.ts";

export type SensitiveSpanRow = typeof sensitiveSpans.$inferSelect;

export class SensitiveRepo {
  constructor(private readonly db: Db) {}

  /** Makes `rows` the only recorded spans of the document (one transaction). */
  replaceDocument(documentId: string, rows: Omit<SensitiveSpanRow, "documentId">[]): void {
    this.db.transaction((tx) => {
      tx.delete(sensitiveSpans).where(eq(sensitiveSpans.documentId, documentId)).run();
      for (const r of rows) tx.insert(sensitiveSpans).values({ ...r, documentId }).onConflictDoNothing().run();
    });
  }

  spansOfChunks(chunkIds: string[]): SensitiveSpanRow[] {
    if (chunkIds.length === 0) return [];
    return this.db.select().from(sensitiveSpans).where(inArray(sensitiveSpans.chunkId, chunkIds)).all();
  }

  /** Counts per kind for one document. */
  countsOf(documentId: string): Record<string, number> {
    const rows = this.db
      .select({ kind: sensitiveSpans.kind, n: count() })
      .from(sensitiveSpans)
      .where(eq(sensitiveSpans.documentId, documentId))
      .groupBy(sensitiveSpans.kind)
      .all();
    return Object.fromEntries(rows.map((r) => [r.kind, r.n]));
  }

  /** Counts per document and kind, for documents with any (optionally one kind). */
  report(kind?: SensitiveSpanRow["kind"]): { documentId: string; kind: SensitiveSpanRow["kind"]; n: number }[] {
    return this.db
      .select({ documentId: sensitiveSpans.documentId, kind: sensitiveSpans.kind, n: sql<number>`count(*)` })
      .from(sensitiveSpans)
      .where(kind ? and(eq(sensitiveSpans.kind, kind)) : undefined)
      .groupBy(sensitiveSpans.documentId, sensitiveSpans.kind)
      .orderBy(sensitiveSpans.documentId, sensitiveSpans.kind)
      .all();
  }
}
