/** Bearer-token authentication for every /api and /v1 route. */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env.ts";
import { errorBody } from "../errors.ts";

export function requireAuth(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const kb = c.get("kb");
    const header = c.req.header("authorization") ?? "";
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    const result = m ? kb.accounts.authenticate(m[1]!) : null;
    if (!result) {
      kb.audit.record(null, "auth.failed", c.req.path, { reason: m ? "invalid, revoked or expired token" : "missing bearer token" }, "denied");
      c.header("WWW-Authenticate", 'Bearer realm="private-kb"');
      return c.json(errorBody("unauthorized", m ? "invalid, revoked or expired token" : "missing bearer token"), 401);
    }
    c.set("actor", result.actor);
    c.set("tokenId", result.tokenId);
    await next();
  };
}
