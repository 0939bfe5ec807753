/**
 * How a PostgreSQL repository reaches the database: `q()` is the open transaction of the
 * caller's async context (withTransaction, found with AsyncLocalStorage) or else the pool; `tx`
 * runs a repository's own multi-statement method as one transaction, or inside the caller's.
 */
import type { PgDatabase } from "drizzle-orm/pg-core";
import type { NodePgQueryResultHKT } from "drizzle-orm/node-postgres";
import type * as schema from "./schema.ts";

export type Q = PgDatabase<NodePgQueryResultHKT, typeof schema>;

export interface PgContext {
  q(): Q;
  tx<T>(fn: () => Promise<T>): Promise<T>;
  /** True inside a transaction (VACUUM and the like cannot run there). */
  inTransaction(): boolean;
}

export const changed = (r: { rowCount: number | null }) => r.rowCount ?? 0;

/** The current time as the ISO text every time column holds (UTC, milliseconds, "Z"). */
export { nowSql } from "./now.ts";
