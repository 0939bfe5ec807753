/** Maps every error to the JSON error body `{ error: { code, message } }` with the right status. */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { ForbiddenError } from "../../policies/index.ts";
import { ServiceError } from "../services/errors.ts";

export function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

export function handleError(err: Error, c: Context): Response {
  if (err instanceof ServiceError) {
    for (const [k, v] of Object.entries(err.headers)) c.header(k, v);
    return c.json(errorBody(err.code, err.message), err.status as ContentfulStatusCode);
  }
  if (err instanceof ForbiddenError) return c.json(errorBody("forbidden", err.message), 403);
  if (err instanceof HTTPException) {
    const status = err.status;
    const code = status === 413 ? "payload_too_large" : status === 401 ? "unauthorized" : status === 400 ? "bad_request" : "http_error";
    return c.json(errorBody(code, err.message || code), status as ContentfulStatusCode);
  }
  if (err instanceof SyntaxError) return c.json(errorBody("malformed_json", "request body is not valid JSON"), 400);
  const kb = c.get("kb" as never) as { log?: { error: (o: unknown, m: string) => void } } | undefined;
  kb?.log?.error({ err: String(err), stack: err.stack }, "unhandled error");
  return c.json(errorBody("internal_error", "internal server error"), 500);
}
