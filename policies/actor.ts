/**
 * Who is asking. An actor's principals are what document ACLs name:
 * `user:<name>`, `group:<name>` (every group it belongs to, directly or through nesting),
 * `role:<role>`, and `group:everyone`, which every signed-in user belongs to.
 */
import { canonicalName } from "./principal-format.ts";
import { capabilitiesOf, type Capability } from "./roles.ts";

export interface Actor {
  id: string;
  name: string;
  role: string;
  /** Groups after expanding nested memberships. */
  groups: string[];
  /** Highest classification level the actor may read. */
  clearance: number;
  /**
   * The role's capabilities, resolved from the role catalog (built-in and custom roles) when the
   * actor was made. Absent: the built-in role's capabilities.
   */
  capabilities?: readonly Capability[];
  /**
   * Set for a request made with a scoped API token (policies/scopes.ts): `capabilities` are
   * already narrowed to the scopes, and every policy check must be named by one of them.
   */
  scopes?: readonly string[];
  /** The API token that authenticated the request, if any (audit details of a scope refusal). */
  tokenId?: string;
}

export const EVERYONE = "group:everyone";

export function principalsOf(actor: Actor): string[] {
  // User and group names are stored canonical (principal-format.ts); a legacy name that is not
  // is kept literal so it never merges with the user who owns its canonical form. Role names come
  // from policy files and are compared in canonical form, as ACL entries naming them are.
  const set = new Set<string>([`user:${actor.name}`, `role:${canonicalName(actor.role)}`, EVERYONE]);
  for (const g of actor.groups) set.add(`group:${g}`);
  return [...set].sort();
}

export function hasCapability(actor: Actor, capability: Capability): boolean {
  return actor.capabilities ? actor.capabilities.includes(capability) : capabilitiesOf(actor.role).has(capability);
}

/** The built-in actor for CLI commands run by the operator on the server itself. */
export const SYSTEM_ACTOR: Actor = { id: "system", name: "system", role: "admin", groups: [], clearance: Number.MAX_SAFE_INTEGER };
