/** A per-token token bucket: `perMinute` requests, refilled continuously. 429 + Retry-After beyond it. */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env.ts";
import { errorBody } from "../errors.ts";

export function rateLimit(perMinute: number): MiddlewareHandler<AppEnv> {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return async (c, next) => {
    if (perMinute <= 0) return next();
    const key = c.get("tokenId");
    const now = Date.now();
    const b = buckets.get(key) ?? { tokens: perMinute, at: now };
    b.tokens = Math.min(perMinute, b.tokens + ((now - b.at) / 60_000) * perMinute);
    b.at = now;
    if (b.tokens < 1) {
      buckets.set(key, b);
      const retry = Math.ceil(((1 - b.tokens) / perMinute) * 60);
      c.header("Retry-After", String(retry));
      return c.json(errorBody("rate_limited", `too many requests; retry in ${retry}s`), 429);
    }
    b.tokens -= 1;
    buckets.set(key, b);
    if (buckets.size > 10_000) buckets.clear(); // bounded memory; refills are generous anyway
    return next();
  };
}
