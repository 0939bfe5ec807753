/** The audit log: read and export only with `view_audit`. Nobody edits it (append-only). */
import { hasCapability } from "./actor.ts";
import { allow, resource } from "./policy.ts";

export const Audit = resource<null>("audit");

allow(Audit, ["read", "export"], (actor) => hasCapability(actor, "view_audit"));
/** Checking the hash chain (`kb audit verify`) reads every event: the same capability. */
allow(Audit, "verify", (actor) => hasCapability(actor, "view_audit"));
