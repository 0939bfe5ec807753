/**
 * OpenID Connect sign-in (use cases in src/services/oidc-sign-in.ts): start (302 to the
 * provider), callback (302 to the web app with the session cookie) and back-channel logout.
 * All three are answered without authentication (app.ts: isPublicOidcPath).
 */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Context } from "hono";
import { ServiceError } from "../../services/errors.ts";
import { OIDC_STATE_COOKIE } from "../../services/oidc-sign-in.ts";
import type { AppEnv } from "../env.ts";
import { appOrigin, isHttps, setSessionCookie } from "../middleware/session.ts";
import { ErrorSchema, errorResponses } from "../schemas.ts";

export const oidcRoutes = new OpenAPIHono<AppEnv>();

/** The OIDC routes, public like sign-in itself. */
export const isPublicOidcPath = (path: string) => /^\/api\/v1\/auth\/oidc\/[^/]+\/(start|callback|backchannel-logout)$/.test(path);

const STATE_COOKIE_PATH = "/api/v1/auth/oidc";
const stateCookieOptions = (c: Context<AppEnv>) => ({ path: STATE_COOKIE_PATH, httpOnly: true, sameSite: "Lax" as const, secure: isHttps(c) });

const ProviderParam = z.object({ provider: z.string().min(1).max(16).openapi({ param: { name: "provider", in: "path" }, description: "The provider's id in oidc-providers.json" }) });
const error = (description: string) => ({ description, content: { "application/json": { schema: ErrorSchema } } });

oidcRoutes.openapi(
  createRoute({
    method: "get",
    path: "/auth/oidc/{provider}/start",
    summary: "Start signing in through an OpenID Connect provider: 302 to its authorization endpoint",
    description:
      `Authorization code flow with PKCE (S256), state and nonce. The login state is kept in the \`${OIDC_STATE_COOKIE}\` cookie (encrypted, HttpOnly, SameSite=Lax, Path=${STATE_COOKIE_PATH}, 10 minutes), which binds the sign-in to this browser. ` +
      "502 `oidc_provider_unreachable` when the provider's discovery document cannot be fetched (a browser is sent to `/signin?sso_error=oidc_provider_unreachable`).",
    security: [],
    request: { params: ProviderParam },
    responses: { ...errorResponses, 302: { description: "To the provider's authorization endpoint" }, 502: error("The provider could not be reached") },
  }),
  async (c) => {
    const { provider } = c.req.valid("param");
    let started;
    try {
      started = await c.get("kb").oidc.start(provider, appOrigin(c));
    } catch (err) {
      if (err instanceof ServiceError && err.status !== 404 && c.req.header("accept")?.includes("text/html")) return c.redirect(`/signin?sso_error=${encodeURIComponent(err.code)}`, 302);
      throw err;
    }
    setCookie(c, OIDC_STATE_COOKIE, started.stateCookie, { ...stateCookieOptions(c), maxAge: started.maxAgeSeconds });
    return c.redirect(started.url, 302);
  },
);

oidcRoutes.openapi(
  createRoute({
    method: "get",
    path: "/auth/oidc/{provider}/callback",
    summary: "The provider's redirect back: validates the answer and ID token, signs the user in, 302 to the web app",
    description:
      "Validates state (against this browser's login state cookie), the authorization code (with the PKCE verifier) and the ID token (issuer, audience, nonce, expiry with the provider's clock tolerance, signature against the provider's keys). " +
      "Creates or updates the user (`oidc:<provider>`, keyed by `sub`), sets its groups and role from the claims through the provider's mapping, opens a session (sets the session cookie) and redirects to the web app. " +
      "Every refusal (bad state, rejected token, disabled user) is 401 `oidc_failed` and audited as `auth.login.failed`; a browser (Accept: text/html) is sent to `/signin?sso_error=<code>` instead.",
    security: [],
    request: { params: ProviderParam },
    responses: { ...errorResponses, 302: { description: "Signed in: to the web app" }, 401: error("The sign-in was refused"), 502: error("The provider could not be reached") },
  }),
  async (c) => {
    const { provider } = c.req.valid("param");
    const url = new URL(c.req.url);
    const stateCookie = getCookie(c, OIDC_STATE_COOKIE);
    // The login state is single-use: cleared whatever the outcome.
    deleteCookie(c, OIDC_STATE_COOKIE, stateCookieOptions(c));
    try {
      const signedIn = await c.get("kb").oidc.callback(provider, {
        query: url.search,
        stateCookie,
        appOrigin: appOrigin(c),
        client: c.get("clientAddress"),
        userAgent: c.req.header("user-agent"),
      });
      setSessionCookie(c, signedIn.token);
      return c.redirect("/", 302);
    } catch (err) {
      // A browser navigating back from the provider gets the sign-in page with the reason's
      // code (the details are in the audit log); programs get the JSON error.
      if (err instanceof ServiceError && c.req.header("accept")?.includes("text/html")) return c.redirect(`/signin?sso_error=${encodeURIComponent(err.code)}`, 302);
      throw err;
    }
  },
);

oidcRoutes.openapi(
  createRoute({
    method: "post",
    path: "/auth/oidc/{provider}/backchannel-logout",
    summary: "Back-channel logout (OpenID Connect Back-Channel Logout 1.0): the provider ends the user's sessions here",
    description:
      "Form body `logout_token`: a JWT signed by the provider (checked against its keys) with iss, aud (our client id), iat, the back-channel logout event, no nonce, and sid and/or sub. " +
      "Revokes this provider's sessions with that OP session id (`sid`) and/or of that user (`sub`). 400 `invalid_logout_token` when it does not validate.",
    security: [],
    request: { params: ProviderParam, body: { required: true, content: { "application/x-www-form-urlencoded": { schema: z.object({ logout_token: z.string().min(1).max(16_384) }) } } } },
    responses: { ...errorResponses, 200: { description: "Sessions revoked (possibly none)" }, 400: error("Invalid logout token") },
  }),
  async (c) => {
    const { provider } = c.req.valid("param");
    const { logout_token } = c.req.valid("form");
    await c.get("kb").oidc.backchannelLogout(provider, logout_token);
    c.header("Cache-Control", "no-store");
    return c.body(null, 200);
  },
);
