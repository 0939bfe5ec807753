import type { Actor } from "../../policies/index.ts";
import type { Kb } from "../services/container.ts";

/** Per-request context: the authenticated actor and the wired services. */
export interface AppEnv {
  Variables: {
    actor: Actor;
    tokenId: string;
    kb: Kb;
  };
}
