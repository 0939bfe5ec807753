/**
 * Cookie sessions for the web app (src/services/sign-in.ts holds the use cases).
 *
 * - The cookie is HttpOnly (scripts cannot read it), SameSite=Strict (other sites' pages do not
 *   send it), Path=/api (it goes to the API only, never to /v1), and Secure when the server is
 *   reached over https: KB_PUBLIC_URL is https, or a trusted proxy says X-Forwarded-Proto https.
 *   It has no Max-Age: it ends with the browser, and the server ends the session anyway.
 * - Only /api reads it, and only when the request has no Authorization header: a bearer token
 *   always wins, and /v1 (the OpenAI-compatible API) stays bearer-only.
 * - A cookie-authenticated write (anything but GET/HEAD/OPTIONS) must carry the session's CSRF
 *   token in X-CSRF-Token (compared in constant time) AND come from the server's own origin
 *   (Origin header, or Sec-Fetch-Site: same-origin without one); else 403 `csrf`. SameSite
 *   alone would leave same-site subdomains and older browsers; the token alone would not stop
 *   a page that learnt it. Bearer requests are not affected: a browser never adds them itself.
 */
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { CookieOptions } from "hono/utils/cookie";
import { ServiceError } from "../../services/errors.ts";
import { safeEqual } from "../../services/sign-in.ts";
import type { AppEnv } from "../env.ts";

export const SESSION_COOKIE = "kb_session";
export const CSRF_HEADER = "X-CSRF-Token";
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Whether the client reached the server over https (so its cookie may be Secure). */
export function isHttps(c: Context<AppEnv>): boolean {
  return c.get("kb").config.publicUrl?.startsWith("https:") === true || c.get("forwardedHttps") === true;
}

function cookieOptions(c: Context<AppEnv>): CookieOptions {
  return { path: "/api", httpOnly: true, sameSite: "Strict", secure: isHttps(c) };
}

export function setSessionCookie(c: Context<AppEnv>, token: string): void {
  setCookie(c, SESSION_COOKIE, token, cookieOptions(c));
}

export function clearSessionCookie(c: Context<AppEnv>): void {
  deleteCookie(c, SESSION_COOKIE, cookieOptions(c));
}

/**
 * The origins a cookie-authenticated write may come from: KB_PUBLIC_URL's, and the one the
 * request itself was addressed to (its Host, with the scheme the connection or a trusted proxy
 * reports). A page on another origin cannot choose the Host of a request carrying this
 * server's cookie: the browser only sends the cookie to this server's own name.
 */
function ownOrigins(c: Context<AppEnv>): string[] {
  const origins: string[] = [];
  const configured = c.get("kb").config.publicUrl;
  if (configured) origins.push(configured);
  const host = c.req.header("host");
  if (host) origins.push(`${c.get("forwardedHttps") ? "https" : new URL(c.req.url).protocol.replace(":", "")}://${host.toLowerCase()}`);
  return origins;
}

/** The origin the browser sees this server at: KB_PUBLIC_URL's, else the request's own (redirect URIs, post-logout redirects). */
export function appOrigin(c: Context<AppEnv>): string {
  const configured = c.get("kb").config.publicUrl;
  if (configured) return configured.replace(/\/$/, "");
  const host = c.req.header("host") ?? new URL(c.req.url).host;
  return `${c.get("forwardedHttps") ? "https" : new URL(c.req.url).protocol.replace(":", "")}://${host.toLowerCase()}`;
}

export function isSameOrigin(c: Context<AppEnv>): boolean {
  const origin = c.req.header("origin");
  if (origin !== undefined) return origin !== "null" && ownOrigins(c).includes(origin.toLowerCase());
  return c.req.header("sec-fetch-site") === "same-origin";
}

/**
 * Authenticates an /api request by its session cookie when it has no Authorization header
 * (requireAuth then takes the actor as it is). A cookie naming no live session is cleared and
 * the request goes on unauthenticated (401 from requireAuth, unless the route is public).
 */
export function sessionAuth(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.req.header("authorization") !== undefined) return next();
    const token = getCookie(c, SESSION_COOKIE);
    if (!token) return next();
    const auth = await c.get("kb").signIn.authenticate(token);
    if (!auth) {
      clearSessionCookie(c);
      return next();
    }
    c.set("session", auth);
    c.set("actor", auth.actor);
    // The per-token rate limit's key: one bucket per session.
    c.set("tokenId", `session:${auth.session.id}`);
    return next();
  };
}

/** Cookie-authenticated writes need the session's CSRF token and a same-origin request. */
export function requireCsrf(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const session = c.get("session");
    if (!session || SAFE_METHODS.has(c.req.method)) return next();
    const presented = c.req.header(CSRF_HEADER) ?? "";
    if (!safeEqual(presented, session.csrfToken)) throw new ServiceError(403, "csrf", `a signed-in write needs the session's ${CSRF_HEADER} header (from GET /api/v1/auth/session)`);
    if (!isSameOrigin(c)) throw new ServiceError(403, "csrf", "a signed-in write must come from this server's own pages (Origin)");
    return next();
  };
}

/**
 * Sign-in itself has no session yet, so no CSRF token: a browser's cross-site sign-in attempt
 * (login CSRF, signing the victim into the attacker's account) is refused by its Origin. A
 * request without Origin and Sec-Fetch-Site (curl, scripts) is not a browser's and may sign in.
 */
export function refuseCrossOriginSignIn(c: Context<AppEnv>): void {
  const fromBrowser = c.req.header("origin") !== undefined || c.req.header("sec-fetch-site") !== undefined;
  if (fromBrowser && !isSameOrigin(c)) throw new ServiceError(403, "csrf", "sign-in must come from this server's own pages (Origin)");
}
