import type { Actor } from "../../policies/index.ts";
import type { Kb } from "../services/container.ts";

/** Per-request context: the authenticated actor, the client address and the wired services. */
export interface AppEnv {
  Variables: {
    actor: Actor;
    tokenId: string;
    kb: Kb;
    /** The client's address (src/http/client-address.ts): the peer, or X-Forwarded-For from a trusted proxy. */
    clientAddress: string;
  };
}
