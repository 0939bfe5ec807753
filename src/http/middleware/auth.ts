/** Bearer-token authentication for every /api and /v1 route. */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env.ts";
import { errorBody } from "../errors.ts";
import { tooManyRequests, type RateLimiter } from "./rate-limit.ts";

/**
 * `unauthenticated`: the per-address limiter that failed attempts are charged to (429 beyond
 * it); requests with a valid token are never charged to it.
 */
export function requireAuth(unauthenticated?: RateLimiter): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const kb = c.get("kb");
    const header = c.req.header("authorization") ?? "";
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    const result = m ? kb.accounts.authenticate(m[1]!) : null;
    if (!result) {
      const address = c.get("clientAddress");
      const reason = m ? "invalid, revoked or expired token" : "missing bearer token";
      const retry = unauthenticated?.take(address) ?? 0;
      // Aggregated per address (src/services/auth-failures.ts): a flood is one row a minute.
      kb.authFailures.record(address, c.req.path, reason, retry > 0);
      if (retry > 0) return tooManyRequests(c, retry);
      c.header("WWW-Authenticate", 'Bearer realm="private-kb"');
      return c.json(errorBody("unauthorized", reason), 401);
    }
    c.set("actor", result.actor);
    c.set("tokenId", result.tokenId);
    await next();
  };
}
