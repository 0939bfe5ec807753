import { sql } from "drizzle-orm";

/** The time columns' ISO-8601 text in UTC (as SQLite's strftime('%Y-%m-%dT%H:%M:%fZ','now')). */
export const nowSql = sql`(to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))`;
