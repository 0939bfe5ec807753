/**
 * Document metadata and the extracted text of each live document's pages. Synchronous
 * underneath; services use it as metadata.ts's DocumentStore (metadata-store.ts).
 */
import { and, asc, count, eq, gt, inArray, lt, sql } from "drizzle-orm";
import type { DocumentIdentity } from "../metadata.ts";
import type { Db } from "./db.ts";
import { documentPages, documents } from "./schema.ts";

export type DocumentRow = typeof documents.$inferSelect;
export type NewDocumentRow = typeof documents.$inferInsert;

export class DocumentsRepo {
  constructor(private readonly db: Db) {}

  byId(id: string): DocumentRow | undefined {
    return this.db.select().from(documents).where(eq(documents.id, id)).get();
  }

  /** One document with this source (sources are not unique: prefer `withSource` outside tests). */
  bySource(source: string): DocumentRow | undefined {
    return this.db.select().from(documents).where(eq(documents.source, source)).orderBy(asc(documents.createdAt)).get();
  }

  /** Every document with this source, oldest first. */
  withSource(source: string): DocumentRow[] {
    return this.db.select().from(documents).where(eq(documents.source, source)).orderBy(asc(documents.createdAt), asc(documents.id)).all();
  }

  byIdentity(identity: DocumentIdentity): DocumentRow | undefined {
    return this.db
      .select()
      .from(documents)
      .where(and(eq(documents.identityScope, identity.scope), eq(documents.identityKey, identity.key)))
      .get();
  }

  /** Every document named in a scope (a sync root's documents). */
  inScope(scope: string): DocumentRow[] {
    return this.db.select().from(documents).where(eq(documents.identityScope, scope)).orderBy(asc(documents.identityKey)).all();
  }

  /** No name leads to the document any more; it stays as it is otherwise. */
  detachIdentity(id: string): void {
    this.db.update(documents).set({ identityScope: null, identityKey: null }).where(eq(documents.id, id)).run();
  }

  /** Every document (ordered by source); callers filter by access with the document policy. */
  all(): DocumentRow[] {
    return this.db.select().from(documents).orderBy(asc(documents.source)).all();
  }

  /** Ready documents whose index was written by a personal-data detector older than `version`. */
  countIndexedBeforeSensitiveVersion(version: number): number {
    return (
      this.db
        .select({ n: count() })
        .from(documents)
        .where(and(eq(documents.status, "ready"), gt(documents.version, 0), lt(documents.sensitiveVersion, version)))
        .get()?.n ?? 0
    );
  }

  /** Those of `ids` whose index was written by a personal-data detector older than `version`. */
  indexedBeforeSensitiveVersion(ids: readonly string[], version: number): Set<string> {
    if (ids.length === 0) return new Set();
    const rows = this.db
      .select({ id: documents.id })
      .from(documents)
      .where(and(inArray(documents.id, [...new Set(ids)]), lt(documents.sensitiveVersion, version)))
      .all();
    return new Set(rows.map((r) => r.id));
  }

  count(): number {
    return this.db.select({ n: count() }).from(documents).get()?.n ?? 0;
  }

  insert(row: NewDocumentRow): void {
    this.db.insert(documents).values(row).run();
  }

  update(id: string, values: Partial<NewDocumentRow>): void {
    this.db
      .update(documents)
      .set({ ...values, updatedAt: sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))` })
      .where(eq(documents.id, id))
      .run();
  }

  /**
   * Marks a new version live and stores its page texts, in one transaction. False when the
   * document no longer exists (deleted meanwhile): nothing is written.
   */
  commitVersion(id: string, values: Partial<NewDocumentRow>, pages: { page: number; text: string }[]): boolean {
    return this.db.transaction((tx) => {
      const r = tx
        .update(documents)
        .set({ ...values, updatedAt: sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))` })
        .where(eq(documents.id, id))
        .run();
      if (r.changes === 0) return false;
      tx.delete(documentPages).where(eq(documentPages.documentId, id)).run();
      for (const p of pages) tx.insert(documentPages).values({ documentId: id, page: p.page, text: p.text }).run();
      return true;
    });
  }

  /** Documents created for a job but never given a version (status processing, version 0). */
  unversioned(): DocumentRow[] {
    return this.db.select().from(documents).where(and(eq(documents.version, 0), eq(documents.status, "processing"))).all();
  }

  delete(id: string): void {
    this.db.delete(documents).where(eq(documents.id, id)).run();
  }

  pages(id: string): { page: number; text: string }[] {
    return this.db
      .select({ page: documentPages.page, text: documentPages.text })
      .from(documentPages)
      .where(eq(documentPages.documentId, id))
      .orderBy(asc(documentPages.page))
      .all();
  }
}
