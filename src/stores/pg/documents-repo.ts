/** Document metadata and page texts on PostgreSQL (metadata.ts's DocumentStore). */
import { and, asc, count, eq, gt, inArray, lt } from "drizzle-orm";
import type { DocumentIdentity, DocumentRow, DocumentStore, NewDocumentRow } from "../metadata.ts";
import { changed, nowSql, type PgContext } from "./context.ts";
import { documentPages, documents } from "./schema.ts";

export class PgDocumentsRepo implements DocumentStore {
  constructor(private readonly c: PgContext) {}

  async byId(id: string): Promise<DocumentRow | undefined> {
    return (await this.c.q().select().from(documents).where(eq(documents.id, id)))[0];
  }

  async bySource(source: string): Promise<DocumentRow | undefined> {
    return (await this.c.q().select().from(documents).where(eq(documents.source, source)).orderBy(asc(documents.createdAt)).limit(1))[0];
  }

  async withSource(source: string): Promise<DocumentRow[]> {
    return this.c.q().select().from(documents).where(eq(documents.source, source)).orderBy(asc(documents.createdAt), asc(documents.id));
  }

  async byIdentity(identity: DocumentIdentity): Promise<DocumentRow | undefined> {
    return (
      await this.c
        .q()
        .select()
        .from(documents)
        .where(and(eq(documents.identityScope, identity.scope), eq(documents.identityKey, identity.key)))
    )[0];
  }

  async inScope(scope: string): Promise<DocumentRow[]> {
    return this.c.q().select().from(documents).where(eq(documents.identityScope, scope)).orderBy(asc(documents.identityKey));
  }

  async detachIdentity(id: string): Promise<void> {
    await this.c.q().update(documents).set({ identityScope: null, identityKey: null }).where(eq(documents.id, id));
  }

  async all(): Promise<DocumentRow[]> {
    return this.c.q().select().from(documents).orderBy(asc(documents.source));
  }

  async countIndexedBeforeSensitiveVersion(version: number): Promise<number> {
    const r = await this.c
      .q()
      .select({ n: count() })
      .from(documents)
      .where(and(eq(documents.status, "ready"), gt(documents.version, 0), lt(documents.sensitiveVersion, version)));
    return r[0]?.n ?? 0;
  }

  async indexedBeforeSensitiveVersion(ids: readonly string[], version: number): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.c
      .q()
      .select({ id: documents.id })
      .from(documents)
      .where(and(inArray(documents.id, [...new Set(ids)]), lt(documents.sensitiveVersion, version)));
    return new Set(rows.map((r) => r.id));
  }

  async count(): Promise<number> {
    return (await this.c.q().select({ n: count() }).from(documents))[0]?.n ?? 0;
  }

  async insert(row: NewDocumentRow): Promise<void> {
    await this.c.q().insert(documents).values(row);
  }

  async update(id: string, values: Partial<NewDocumentRow>): Promise<void> {
    await this.c
      .q()
      .update(documents)
      .set({ ...values, updatedAt: nowSql })
      .where(eq(documents.id, id));
  }

  async commitVersion(id: string, values: Partial<NewDocumentRow>, pages: { page: number; text: string }[]): Promise<boolean> {
    return this.c.tx(async () => {
      const r = await this.c
        .q()
        .update(documents)
        .set({ ...values, updatedAt: nowSql })
        .where(eq(documents.id, id));
      if (changed(r) === 0) return false;
      await this.c.q().delete(documentPages).where(eq(documentPages.documentId, id));
      // In slices: one statement's parameters are limited (65,535).
      for (let i = 0; i < pages.length; i += 1000) {
        await this.c
          .q()
          .insert(documentPages)
          .values(pages.slice(i, i + 1000).map((p) => ({ documentId: id, page: p.page, text: withoutNul(p.text) })));
      }
      return true;
    });
  }

  async unversioned(): Promise<DocumentRow[]> {
    return this.c.q().select().from(documents).where(and(eq(documents.version, 0), eq(documents.status, "processing")));
  }

  async delete(id: string): Promise<void> {
    await this.c.q().delete(documents).where(eq(documents.id, id));
  }

  async pages(id: string): Promise<{ page: number; text: string }[]> {
    return this.c
      .q()
      .select({ page: documentPages.page, text: documentPages.text })
      .from(documentPages)
      .where(eq(documentPages.documentId, id))
      .orderBy(asc(documentPages.page));
  }
}

/** PostgreSQL's text cannot hold U+0000 (SQLite's can); an extractor that left one loses it here. */
const withoutNul = (s: string) => (s.includes("\u0000") ? s.replaceAll("\u0000", "") : s);
