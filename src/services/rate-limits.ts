/**
 * Request rate limits: per API token (its own `rate_limit_per_minute`, else KB_RATE_LIMIT_PER_MIN;
 * one budget across /api and /v1), per SCIM token, and per client address for unauthenticated
 * traffic (KB_ANON_RATE_LIMIT_PER_MIN). Each take answers 0 (allowed) or the seconds until a
 * request would be (429 + Retry-After).
 *
 * Two implementations behind one service:
 * - in memory (`RateLimiter`, token buckets refilled continuously): SQLite mode, where one
 *   `kb serve` process answers requests;
 * - shared (PostgreSQL mode, several replicas): counters in the metadata store's `rate_limits`
 *   rows, a sliding window of one minute (the previous minute's count weighted by the share of it
 *   still inside the window, plus this minute's), updated by one atomic upsert that counts the
 *   request only when it fits, so N replicas together allow the limit, not N times it.
 *   In-memory fast path: a key refused here is refused locally until the time the refusal named
 *   (no round trip); that stays exact, since other replicas can only add to a key's count.
 */
import type { RateLimitStore } from "../stores/metadata.ts";

/** Keys tracked at once; beyond it the least recently seen key is forgotten (it restarts full). */
const MAX_KEYS = 10_000;
/** How often a process deletes counters nobody used for two minutes. */
const PURGE_EVERY_MS = 10 * 60_000;

/** Token buckets: `perMinute` requests per key, refilled continuously (in-memory, one process). */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number; perMinute: number }>();

  constructor(
    readonly perMinute: number,
    private readonly maxKeys = MAX_KEYS,
  ) {}

  get enabled(): boolean {
    return this.perMinute > 0;
  }

  /**
   * Takes one request from `key`'s bucket: 0 when allowed, else the seconds until one is.
   * `perMinute`: this key's own limit instead of the limiter's (0: unlimited).
   */
  take(key: string, now = Date.now(), perMinute = this.perMinute): number {
    if (perMinute <= 0) return 0;
    let b = this.buckets.get(key);
    // A changed limit (a new token limit, a restarted server's default) starts a full bucket.
    if (!b || b.perMinute !== perMinute) b = { tokens: perMinute, at: now, perMinute };
    b.tokens = Math.min(perMinute, b.tokens + ((now - b.at) / 60_000) * perMinute);
    b.at = now;
    // Re-inserted so that the map's order is least recently seen first.
    this.buckets.delete(key);
    this.buckets.set(key, b);
    // Evicting the oldest bucket (not clearing them all) keeps a flood of new keys from
    // resetting the buckets of the keys that are being limited right now.
    while (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    if (b.tokens < 1) return Math.ceil(((1 - b.tokens) / perMinute) * 60);
    b.tokens -= 1;
    return 0;
  }

  get size(): number {
    return this.buckets.size;
  }
}

/**
 * Milliseconds until a request fits the sliding window again, after a refusal at `fraction` of
 * the current minute with `prev` requests counted in the previous minute and `cur` in this one.
 */
export function slidingWaitMs(prev: number, cur: number, limit: number, fraction: number): number {
  // Later in this minute the previous minute's weight shrinks: prev × (1 - f - d) + cur + 1 ≤ limit.
  if (cur + 1 <= limit && prev > 0) {
    const d = Math.max(0, 1 - fraction - (limit - cur - 1) / prev);
    if (fraction + d < 1) return d * 60_000;
  }
  // In the next minute this one's count is the previous: cur × (1 - f') + 1 ≤ limit.
  const next = cur > 0 ? Math.max(0, 1 - (limit - 1) / cur) : 0;
  return (1 - fraction + next) * 60_000;
}

export interface RateLimitSettings {
  /** KB_RATE_LIMIT_PER_MIN: per token (API, /v1, SCIM); 0: unlimited. */
  perMinute: number;
  /** KB_ANON_RATE_LIMIT_PER_MIN: per client address, unauthenticated; 0: unlimited. */
  anonPerMinute: number;
}

export class RateLimits {
  private readonly tokens: RateLimiter;
  private readonly scim: RateLimiter;
  private readonly addresses: RateLimiter;
  /** Shared mode's fast path: key → when its last refusal ends (ms). */
  private readonly refusedUntil = new Map<string, number>();
  private lastPurge = 0;

  constructor(
    private readonly settings: RateLimitSettings,
    /** The shared counters (PostgreSQL mode), or null: in memory. */
    private readonly store: RateLimitStore | null = null,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = new RateLimiter(settings.perMinute);
    this.scim = new RateLimiter(settings.perMinute);
    this.addresses = new RateLimiter(settings.anonPerMinute);
  }

  /** Whether the counters are shared by every process on the store. */
  get shared(): boolean {
    return this.store !== null;
  }

  /** An API token's request (/api and /v1 share the budget); `own`: the token's own limit, if set. */
  takeToken(tokenId: string, own: number | null | undefined): Promise<number> {
    const limit = own ?? this.settings.perMinute;
    return this.store ? this.hit(`t:${tokenId}`, limit) : Promise.resolve(this.tokens.take(tokenId, this.now(), limit));
  }

  /** A SCIM token's request. */
  takeScim(tokenId: string): Promise<number> {
    return this.store ? this.hit(`s:${tokenId}`, this.settings.perMinute) : Promise.resolve(this.scim.take(tokenId, this.now()));
  }

  /** An unauthenticated request, or a failed authentication, from a client address. */
  takeAddress(address: string): Promise<number> {
    return this.store ? this.hit(`a:${address}`, this.settings.anonPerMinute) : Promise.resolve(this.addresses.take(address, this.now()));
  }

  private async hit(key: string, limit: number): Promise<number> {
    if (limit <= 0) return 0;
    const now = this.now();
    const until = this.refusedUntil.get(key);
    if (until !== undefined) {
      if (now < until) return Math.max(1, Math.ceil((until - now) / 1000));
      this.refusedUntil.delete(key);
    }
    const minute = Math.floor(now / 60_000);
    const fraction = (now - minute * 60_000) / 60_000;
    const r = await this.store!.hit(key, minute, 1 - fraction, limit);
    this.maybePurge(now, minute);
    if (r.allowed) return 0;
    const wait = slidingWaitMs(r.prevCount, r.count, limit, fraction);
    this.refusedUntil.set(key, now + wait);
    while (this.refusedUntil.size > MAX_KEYS) this.refusedUntil.delete(this.refusedUntil.keys().next().value!);
    return Math.max(1, Math.ceil(wait / 1000));
  }

  private maybePurge(now: number, minute: number): void {
    if (now - this.lastPurge < PURGE_EVERY_MS) return;
    this.lastPurge = now;
    void this.store!.purgeBefore(minute - 2).catch(() => {});
  }
}
