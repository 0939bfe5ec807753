/**
 * Sign-in for the web app: /api/v1/auth (login, logout, session, providers, own password) and
 * the admin's password and session routes. Use cases, authorization and audit are in
 * SignInService (src/services/sign-in.ts); cookies and CSRF in middleware/session.ts.
 */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from "../../services/sign-in.ts";
import type { AppEnv } from "../env.ts";
import { appOrigin, clearSessionCookie, CSRF_HEADER, refuseCrossOriginSignIn, SESSION_COOKIE, setSessionCookie } from "../middleware/session.ts";
import { ErrorSchema, errorResponses } from "../schemas.ts";

export const authRoutes = new OpenAPIHono<AppEnv>();
/** Routes answered without authentication (app.ts skips requireAuth for them). */
export const PUBLIC_AUTH_PATHS = ["/api/v1/auth/login", "/api/v1/auth/providers"];

const json = <T extends z.ZodType>(schema: T, description = "OK") => ({ description, content: { "application/json": { schema } } });
const body = <T extends z.ZodType>(schema: T) => ({ body: { required: true, content: { "application/json": { schema } } } });

const Name = z.string().min(1).max(256);
/** Long enough for any passphrase; the service states the actual rule (PASSWORD_MIN_LENGTH..MAX). */
const PasswordInput = z.string().min(1).max(1024);
const NewPassword = z.string().max(1024).openapi({ description: `${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters; else 400 \`password_too_short\` / \`password_too_long\`` });

const SessionInfoSchema = z
  .object({
    user: z.object({ name: z.string(), displayName: z.string().optional() }),
    role: z.string(),
    capabilities: z.array(z.string()).openapi({ description: "What the user may do (manage_users, view_audit, manage_all_documents, …): the web app shows or hides its admin screens by them; the server checks every request anyway" }),
    via: z.enum(["session", "token"]),
    csrfToken: z.string().optional().openapi({ description: `Send as ${CSRF_HEADER} with every cookie-authenticated POST/PUT/PATCH/DELETE; absent when authenticated by a bearer token` }),
    expiresAt: z.string().optional().openapi({ description: "When the session ends unless used again (idle timeout), or its absolute end if sooner" }),
    signedInWith: z
      .object({ method: z.string().openapi({ description: '"password" or "oidc"' }), provider: z.string().nullable().openapi({ description: "The OpenID Connect provider's id, for oidc" }) })
      .optional()
      .openapi({ description: "How this session was signed in (absent for bearer tokens)" }),
  })
  .openapi("SessionInfo");

const SessionSchema = z
  .object({
    id: z.string(),
    createdAt: z.string(),
    lastSeenAt: z.string(),
    expiresAt: z.string(),
    absoluteExpiresAt: z.string(),
    client: z.string().nullable(),
    userAgent: z.string().nullable(),
    method: z.string().openapi({ description: '"password" or "oidc"' }),
    provider: z.string().nullable(),
  })
  .openapi("Session");

const unauthorized = { 401: { description: "Wrong name or password, unknown, disabled or locked account (one answer for all)", content: { "application/json": { schema: ErrorSchema } } } };

authRoutes.openapi(
  createRoute({
    method: "post",
    path: "/auth/login",
    summary: "Sign in with a name and password; sets the session cookie",
    description:
      `Sets \`${SESSION_COOKIE}\` (HttpOnly, SameSite=Strict, Path=/api; Secure over https). The answer carries the CSRF token for later writes. ` +
      "Every failure is the same 401 `invalid_credentials` (unknown name, no password, disabled, wrong password, locked after repeated failures). Attempts count against the per-address limit for unauthenticated requests (429 + Retry-After). " +
      "A browser request from another origin is refused (403 `csrf`).",
    security: [],
    request: body(z.object({ name: Name, password: PasswordInput }).openapi("Login")),
    responses: { 200: json(SessionInfoSchema), ...errorResponses, ...unauthorized },
  }),
  async (c) => {
    refuseCrossOriginSignIn(c);
    const kb = c.get("kb");
    const { name, password } = c.req.valid("json");
    const signedIn = await kb.signIn.login({ name, password, client: c.get("clientAddress"), userAgent: c.req.header("user-agent"), target: `${c.req.method} ${c.req.path}` });
    setSessionCookie(c, signedIn.token);
    return c.json(kb.signIn.whoAmI(signedIn.actor, signedIn), 200);
  },
);

authRoutes.openapi(
  createRoute({
    method: "post",
    path: "/auth/logout",
    summary: "Sign out: ends this session and clears the cookie",
    description:
      `Cookie-authenticated, so it needs ${CSRF_HEADER}. With a bearer token it does nothing (204). ` +
      "For a session opened through an OpenID Connect provider the answer is 200 with the provider's end-session URL (RP-initiated logout, with id_token_hint and post_logout_redirect_uri), which the web app follows to end the provider's session too; 204 otherwise.",
    responses: {
      200: json(z.object({ endSessionUrl: z.string() }).openapi("SignOutRedirect"), "Signed out here; follow endSessionUrl to sign out at the provider"),
      204: { description: "Signed out" },
      ...errorResponses,
    },
  }),
  async (c) => {
    const session = c.get("session");
    const out = session ? await c.get("kb").signIn.logout(c.get("actor"), session.session.id, appOrigin(c)) : { endSessionUrl: null };
    clearSessionCookie(c);
    if (out.endSessionUrl) return c.json({ endSessionUrl: out.endSessionUrl }, 200);
    return c.body(null, 204);
  },
);

authRoutes.openapi(
  createRoute({
    method: "get",
    path: "/auth/session",
    summary: "Who is signed in: user, role, capabilities, CSRF token and expiry",
    description: "Works with the session cookie or a bearer token (then without csrfToken and expiresAt). 401 when not signed in.",
    responses: { 200: json(SessionInfoSchema), ...errorResponses },
  }),
  (c) => c.json(c.get("kb").signIn.whoAmI(c.get("actor"), c.get("session")), 200),
);

authRoutes.openapi(
  createRoute({
    method: "get",
    path: "/auth/providers",
    summary: "Sign-in methods besides passwords: one single sign-on button per OpenID Connect provider (oidc-providers.json)",
    security: [],
    responses: {
      200: json(z.array(z.object({ id: z.string(), name: z.string(), labels: z.object({ en: z.string(), ko: z.string().optional() }), url: z.string().openapi({ description: "Where the button goes: GET /api/v1/auth/oidc/{id}/start" }) })).openapi("SignInProviders")),
      ...errorResponses,
    },
  }),
  (c) => c.json(c.get("kb").signIn.providers(), 200),
);

authRoutes.openapi(
  createRoute({
    method: "put",
    path: "/auth/password",
    summary: "Change your own password (the current one required); ends your other sessions",
    request: body(z.object({ currentPassword: PasswordInput, newPassword: NewPassword }).openapi("PasswordChange")),
    responses: { 200: json(z.object({ sessionsRevoked: z.number().int() })), ...errorResponses },
  }),
  async (c) => {
    const { currentPassword, newPassword } = c.req.valid("json");
    return c.json(await c.get("kb").signIn.changeOwnPassword(c.get("actor"), { currentPassword, newPassword, keepSession: c.get("session")?.session.id }), 200);
  },
);

// ---- administration -------------------------------------------------------------------------

const NameParam = z.object({ name: Name.openapi({ param: { name: "name", in: "path" } }) });

authRoutes.openapi(
  createRoute({
    method: "put",
    path: "/admin/users/{name}/password",
    summary: "Set or reset a user's password: the given one, or `generate: true` (returned once); ends the user's sessions and any lock-out",
    request: { params: NameParam, ...body(z.object({ password: NewPassword.optional(), generate: z.boolean().optional() }).openapi("PasswordSet")) },
    responses: { 200: json(z.object({ generated: z.string().optional(), sessionsRevoked: z.number().int() })), ...errorResponses },
  }),
  async (c) => c.json(await c.get("kb").signIn.setPassword(c.get("actor"), c.req.valid("param").name, c.req.valid("json")), 200),
);

authRoutes.openapi(
  createRoute({
    method: "get",
    path: "/admin/users/{name}/password",
    summary: "Whether a user has a sign-in password, since when, and until when it is locked (never the hash)",
    request: { params: NameParam },
    responses: { 200: json(z.object({ set: z.boolean(), updatedAt: z.string().nullable(), lockedUntil: z.string().nullable() }).openapi("PasswordStatus")), ...errorResponses },
  }),
  async (c) => c.json(await c.get("kb").signIn.passwordStatus(c.get("actor"), c.req.valid("param").name), 200),
);

authRoutes.openapi(
  createRoute({
    method: "get",
    path: "/admin/users/{name}/sessions",
    summary: "A user's live web sessions (admins; or your own)",
    request: { params: NameParam },
    responses: { 200: json(z.object({ items: z.array(SessionSchema) })), ...errorResponses },
  }),
  async (c) => c.json({ items: await c.get("kb").signIn.listSessions(c.get("actor"), c.req.valid("param").name) }, 200),
);

authRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/admin/users/{name}/sessions",
    summary: "End every web session of a user",
    request: { params: NameParam },
    responses: { 200: json(z.object({ revoked: z.number().int() })), ...errorResponses },
  }),
  async (c) => c.json({ revoked: await c.get("kb").signIn.revokeSessionsOf(c.get("actor"), c.req.valid("param").name) }, 200),
);

authRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/admin/sessions/{id}",
    summary: "End one web session",
    request: { params: z.object({ id: z.string().min(1).max(100).openapi({ param: { name: "id", in: "path" } }) }) },
    responses: { 204: { description: "Ended" }, ...errorResponses },
  }),
  async (c) => {
    await c.get("kb").signIn.revokeSession(c.get("actor"), c.req.valid("param").id);
    return c.body(null, 204);
  },
);
