/** Serves the app on a port; returns a handle to stop it. */
import { serve, type ServerType } from "@hono/node-server";
import type { Kb } from "../services/container.ts";
import { createApp } from "./app.ts";

export interface RunningServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

export function startServer(kb: Kb, options: { port?: number; host?: string; webDir?: string } = {}): Promise<RunningServer> {
  const app = createApp(kb, { webDir: options.webDir });
  const host = options.host ?? kb.config.host;
  return new Promise((resolve, reject) => {
    let server: ServerType;
    try {
      server = serve({ fetch: app.fetch, port: options.port ?? kb.config.port, hostname: host }, (info) => {
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
