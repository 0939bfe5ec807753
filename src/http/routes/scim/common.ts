/**
 * Plumbing shared by the /scim/v2 route modules: the request context (the SCIM client that
 * authenticated), SCIM JSON answers (`application/scim+json`), request bodies and the base URL
 * that `meta.location` and Location headers are built on.
 */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { invalidSyntax } from "../../../domain/scim/errors.ts";
import type { ScimClient } from "../../../services/scim.ts";
import type { AppEnv } from "../../env.ts";

export interface ScimEnv {
  Variables: AppEnv["Variables"] & { scimClient: ScimClient };
}

export const SCIM_CONTENT_TYPE = "application/scim+json; charset=utf-8";

export function scimJson(c: Context, body: unknown, status: ContentfulStatusCode = 200, headers: Record<string, string> = {}): Response {
  return c.body(JSON.stringify(body), status, { ...headers, "Content-Type": SCIM_CONTENT_TYPE, "Cache-Control": "no-store" });
}

/** Where /scim/v2 is for the client: KB_PUBLIC_URL when set (behind a proxy), else the request's origin. */
export function scimBase(c: Context<ScimEnv>): string {
  const origin = c.get("kb").config.publicUrl ?? new URL(c.req.url).origin;
  return `${origin.replace(/\/+$/, "")}/scim/v2`;
}

/** The request body as JSON (SCIM clients send application/scim+json or application/json). */
export async function jsonBody(c: Context): Promise<unknown> {
  const text = await c.req.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalidSyntax("the request body is not valid JSON");
  }
}

/** The query parameters of a SCIM request, by their names. */
export const queryOf = (c: Context) => {
  const q = c.req.query();
  return { filter: q.filter, startIndex: q.startIndex, count: q.count, attributes: q.attributes, excludedAttributes: q.excludedAttributes };
};
