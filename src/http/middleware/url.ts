/**
 * A URL whose percent-encoding is malformed (`%E0%A4%A`, `%ZZ`, bytes that are not UTF-8) is
 * refused with 400 `malformed_url` on every route, before routing, authentication or any
 * permission check: otherwise each place that decodes a path parameter or query value would
 * meet it on its own (as a raw value here, a URIError there).
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env.ts";

export function rejectMalformedUrl(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const url = c.req.url;
    const pathStart = url.indexOf("/", url.indexOf("://") + 3);
    // Throws URIError, which handleError answers with 400 (src/http/errors.ts).
    if (pathStart >= 0 && url.includes("%", pathStart)) decodeURIComponent(url.slice(pathStart));
    await next();
  };
}
