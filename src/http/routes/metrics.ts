/**
 * GET /metrics: the Prometheus text exposition (src/services/metrics.ts). Never public: it takes
 * KB_METRICS_TOKEN (a token for the scraper alone, from a file or the environment) or an admin's
 * API token (`server_status` `read_metrics`); other requests get 401/403 like the API. A scraper
 * on the same machine can use the loopback-only KB_METRICS_PORT instead (server.ts).
 */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";
import { requireAuth } from "../middleware/auth.ts";
import { errorResponses } from "../schemas.ts";

export function metricsRoutes(): OpenAPIHono<AppEnv> {
  const routes = new OpenAPIHono<AppEnv>();
  const authenticated = requireAuth();
  routes.use("/metrics", async (c, next) => {
    const m = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "");
    if (m && c.get("kb").metrics.isMetricsToken(m[1]!)) {
      c.set("metricsToken", true);
      return next();
    }
    return authenticated(c, next);
  });
  routes.openapi(
    createRoute({
      method: "get",
      path: "/metrics",
      summary: "Prometheus metrics",
      description:
        "The Prometheus text format (HTTP latency per route and status, retrieval latency per mode, ingestion, job and LLM queues, errors by code, process metrics). Needs `Authorization: Bearer` with KB_METRICS_TOKEN or an admin's token (capability `manage_all_documents`). KB_METRICS_PORT serves the same without a token on 127.0.0.1 only.",
      security: [{ bearer: [] }],
      responses: {
        200: { description: "metrics", content: { "text/plain": { schema: z.string() } } },
        401: errorResponses[401],
        403: errorResponses[403],
        429: errorResponses[429],
      },
    }),
    async (c) => {
      const { contentType, body } = await c.get("kb").metrics.scrape(c.get("metricsToken") ? "metrics_token" : c.get("actor"));
      return c.text(body, 200, { "Content-Type": contentType, "Cache-Control": "no-store" });
    },
  );
  return routes;
}
