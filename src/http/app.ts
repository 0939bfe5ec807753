/**
 * The HTTP API: small route modules mounted on one app, with authentication, rate limiting
 * and body limits as middleware, and the OpenAPI document generated from the route schemas.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { ASK_IMAGE_LIMITS } from "../services/ask-image.ts";
import type { Kb } from "../services/container.ts";
import type { AppEnv } from "./env.ts";
import { errorBody, handleError } from "./errors.ts";
import { ClientAddressResolver, clientAddress } from "./client-address.ts";
import { requireAuth } from "./middleware/auth.ts";
import { rateLimit, rateLimitUnauthenticated } from "./middleware/rate-limit.ts";
import { LoadShedder, shedLoad } from "./middleware/overload.ts";
import { rejectMalformedUrl } from "./middleware/url.ts";
import { observeRequests } from "./middleware/observe.ts";
import { requireCsrf, SESSION_COOKIE, sessionAuth } from "./middleware/session.ts";
import { authRoutes, PUBLIC_AUTH_PATHS } from "./routes/auth.ts";
import { isPublicOidcPath, oidcRoutes } from "./routes/oidc.ts";
import { accessRoutes } from "./routes/access.ts";
import { adminRoutes } from "./routes/admin.ts";
import { askRoutes } from "./routes/ask.ts";
import { conversationRoutes } from "./routes/conversations.ts";
import { openaiRoutes } from "./routes/openai.ts";
import { documentRoutes } from "./routes/documents.ts";
import { feedbackRoutes } from "./routes/feedback.ts";
import { healthRoutes } from "./routes/health.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { jobRoutes } from "./routes/jobs.ts";
import { searchRoutes } from "./routes/search.ts";
import { mcpRoutes } from "./routes/mcp.ts";
import { createScimRoutes } from "./routes/scim/index.ts";
import { isStaticFile, webAppHandler } from "./web.ts";

const JSON_LIMIT = 1024 * 1024;
/** A question may carry an image (services/ask-image.ts) as base64 in its JSON: room for it on top. */
const ASK_LIMIT = JSON_LIMIT + Math.ceil(ASK_IMAGE_LIMITS.bytes / 3) * 4;
const isAsk = (c: { req: { method: string; path: string } }) => c.req.method === "POST" && (c.req.path === "/api/v1/ask" || c.req.path === "/v1/chat/completions");

/** Where authentication runs (requireAuth for /api, /v1 and /mcp, SCIM tokens for /scim/v2); everything else is public. */
const isBehindAuth = (path: string) => /^\/(api|v1|mcp|scim\/v2)(\/|$)/.test(path);
/** /api routes answered without authentication: sign-in and its providers (routes/auth.ts), single sign-on (routes/oidc.ts). */
const isPublicApi = (path: string) => PUBLIC_AUTH_PATHS.includes(path) || isPublicOidcPath(path);
/**
 * Load balancers probe liveness often; /healthz is a constant answer, cheaper to give than to
 * refuse, so it is never limited. /metrics authenticates (a refused token is charged like any
 * other). /readyz (it counts rows) is limited like other public routes,
 * and so is every sign-in attempt (per client address).
 */
const isUnlimited = (path: string) => path === "/healthz" || path === "/metrics" || (isBehindAuth(path) && !isPublicApi(path)) || isStaticFile(path);

export interface AppOptions {
  /** The web app's build folder (default: src/web/dist, written by `npm run build:web`). */
  webDir?: string;
}

export function createApp(kb: Kb, options: AppOptions = {}): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({
    // Validation failures get the same error body as everything else.
    defaultHook: (result, c) => {
      if (!result.success) {
        const issue = result.error.issues[0];
        const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
        const code = issue?.code === "too_big" && issue.origin === "string" ? "too_long" : "invalid_request"; // as the services say it
        return c.json(errorBody(code, `${where}${issue?.message ?? "invalid request"}`), 400);
      }
    },
  });
  app.onError(handleError);
  app.notFound((c) => c.json(errorBody("not_found", `no route for ${c.req.method} ${c.req.path}`), 404));
  app.use("*", async (c, next) => {
    c.set("kb", kb);
    await next();
  });
  const proxies = new ClientAddressResolver(kb.config.trustedProxies);
  // First: every answer, refusals included, gets its request id and is measured.
  app.use("*", observeRequests(proxies));
  app.use("*", rejectMalformedUrl());
  app.use("*", clientAddress(proxies));
  // Unauthenticated traffic is limited per client address: public routes here, failed
  // authentication in requireAuth (one bucket per address for both).
  app.use("*", rateLimitUnauthenticated(isUnlimited));

  app.route("/", healthRoutes);
  // Before the web app's catch-all, which would otherwise answer GET /metrics.
  app.route("/", metricsRoutes());

  const tooLarge = (limit: number) => (c: Parameters<Parameters<typeof bodyLimit>[0]["onError"] & {}>[0]) => {
    // The rest of the body is not read, so the connection cannot be reused.
    c.header("Connection", "close");
    return c.json(errorBody("payload_too_large", `request body exceeds ${Math.round(limit / 1024 / 1024)} MB`), 413);
  };
  const limiter = rateLimit(); // one budget per token across /api and /v1
  // /api accepts the web app's session cookie (when there is no Authorization header) as well as
  // bearer tokens; cookie-authenticated writes need the CSRF token and the server's own origin.
  // /v1 never looks at cookies.
  const authenticated = requireAuth();
  const cookies = sessionAuth();
  app.use("/api/*", async (c, next) => (isPublicApi(c.req.path) ? next() : cookies(c, next)));
  app.use("/api/*", async (c, next) => (isPublicApi(c.req.path) ? next() : authenticated(c, next)));
  app.use("/api/*", async (c, next) => (isPublicApi(c.req.path) ? next() : limiter(c, next)));
  app.use("/api/*", requireCsrf());
  // Sign-in answers carry CSRF tokens and session facts: never kept by a cache.
  app.use("/api/v1/auth/*", async (c, next) => {
    await next();
    c.header("Cache-Control", "no-store");
  });
  app.use("/api/*", async (c, next) => {
    const isUpload = (c.req.method === "POST" && c.req.path === "/api/v1/documents") || (c.req.method === "PUT" && /^\/api\/v1\/documents\/[^/]+\/content$/.test(c.req.path));
    const limit = isUpload ? kb.config.maxUploadBytes : isAsk(c) ? ASK_LIMIT : JSON_LIMIT;
    return bodyLimit({ maxSize: limit, onError: tooLarge(limit) })(c, next);
  });

  // Load shedding where each request does real work (retrieval, answers): a bounded number run
  // and wait; beyond, 503 at once (middleware/overload.ts).
  const shed = shedLoad(new LoadShedder(kb.config.overload));
  const isHeavy = (c: { req: { method: string; path: string } }) =>
    c.req.method === "POST" && (c.req.path === "/api/v1/search" || c.req.path === "/api/v1/ask" || c.req.path === "/v1/chat/completions");
  app.use("/api/v1/*", async (c, next) => (isHeavy(c) ? shed(c, next) : next()));

  // The OpenAI-compatible API: same tokens, limits and ask path (src/http/routes/openai.ts).
  const v1Limit = bodyLimit({ maxSize: JSON_LIMIT, onError: tooLarge(JSON_LIMIT) });
  const v1AskLimit = bodyLimit({ maxSize: ASK_LIMIT, onError: tooLarge(ASK_LIMIT) });
  app.use("/v1/*", requireAuth(), limiter, async (c, next) => (isAsk(c) ? v1AskLimit(c, next) : v1Limit(c, next)));
  app.use("/v1/*", async (c, next) => (isHeavy(c) ? shed(c, next) : next()));
  app.route("/v1", openaiRoutes);

  // The MCP server (routes/mcp.ts): bearer tokens only, the same limits; every POST may be a tool call.
  app.use("/mcp", requireAuth(), limiter, bodyLimit({ maxSize: JSON_LIMIT, onError: tooLarge(JSON_LIMIT) }));
  app.use("/mcp", async (c, next) => (c.req.method === "POST" ? shed(c, next) : next()));
  app.route("/mcp", mcpRoutes());

  app.route("/api/v1", documentRoutes);
  app.route("/api/v1", jobRoutes);
  app.route("/api/v1", searchRoutes);
  app.route("/api/v1", askRoutes);
  app.route("/api/v1", conversationRoutes);
  app.route("/api/v1", feedbackRoutes);
  app.route("/api/v1", accessRoutes);
  app.route("/api/v1", adminRoutes);
  app.route("/api/v1", authRoutes);
  app.route("/api/v1", oidcRoutes);
  // SCIM 2.0 provisioning: its own tokens, limits and error format, outside the OpenAPI document (routes/scim/).
  app.route("/scim/v2", createScimRoutes());

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });
  app.openAPIRegistry.registerComponent("securitySchemes", "session", { type: "apiKey", in: "cookie", name: SESSION_COOKIE });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "private-kb",
      version: "1",
      description: "Private, on-premises knowledge base: ACL-filtered Korean/English retrieval and cited answers. Every /api route needs `Authorization: Bearer <token>` or the web app's session cookie (`POST /api/v1/auth/login`; cookie-authenticated writes also need `X-CSRF-Token` and a same-origin request, else 403 `csrf`); /v1 takes bearer tokens only. Requests without a valid token (failed authentication, /readyz, /openapi.json) are limited per client address: 429 + Retry-After. A URL with malformed percent-encoding is answered 400 `malformed_url` on every route. Searches and questions beyond the server's capacity (KB_MAX_IN_FLIGHT running, KB_MAX_QUEUED waiting) are answered at once 503 `overloaded` + Retry-After. The same bearer tokens, limits and audit serve `POST /mcp`, a Model Context Protocol server (Streamable HTTP; tools search, ask, get_document_page, list_sources), which is not described in this document: see the README.",
    },
    security: [{ bearer: [] }, { session: [] }],
  });
  // Last: the web app at / (never for API paths, which keep their JSON 404s).
  app.get("*", webAppHandler(options.webDir));
  return app;
}
