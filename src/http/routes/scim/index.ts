/**
 * /scim/v2: SCIM 2.0 provisioning for identity providers (RFC 7644), outside /api/v1 and its
 * OpenAPI document (SCIM describes itself at /scim/v2/Schemas, /ResourceTypes and
 * /ServiceProviderConfig). Every request needs a SCIM token (`kb scim token create`, prefix
 * kbscim_): user API tokens and session cookies are refused here, as SCIM tokens are refused
 * by /api and /v1. Limited like the API: per token (KB_RATE_LIMIT_PER_MIN), and failed
 * authentication per client address. Every answer is `application/scim+json`; errors are SCIM
 * Error objects with a `scimType`.
 */
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ScimError, type ScimType } from "../../../domain/scim/errors.ts";
import { ServiceError } from "../../../services/errors.ts";
import { scimJson, type ScimEnv } from "./common.ts";
import { scimDiscoveryRoutes } from "./discovery.ts";
import { scimResourceRoutes } from "./resources.ts";

const JSON_LIMIT = 1024 * 1024;

function scimError(c: Context, status: number, scimType: ScimType | null, detail: string, headers: Record<string, string> = {}): Response {
  return scimJson(c, new ScimError(status, scimType, detail).body(), status as ContentfulStatusCode, headers);
}

/** Any error as a SCIM error: its status, scimType and detail. */
function asScimError(err: Error): ScimError {
  if (err instanceof ScimError) return err;
  if (err instanceof ServiceError) return new ScimError(err.status, err.status === 400 ? "invalidValue" : null, err.message);
  if (err instanceof HTTPException) return new ScimError(err.status, null, err.status === 413 ? `request body exceeds ${JSON_LIMIT / 1024 / 1024} MB` : err.message || "request refused");
  return new ScimError(500, null, "internal server error");
}

/** Failed authentications are charged to the client address's limit (shared with /api); each SCIM token has its own. */
export function createScimRoutes(): Hono<ScimEnv> {
  const scim = new Hono<ScimEnv>();

  scim.onError(async (err, c) => {
    const e = asScimError(err);
    if (e.status === 500) c.get("kb")?.log.error({ err: String(err), stack: err.stack }, "unhandled error in /scim");
    if (e.status === 413) c.header("Connection", "close");
    // Refused changes and bad filters are audited (a GET of an unknown id is the IdPs' routine lookup).
    if (c.req.method !== "GET" || e.scimType === "invalidFilter" || e.status >= 500) {
      await c.get("kb")?.scim.recordFailure(c.get("scimClient") ?? null, `${c.req.method} ${c.req.path}`, { status: e.status, scimType: e.scimType, detail: e.detail });
    }
    return scimJson(c, e.body(), e.status as ContentfulStatusCode);
  });

  scim.use("*", async (c, next) => {
    const kb = c.get("kb");
    const m = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "");
    const client = m ? await kb.scim.authenticate(m[1]!) : null;
    if (!client) {
      const reason = m ? "invalid, revoked or expired SCIM token" : "missing bearer token";
      const retry = await kb.rateLimits.takeAddress(c.get("clientAddress"));
      await kb.authFailures.record(c.get("clientAddress"), c.req.path, reason, retry > 0);
      if (retry > 0) return scimError(c, 429, null, `too many requests; retry in ${retry}s`, { "Retry-After": String(retry) });
      return scimError(c, 401, null, reason, { "WWW-Authenticate": 'Bearer realm="private-kb scim"' });
    }
    const retry = await kb.rateLimits.takeScim(client.tokenId);
    if (retry > 0) return scimError(c, 429, null, `too many requests; retry in ${retry}s`, { "Retry-After": String(retry) });
    c.set("scimClient", client);
    await next();
  });
  scim.use("*", bodyLimit({ maxSize: JSON_LIMIT, onError: () => { throw new HTTPException(413); } }));

  scim.route("/", scimDiscoveryRoutes);
  scim.route("/", scimResourceRoutes);
  scim.all("*", (c) => scimError(c, 404, null, `no SCIM endpoint ${c.req.method} ${c.req.path}`));
  return scim;
}
