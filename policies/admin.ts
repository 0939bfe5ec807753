/** Administrative resources: users, groups, tokens, jobs, audit. */
import { hasCapability, type Actor } from "./actor.ts";
import { allow, resource } from "./policy.ts";

export const Users = resource<null>("users");
export const Audit = resource<null>("audit");
export interface JobSubject {
  createdBy: string | null;
}
export const Job = resource<JobSubject>("job");

allow(Users, ["list", "create", "update", "delete", "manage_tokens"], (actor) => hasCapability(actor, "manage_users"));
allow(Audit, "read", (actor) => hasCapability(actor, "view_audit"));
allow(Job, "read", (actor: Actor, job) => hasCapability(actor, "manage_all_documents") || job.createdBy === `user:${actor.name}`);
allow(Job, "cancel", (actor: Actor, job) => hasCapability(actor, "manage_all_documents") || job.createdBy === `user:${actor.name}`);
