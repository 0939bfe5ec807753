/**
 * The first middleware of every request: its id, its logger, its metrics.
 *
 * - The id: a trusted proxy's (KB_TRUSTED_PROXIES) `X-Request-Id` when it is sane (1–128 of
 *   `A-Z a-z 0-9 . _ : -`), else a new UUID. Every response carries it as `X-Request-Id`, every
 *   error body as `error.requestId`, every log line written while the request is served as
 *   `requestId` (a pino child logger in `c.get("log")`, and the knowledge base's logger through
 *   the request context, services/request-context.ts).
 * - Metrics: the duration to the response's headers by method, route pattern (hono's matched
 *   route, never the raw path, which holds ids) and status; error responses by their code.
 */
import { randomUUID } from "node:crypto";
import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { withRequestContext } from "../../services/request-context.ts";
import type { ClientAddressResolver } from "../client-address.ts";
import type { AppEnv } from "../env.ts";

const SANE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The route label: the pattern of the handler that answered, or, when a middleware answered (a
 * 401, a 429), of the handler that would have (middleware is registered for method ALL);
 * "unmatched" for a 404 no route gave.
 */
function routeLabel(c: Context<AppEnv>): string {
  const routes = matchedRoutes(c);
  const answered = routes[c.req.routeIndex];
  const route = answered && answered.method !== "ALL" ? answered : routes.find((r) => r.method !== "ALL");
  const path = route?.path ?? "";
  if (path === "" || (c.res.status === 404 && path.endsWith("*"))) return "unmatched";
  return path;
}

function peerOf(c: Context): string | undefined {
  return (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress;
}

export function observeRequests(proxies: ClientAddressResolver): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const kb = c.get("kb");
    const started = performance.now();
    const incoming = c.req.header("x-request-id");
    const peer = peerOf(c)?.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, "");
    const requestId = incoming && SANE_ID.test(incoming) && peer && proxies.isTrusted(peer) ? incoming : randomUUID();
    c.set("requestId", requestId);
    const log = kb.log.child({ requestId });
    c.set("log", log);
    await withRequestContext({ requestId }, () => next());

    let res = c.res;
    const status = res.status;
    if (status >= 400 && res.headers.get("content-type")?.startsWith("application/json")) {
      // Error bodies (`{ error: { code, message } }`, whichever layer wrote them) get the id; the
      // code is counted. Other JSON error formats (SCIM's) are left as they are.
      const body = (await res
        .clone()
        .json()
        .catch(() => null)) as { error?: Record<string, unknown> } | null;
      if (body?.error && typeof body.error === "object" && typeof body.error.code === "string") {
        kb.metrics.errorResponse(body.error.code, status);
        const headers = new Headers(res.headers);
        headers.delete("content-length");
        res = new Response(JSON.stringify({ ...body, error: { ...body.error, requestId } }), { status, statusText: res.statusText, headers });
        c.res = undefined as never; // replaced, not merged (the old headers are copied above)
        c.res = res;
      }
    }
    try {
      c.res.headers.set("X-Request-Id", requestId);
    } catch {
      // An immutable response (a fetched one): copied with the header.
      const copy = new Response(c.res.body, c.res);
      copy.headers.set("X-Request-Id", requestId);
      c.res = undefined as never;
      c.res = copy;
    }
    const seconds = (performance.now() - started) / 1000;
    const route = routeLabel(c);
    kb.metrics.httpRequest(c.req.method, route, status, seconds);
    log.debug({ method: c.req.method, route, status, ms: Math.round(seconds * 1000) }, "request");
  };
}
