/** The policy files themselves: validating, reloading and explaining decisions. */
import { hasCapability } from "./actor.ts";
import { allow, resource } from "./policy.ts";

export const Policies = resource<null>("policies");

/** Explaining a decision reveals a user's memberships and a document's ACL: admins of either. */
allow(Policies, ["explain", "read"], (actor) => hasCapability(actor, "manage_users") || hasCapability(actor, "manage_all_documents"));
