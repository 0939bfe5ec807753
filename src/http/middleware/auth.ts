/** Bearer-token authentication for every /api and /v1 route, and the optional token of /readyz. */
import type { Context, MiddlewareHandler } from "hono";
import type { Actor } from "../../../policies/index.ts";
import type { AppEnv } from "../env.ts";
import { errorBody } from "../errors.ts";

type Authentication = { ok: true; actor: Actor; tokenId: string } | { ok: false; reason: string };

/** Checks the request's bearer token; a refused token is recorded in the audit log. */
function authenticate(c: Context<AppEnv>): Authentication {
  const kb = c.get("kb");
  const header = c.req.header("authorization") ?? "";
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  const result = m ? kb.accounts.authenticate(m[1]!) : null;
  if (result) return { ok: true, actor: result.actor, tokenId: result.tokenId };
  const reason = m ? "invalid, revoked or expired token" : "missing bearer token";
  kb.audit.record(null, "auth.failed", c.req.path, { reason }, "denied");
  return { ok: false, reason };
}

export function requireAuth(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const auth = authenticate(c);
    if (!auth.ok) {
      c.header("WWW-Authenticate", 'Bearer realm="private-kb"');
      return c.json(errorBody("unauthorized", auth.reason), 401);
    }
    c.set("actor", auth.actor);
    c.set("tokenId", auth.tokenId);
    await next();
  };
}

/**
 * The actor of a route whose token is optional (/readyz): null without an Authorization header
 * (nothing is recorded: load balancers poll without one) and for a token that does not
 * authenticate (recorded like any refused token); such requests get the anonymous answer.
 */
export function optionalActor(c: Context<AppEnv>): Actor | null {
  if (c.req.header("authorization") === undefined) return null;
  const auth = authenticate(c);
  return auth.ok ? auth.actor : null;
}
