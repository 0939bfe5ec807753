/** Bearer-token authentication for every /api and /v1 route, and the optional token of /readyz. */
import type { Context, MiddlewareHandler } from "hono";
import type { Actor } from "../../../policies/index.ts";
import type { AppEnv } from "../env.ts";
import { errorBody } from "../errors.ts";
import { tooManyRequests } from "./rate-limit.ts";

type Authentication = { ok: true; actor: Actor; tokenId: string; rateLimitPerMinute: number | null } | { ok: false; reason: string };

/** Checks the request's bearer token (records nothing). */
async function authenticate(c: Context<AppEnv>): Promise<Authentication> {
  const header = c.req.header("authorization") ?? "";
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  const result = m ? await c.get("kb").accounts.authenticate(m[1]!) : null;
  if (result) return { ok: true, actor: result.actor, tokenId: result.tokenId, rateLimitPerMinute: result.rateLimitPerMinute };
  return { ok: false, reason: m ? "invalid, revoked or expired token" : "missing bearer token" };
}

/**
 * A refused token goes through the per-address aggregation of failed authentications
 * (src/services/auth-failures.ts): a flood is one audit row a minute, not one per request.
 */
function recordFailure(c: Context<AppEnv>, reason: string, rateLimited: boolean): Promise<void> {
  return c.get("kb").authFailures.record(c.get("clientAddress"), c.req.path, reason, rateLimited);
}

/**
 * Failed attempts are charged to the client address's limit for unauthenticated traffic (429
 * beyond it; `chargeFailures` false: not charged); requests with a valid token never are.
 */
export function requireAuth(chargeFailures = true): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.get("session")) return next(); // signed in by its cookie (middleware/session.ts)
    const auth = await authenticate(c);
    if (!auth.ok) {
      const retry = chargeFailures ? await c.get("kb").rateLimits.takeAddress(c.get("clientAddress")) : 0;
      await recordFailure(c, auth.reason, retry > 0);
      if (retry > 0) return tooManyRequests(c, retry);
      c.header("WWW-Authenticate", 'Bearer realm="private-kb"');
      return c.json(errorBody("unauthorized", auth.reason), 401);
    }
    c.set("actor", auth.actor);
    c.set("tokenId", auth.tokenId);
    c.set("tokenRateLimit", auth.rateLimitPerMinute);
    await next();
  };
}

/**
 * The actor of a route whose token is optional (/readyz): null without an Authorization header
 * (nothing is recorded: load balancers poll without one) and for a token that does not
 * authenticate (recorded like any refused token); such requests get the anonymous answer.
 * The route's per-address limit is applied by the app's middleware before this.
 */
export async function optionalActor(c: Context<AppEnv>): Promise<Actor | null> {
  if (c.req.header("authorization") === undefined) return null;
  const auth = await authenticate(c);
  if (!auth.ok) await recordFailure(c, auth.reason, false);
  return auth.ok ? auth.actor : null;
}
