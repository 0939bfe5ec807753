/**
 * The server's readiness details (/readyz): retrieval and answer modes, the model setup (files,
 * GPU backend, threads) and the counts of all documents and chunks, hidden ones included. Anyone
 * may learn that the server is ready (load balancers send no token); the details are for
 * document managers (admins): they run the whole-index jobs (reindex, re-embed) that change them,
 * and those jobs' progress already shows the same counts.
 */
import { hasCapability } from "./actor.ts";
import { allow, resource } from "./policy.ts";

export const ServerStatus = resource<null>("server_status");

allow(ServerStatus, "read_details", (actor) => hasCapability(actor, "manage_all_documents"));

/** Prometheus metrics (GET /metrics): request rates, queue depths and process facts, for operators. */
allow(ServerStatus, "read_metrics", (actor) => hasCapability(actor, "manage_all_documents"));
