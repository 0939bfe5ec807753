/**
 * Token buckets: `perMinute` requests per key, refilled continuously; 429 + Retry-After beyond.
 * Keyed per API token for authenticated traffic, per client address for unauthenticated traffic.
 * A token with its own limit (`rate_limit_per_minute`) gets a bucket of that size instead.
 */
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../env.ts";
import { errorBody } from "../errors.ts";

/** Keys tracked at once; beyond it the least recently seen key is forgotten (it restarts full). */
const MAX_KEYS = 10_000;

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

export function tooManyRequests(c: Context, retryAfterSeconds: number): Response {
  c.header("Retry-After", String(retryAfterSeconds));
  return c.json(errorBody("rate_limited", `too many requests; retry in ${retryAfterSeconds}s`), 429);
}

/** Per API token (after requireAuth): the token's own limit when it has one, else `perMinute`. */
export function rateLimit(perMinute: number): MiddlewareHandler<AppEnv> {
  const limiter = new RateLimiter(perMinute);
  return async (c, next) => {
    const retry = limiter.take(c.get("tokenId"), Date.now(), c.get("tokenRateLimit") ?? perMinute);
    if (retry > 0) return tooManyRequests(c, retry);
    return next();
  };
}

/**
 * Per client address, for routes answered without authentication. Requests to the
 * authenticated areas are charged by requireAuth only when they fail to authenticate, so a
 * client's valid token is never refused because of what others at its address do.
 */
export function rateLimitUnauthenticated(limiter: RateLimiter, isExempt: (path: string) => boolean): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (isExempt(c.req.path)) return next();
    const retry = limiter.take(c.get("clientAddress"));
    if (retry > 0) return tooManyRequests(c, retry);
    return next();
  };
}
