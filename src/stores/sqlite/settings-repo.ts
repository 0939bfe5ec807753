/**
 * Small shared state (JSON values by key). Every process reads it fresh, so a change made by
 * one process (`kb worker` switching the active chunk table) is seen by the others (`kb serve`).
 * Synchronous underneath; services use it as metadata.ts's SettingsStore (metadata-store.ts),
 * whose `withTransaction` makes a unit of work atomic.
 */
import { eq, sql } from "drizzle-orm";
import type { Db } from "./db.ts";
import { settings } from "./schema.ts";

const nowSql = sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`;

export class SettingsRepo {
  constructor(private readonly db: Db) {}

  get<T>(key: string): T | undefined {
    const row = this.db.select({ value: settings.value }).from(settings).where(eq(settings.key, key)).get();
    return row === undefined ? undefined : (row.value as T);
  }

  set(key: string, value: unknown): void {
    this.db
      .insert(settings)
      .values({ key, value })
      .onConflictDoUpdate({ target: settings.key, set: { value, updatedAt: nowSql } })
      .run();
  }

  /** Sets the key only when it is absent; returns the value now stored. */
  setIfAbsent<T>(key: string, value: T): T {
    this.db.insert(settings).values({ key, value }).onConflictDoNothing().run();
    return this.get<T>(key)!;
  }

  delete(key: string): void {
    this.db.delete(settings).where(eq(settings.key, key)).run();
  }

  /** Adds `by` to a numeric value (absent = 0) and returns the new value. */
  increment(key: string, by = 1): number {
    const next = (Number(this.get<number>(key) ?? 0) || 0) + by;
    this.set(key, next);
    return next;
  }

  /** Keys with a prefix and their values. */
  withPrefix<T>(prefix: string): Map<string, T> {
    const rows = this.db
      .select()
      .from(settings)
      .where(sql`substr(${settings.key}, 1, ${prefix.length}) = ${prefix}`)
      .all();
    return new Map(rows.map((r) => [r.key, r.value as T]));
  }
}
