/**
 * SCIM clients' tokens and the SCIM view of provisioned users and groups (schema.ts
 * `scim_tokens`, `scim_resources`). Synchronous underneath; services use them as metadata.ts's
 * ScimTokenStore and ScimResourceStore (metadata-store.ts).
 */
import { and, asc, eq, isNull, lt, or, sql } from "drizzle-orm";
import type { Db } from "./db.ts";
import { scimResources, scimTokens } from "./schema.ts";

type ScimTokenRow = typeof scimTokens.$inferSelect;
type ScimResourceRow = typeof scimResources.$inferSelect;
type ResourceType = ScimResourceRow["resourceType"];

const nowSql = sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`;

export class ScimTokensRepo {
  constructor(private readonly db: Db) {}

  insert(row: { id: string; source: string; tokenHash: string; name?: string | null; expiresAt?: string | null }): void {
    this.db.insert(scimTokens).values(row).run();
  }

  byHash(hash: string): ScimTokenRow | undefined {
    return this.db.select().from(scimTokens).where(eq(scimTokens.tokenHash, hash)).get();
  }

  byId(id: string): ScimTokenRow | undefined {
    return this.db.select().from(scimTokens).where(eq(scimTokens.id, id)).get();
  }

  list(): ScimTokenRow[] {
    return this.db.select().from(scimTokens).orderBy(asc(scimTokens.createdAt), asc(scimTokens.id)).all();
  }

  revoke(id: string, at: string): boolean {
    return this.db.update(scimTokens).set({ revokedAt: at }).where(and(eq(scimTokens.id, id), isNull(scimTokens.revokedAt))).run().changes > 0;
  }

  touchIfStale(id: string, at: string, staleBefore: string): boolean {
    return (
      this.db
        .update(scimTokens)
        .set({ lastUsedAt: at })
        .where(and(eq(scimTokens.id, id), or(isNull(scimTokens.lastUsedAt), lt(scimTokens.lastUsedAt, staleBefore))))
        .run().changes > 0
    );
  }
}

export class ScimResourcesRepo {
  constructor(private readonly db: Db) {}

  get(source: string, type: ResourceType, id: string): ScimResourceRow | undefined {
    return this.db
      .select()
      .from(scimResources)
      .where(and(eq(scimResources.source, source), eq(scimResources.resourceType, type), eq(scimResources.id, id)))
      .get();
  }

  byNameKey(source: string, type: ResourceType, nameKey: string): ScimResourceRow | undefined {
    return this.db
      .select()
      .from(scimResources)
      .where(and(eq(scimResources.source, source), eq(scimResources.resourceType, type), eq(scimResources.nameKey, nameKey)))
      .get();
  }

  byExternalId(source: string, type: ResourceType, externalId: string): ScimResourceRow[] {
    return this.db
      .select()
      .from(scimResources)
      .where(and(eq(scimResources.source, source), eq(scimResources.resourceType, type), eq(scimResources.externalId, externalId)))
      .orderBy(asc(scimResources.createdAt), asc(scimResources.id))
      .all();
  }

  list(source: string, type: ResourceType): ScimResourceRow[] {
    return this.db
      .select()
      .from(scimResources)
      .where(and(eq(scimResources.source, source), eq(scimResources.resourceType, type)))
      .orderBy(asc(scimResources.createdAt), asc(scimResources.id))
      .all();
  }

  insert(row: Pick<ScimResourceRow, "source" | "id" | "resourceType" | "principal" | "nameKey" | "externalId" | "attributes">): void {
    this.db.insert(scimResources).values(row).run();
  }

  update(source: string, id: string, values: Pick<ScimResourceRow, "nameKey" | "externalId" | "attributes">): boolean {
    return (
      this.db
        .update(scimResources)
        .set({ ...values, version: sql`${scimResources.version} + 1`, updatedAt: nowSql })
        .where(and(eq(scimResources.source, source), eq(scimResources.id, id)))
        .run().changes > 0
    );
  }

  delete(source: string, id: string): boolean {
    return this.db.delete(scimResources).where(and(eq(scimResources.source, source), eq(scimResources.id, id))).run().changes > 0;
  }
}
