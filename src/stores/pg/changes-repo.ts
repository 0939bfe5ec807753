/**
 * Change versions and shared rate-limit counters on PostgreSQL (metadata.ts's ChangesStore and
 * RateLimitStore). `bump` also sends the announcement with NOTIFY on the same connection: inside
 * a transaction PostgreSQL delivers it when (and only if) the transaction commits, so a listener
 * never hears of a change it cannot read yet, nor of one that was rolled back.
 */
import { sql } from "drizzle-orm";
import type { ChangesStore, RateLimitStore } from "../metadata.ts";
import { changed, nowSql, type PgContext } from "./context.ts";

/** The NOTIFY channel of change announcements (change-feed.ts). */
export const CHANGES_CHANNEL = "kb_changes";

export class PgChangesRepo implements ChangesStore {
  constructor(private readonly c: PgContext) {}

  async bump(topic: string, payload: unknown): Promise<number> {
    const q = this.c.q();
    const json = payload === undefined ? null : JSON.stringify(payload);
    const r = await q.execute<{ version: number }>(sql`
      INSERT INTO changes (topic, version, payload) VALUES (${topic}, 1, ${json}::jsonb)
      ON CONFLICT (topic) DO UPDATE SET version = changes.version + 1, payload = excluded.payload, updated_at = ${nowSql}
      RETURNING version`);
    const version = Number(r.rows[0]!.version);
    await q.execute(sql`SELECT pg_notify(${CHANGES_CHANNEL}, ${JSON.stringify({ topic, version, payload: payload ?? null })})`);
    return version;
  }

  async version(topic: string): Promise<number> {
    const r = await this.c.q().execute<{ version: number }>(sql`SELECT version FROM changes WHERE topic = ${topic}`);
    return r.rows.length ? Number(r.rows[0]!.version) : 0;
  }

  async versions(): Promise<{ topic: string; version: number; payload: unknown }[]> {
    const r = await this.c.q().execute<{ topic: string; version: number; payload: unknown }>(sql`SELECT topic, version, payload FROM changes`);
    return r.rows.map((x) => ({ topic: x.topic, version: Number(x.version), payload: x.payload }));
  }
}

/** As SQLite's (../sqlite/changes-repo.ts): SET reads the row as it was; a caller whose clock is behind counts in the row's minute. */
export class PgRateLimitsRepo implements RateLimitStore {
  constructor(private readonly c: PgContext) {}

  async hit(key: string, minute: number, weight: number, limit: number): Promise<{ allowed: boolean; count: number; prevCount: number }> {
    const w = sql`${weight}::float8`;
    const l = sql`${limit}::int`;
    const np = sql`(CASE WHEN rate_limits.minute >= excluded.minute THEN rate_limits.prev_count WHEN rate_limits.minute = excluded.minute - 1 THEN rate_limits.count ELSE 0 END)`;
    const nc = sql`(CASE WHEN rate_limits.minute >= excluded.minute THEN rate_limits.count ELSE 0 END)`;
    const fits = sql`(${np} * ${w} + ${nc} + 1 <= ${l})`;
    const r = await this.c.q().execute<{ count: number; prev_count: number; allowed: boolean }>(sql`
      INSERT INTO rate_limits (key, minute, count, prev_count, allowed)
      VALUES (${key}, ${minute}::int, CASE WHEN ${l} >= 1 THEN 1 ELSE 0 END, 0, ${l} >= 1)
      ON CONFLICT (key) DO UPDATE SET
        prev_count = ${np},
        count = ${nc} + (CASE WHEN ${fits} THEN 1 ELSE 0 END),
        allowed = ${fits},
        minute = greatest(rate_limits.minute, excluded.minute)
      RETURNING count, prev_count, allowed`);
    const row = r.rows[0]!;
    return { allowed: row.allowed, count: Number(row.count), prevCount: Number(row.prev_count) };
  }

  async purgeBefore(minute: number): Promise<number> {
    return changed(await this.c.q().execute(sql`DELETE FROM rate_limits WHERE minute < ${minute}::int`));
  }
}
