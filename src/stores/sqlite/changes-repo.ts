/**
 * Change versions (the polling side of the change feed) and shared rate-limit counters on
 * SQLite (metadata.ts's ChangesStore and RateLimitStore). Synchronous underneath, as the other
 * repositories; the metadata store wraps them.
 */
import type { Db } from "./db.ts";

export class ChangesRepo {
  constructor(private readonly db: Db) {}

  bump(topic: string, payload: unknown): number {
    const row = this.db.$client
      .prepare(
        `INSERT INTO changes (topic, version, payload) VALUES (?, 1, ?)
         ON CONFLICT(topic) DO UPDATE SET version = changes.version + 1, payload = excluded.payload, updated_at = strftime('%Y-%m-%dT%H:%M:%fZ','now')
         RETURNING version`,
      )
      .get(topic, payload === undefined ? null : JSON.stringify(payload)) as { version: number };
    return row.version;
  }

  version(topic: string): number {
    const row = this.db.$client.prepare("SELECT version FROM changes WHERE topic = ?").get(topic) as { version: number } | undefined;
    return row?.version ?? 0;
  }

  versions(): { topic: string; version: number; payload: unknown }[] {
    const rows = this.db.$client.prepare("SELECT topic, version, payload FROM changes").all() as { topic: string; version: number; payload: string | null }[];
    return rows.map((r) => ({ topic: r.topic, version: r.version, payload: r.payload === null ? null : (JSON.parse(r.payload) as unknown) }));
  }
}

/**
 * The sliding-window upsert (metadata.ts's RateLimitStore.hit). In an UPDATE's SET every
 * expression reads the row as it was, so `np` and `nc` below are the counts before this request.
 * A caller whose clock is behind the row's minute counts in the row's minute (never resets it).
 */
const np = `(CASE WHEN rate_limits.minute >= excluded.minute THEN rate_limits.prev_count WHEN rate_limits.minute = excluded.minute - 1 THEN rate_limits.count ELSE 0 END)`;
const nc = `(CASE WHEN rate_limits.minute >= excluded.minute THEN rate_limits.count ELSE 0 END)`;
const fits = `(${np} * @weight + ${nc} + 1 <= @limit)`;
const HIT = `INSERT INTO rate_limits (key, minute, count, prev_count, allowed) VALUES (@key, @minute, CASE WHEN @limit >= 1 THEN 1 ELSE 0 END, 0, @limit >= 1)
  ON CONFLICT(key) DO UPDATE SET
    prev_count = ${np},
    count = ${nc} + (CASE WHEN ${fits} THEN 1 ELSE 0 END),
    allowed = ${fits},
    minute = max(rate_limits.minute, excluded.minute)
  RETURNING count, prev_count AS prevCount, allowed`;

export class RateLimitsRepo {
  constructor(private readonly db: Db) {}

  hit(key: string, minute: number, weight: number, limit: number): { allowed: boolean; count: number; prevCount: number } {
    const r = this.db.$client.prepare(HIT).get({ key, minute, weight, limit }) as { count: number; prevCount: number; allowed: number };
    return { allowed: r.allowed === 1, count: r.count, prevCount: r.prevCount };
  }

  purgeBefore(minute: number): number {
    return this.db.$client.prepare("DELETE FROM rate_limits WHERE minute < ?").run(minute).changes;
  }
}
