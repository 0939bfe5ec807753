/** The audit log: read and export only with `view_audit`. Nobody edits it (append-only). */
import { hasCapability } from "./actor.ts";
import { allow, resource } from "./policy.ts";

export const Audit = resource<null>("audit");

allow(Audit, ["read", "export"], (actor) => hasCapability(actor, "view_audit"));
