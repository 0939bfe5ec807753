/**
 * `/mcp`: the MCP server (src/mcp/server.ts) over the protocol's Streamable HTTP transport.
 *
 * Stateless: every POST gets a server and a transport of its own, with the actor the API's
 * middleware authenticated from the request's bearer token (app.ts mounts requireAuth, the
 * per-token rate limit, the body limit and load shedding in front, as for /v1). No session id is
 * issued, so any replica answers any request and nothing is kept between requests; a tool call's
 * progress notifications and result come back on its own POST's event stream. GET (a standalone
 * server-to-client stream) and DELETE (ending a session) have nothing to serve: 405.
 * A `notifications/cancelled` is delivered to the call it names through `McpCancellations`.
 *
 * The SDK's web-standard transport takes the request as it is (`c.req.raw`) and answers a
 * `Response`, so no Node req/res bridge is needed.
 */
import { Hono } from "hono";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { createMcpServer } from "../../mcp/server.ts";
import { McpCancellations } from "../../mcp/cancellations.ts";
import type { AppEnv } from "../env.ts";

const jsonRpcError = (code: number, message: string) => ({ jsonrpc: "2.0" as const, error: { code, message }, id: null });

export function mcpRoutes(cancellations = new McpCancellations()): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.post("/", async (c) => {
    const kb = c.get("kb");
    const actor = c.get("actor");
    const tokenId = c.get("tokenId");
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      return c.json(jsonRpcError(-32700, "Parse error: Invalid JSON"), 400);
    }
    for (const m of Array.isArray(body) ? body : [body]) {
      const msg = m as { method?: unknown; params?: { requestId?: unknown; reason?: unknown } } | null;
      const id = msg?.params?.requestId;
      if (msg?.method === "notifications/cancelled" && (typeof id === "string" || typeof id === "number")) {
        cancellations.cancel(tokenId, id, typeof msg.params?.reason === "string" ? msg.params.reason : undefined);
      }
    }
    const server = createMcpServer(kb, {
      actor: async () => actor,
      listedFor: actor,
      via: "mcp",
      request: `${c.req.method} ${c.req.path}`,
      // @hono/node-server aborts the request's signal when the client goes away before the answer is done.
      signal: c.req.raw.signal,
      cancellations: { register: (requestId) => cancellations.register(tokenId, requestId) },
    });
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    await server.connect(transport);
    return transport.handleRequest(c.req.raw, { parsedBody: body });
  });

  const notServed = () =>
    new Response(JSON.stringify(jsonRpcError(-32000, "Method not allowed: this server is stateless (POST only)")), {
      status: 405,
      headers: { Allow: "POST", "Content-Type": "application/json" },
    });
  routes.get("/", notServed);
  routes.delete("/", notServed);
  return routes;
}
