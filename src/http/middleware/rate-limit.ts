/**
 * Rate limits as middleware: 429 + Retry-After beyond the limit. Keyed per API token for
 * authenticated traffic, per client address for unauthenticated traffic; a token with its own
 * limit (`rate_limit_per_minute`) gets that instead. The counting is the service's
 * (src/services/rate-limits.ts: in memory on SQLite, shared by every replica on PostgreSQL).
 */
import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../env.ts";
import { errorBody } from "../errors.ts";

export { RateLimiter } from "../../services/rate-limits.ts";

export function tooManyRequests(c: Context, retryAfterSeconds: number): Response {
  c.header("Retry-After", String(retryAfterSeconds));
  return c.json(errorBody("rate_limited", `too many requests; retry in ${retryAfterSeconds}s`), 429);
}

/** Per API token (after requireAuth): the token's own limit when it has one, else KB_RATE_LIMIT_PER_MIN. */
export function rateLimit(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const retry = await c.get("kb").rateLimits.takeToken(c.get("tokenId"), c.get("tokenRateLimit"));
    if (retry > 0) return tooManyRequests(c, retry);
    return next();
  };
}

/**
 * Per client address, for routes answered without authentication. Requests to the
 * authenticated areas are charged by requireAuth only when they fail to authenticate, so a
 * client's valid token is never refused because of what others at its address do.
 */
export function rateLimitUnauthenticated(isExempt: (path: string) => boolean): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (isExempt(c.req.path)) return next();
    const retry = await c.get("kb").rateLimits.takeAddress(c.get("clientAddress"));
    if (retry > 0) return tooManyRequests(c, retry);
    return next();
  };
}
