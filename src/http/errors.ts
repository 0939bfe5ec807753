/** Maps every error to the JSON error body `{ error: { code, message } }` with the right status. */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ForbiddenError, type Actor } from "../../policies/index.ts";
import type { Kb } from "../services/container.ts";
import { ServiceError } from "../services/errors.ts";
import { LlmBusyError, LlmClosedError, LlmTimeoutError, LlmUpstreamError } from "../models/llm.ts";

export function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

/** Denied attempts (403) are audited by the audit service; 401s by the auth middleware. */
async function auditDenied(c: Context, details: Record<string, unknown>, action?: string): Promise<void> {
  // Errors can come before the kb or the actor is set (a refused token, a bad URL).
  const kb = c.get("kb" as never) as Kb | undefined;
  const actor = c.get("actor" as never) as Actor | undefined;
  await kb?.audit?.recordDenied(actor ?? null, `${c.req.method} ${c.req.path}`, details, action);
}

export async function handleError(err: Error, c: Context): Promise<Response> {
  // A token used outside its scopes (policies/scopes.ts) is its own event: `auth.scope_denied`.
  if (err instanceof ForbiddenError && err.scopes) {
    const actor = c.get("actor" as never) as Actor | undefined;
    await auditDenied(c, { action: err.action, resource: err.resourceName, scopes: err.scopes, tokenId: actor?.tokenId ?? null }, "auth.scope_denied");
  } else if (err instanceof ForbiddenError) await auditDenied(c, { action: err.action, resource: err.resourceName });
  else if (err instanceof ServiceError && err.status === 403) await auditDenied(c, { code: err.code, message: err.message });
  if (err instanceof ServiceError) {
    for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
    const body = errorBody(err.code, err.message);
    return c.json(err.details ? { error: { ...err.details, ...body.error } } : body, err.status as ContentfulStatusCode);
  }
  if (err instanceof ForbiddenError) return c.json(errorBody(err.scopes ? "scope_denied" : "forbidden", err.message), 403);
  // The local LLM: a full queue is "try again later", a slow answer a gateway timeout.
  if (err instanceof LlmBusyError) {
    c.header("Retry-After", String(err.retryAfterSeconds));
    return c.json(errorBody("llm_busy", err.message), 429);
  }
  if (err instanceof LlmTimeoutError) return c.json(errorBody("llm_timeout", err.message), 504);
  if (err instanceof LlmClosedError) return c.json(errorBody("llm_unavailable", err.message), 503);
  // A model server on the network failed: its host and status, never its key.
  if (err instanceof LlmUpstreamError) return c.json(errorBody("llm_upstream", err.message), 502);
  if (err instanceof HTTPException) {
    const status = err.status;
    const code = status === 413 ? "payload_too_large" : status === 401 ? "unauthorized" : status === 400 ? "bad_request" : "http_error";
    return c.json(errorBody(code, err.message || code), status as ContentfulStatusCode);
  }
  // Only the URI functions throw URIError: a malformed percent-encoding, whichever route or
  // layer decoded it (src/http/middleware/url.ts rejects such URLs before routing).
  if (err instanceof URIError) return c.json(errorBody("malformed_url", "the request URL contains malformed percent-encoding"), 400);
  if (err instanceof SyntaxError) return c.json(errorBody("malformed_json", "request body is not valid JSON"), 400);
  const kb = c.get("kb" as never) as { log?: { error: (o: unknown, m: string) => void } } | undefined;
  kb?.log?.error({ err: String(err), stack: err.stack }, "unhandled error");
  return c.json(errorBody("internal_error", "internal server error"), 500);
}
