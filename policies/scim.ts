/**
 * SCIM provisioning tokens (`kb scim token …`): bearer tokens of their own kind that let an
 * identity provider push users and groups. Only holders of `manage_users` make, list or revoke
 * them: a SCIM token can create users and change every provisioned membership.
 */
import { hasCapability } from "./actor.ts";
import { allow, resource } from "./policy.ts";

export const ScimTokens = resource<null>("scim_tokens");

allow(ScimTokens, ["list", "create", "revoke"], (actor) => hasCapability(actor, "manage_users"));
