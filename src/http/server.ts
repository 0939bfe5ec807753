/** Serves the app on a port; returns a handle to stop it. */
import { serve, type ServerType } from "@hono/node-server";
import { Hono } from "hono";
import type { Kb } from "../services/container.ts";
import { createApp } from "./app.ts";

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export function startServer(kb: Kb, options: { port?: number; host?: string; webDir?: string } = {}): Promise<RunningServer> {
  return listen(createApp(kb, { webDir: options.webDir }).fetch, options.port ?? kb.config.port, options.host ?? kb.config.host);
}

/**
 * KB_METRICS_PORT: GET /metrics without a token, on 127.0.0.1 only (a Prometheus or node
 * exporter on the same machine scrapes it; anyone else must come through the API's /metrics
 * with a token). Nothing else is served there.
 */
export function startMetricsServer(kb: Kb, port = kb.config.metricsPort): Promise<RunningServer> {
  const app = new Hono();
  app.get("/metrics", async (c) => {
    const { contentType, body } = await kb.metrics.render();
    return c.body(body, 200, { "Content-Type": contentType, "Cache-Control": "no-store" });
  });
  app.notFound((c) => c.text("only /metrics is served here\n", 404));
  return listen(app.fetch, port, "127.0.0.1");
}

function listen(fetch: (req: Request, env: unknown) => Response | Promise<Response>, port: number, host: string): Promise<RunningServer> {
  return new Promise((resolve, reject) => {
    let server: ServerType;
    try {
      server = serve({ fetch, port, hostname: host }, (info) => {
        const shownHost = host.includes(":") ? `[${host}]` : host;
        resolve({
          url: `http://${shownHost}:${info.port}`,
          port: info.port,
          close: () =>
            new Promise<void>((res) => {
              (server as import("node:http").Server).closeAllConnections?.();
              server.close(() => res());
            }),
        });
      });
      server.on("error", reject);
    } catch (err) {
      reject(err);
    }
  });
}
