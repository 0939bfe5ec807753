/** Ingestion jobs: their creator and document managers may follow and cancel them. */
import { hasCapability, type Actor } from "./actor.ts";
import { allow, resource } from "./policy.ts";

export interface JobSubject {
  createdBy: string | null;
}
export const Job = resource<JobSubject>("job");

const mayFollow = (actor: Actor, job: JobSubject) => hasCapability(actor, "manage_all_documents") || job.createdBy === `user:${actor.name}`;
allow(Job, ["read", "cancel"], mayFollow);
/**
 * Whole-index jobs (folder sync — it reads server folders —, reindex, re-embed, optimize) and
 * listing everyone's jobs: document managers (admins) only.
 */
allow(Job, "manage", (actor: Actor) => hasCapability(actor, "manage_all_documents"));
