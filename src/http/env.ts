import type pino from "pino";
import type { Actor } from "../../policies/index.ts";
import type { Kb } from "../services/container.ts";
import type { SessionAuth } from "../services/sign-in.ts";

/** Per-request context: the authenticated actor, the client address and the wired services. */
export interface AppEnv {
  Variables: {
    actor: Actor;
    tokenId: string;
    /** The API token's own requests per minute (null or unset: the server's limit). */
    tokenRateLimit: number | null | undefined;
    kb: Kb;
    /** The client's address (src/http/client-address.ts): the peer, or X-Forwarded-For from a trusted proxy. */
    clientAddress: string;
    /** True when a trusted proxy says the client connected over https (X-Forwarded-Proto). */
    forwardedHttps: boolean;
    /** Set when the request was authenticated by its session cookie (src/http/middleware/session.ts). */
    session: SessionAuth | undefined;
    /** This request's id (X-Request-Id; src/http/middleware/observe.ts). */
    requestId: string;
    /** The knowledge base's logger bound to this request's id. */
    log: pino.Logger;
    /** Set when /metrics was called with KB_METRICS_TOKEN (src/http/routes/metrics.ts). */
    metricsToken: boolean | undefined;
  };
}
