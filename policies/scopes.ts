/**
 * API token scopes: what a token may be used for, whatever its user's role allows beyond that.
 * A token without scopes acts with everything its user's role allows. A scoped token's actor
 * (made in `Accounts.authenticate`) has
 * - capabilities = the role's ∩ the union of its scopes' `capabilities`, and
 * - `scopes` set, so `can`/`authorize` (policy.ts) also require the `resource:action` checked to
 *   be named by one of its scopes' `actions` (`resource:*` names every action of a resource).
 * So one check, in policies, covers every route and channel; a refusal for a scope is a 403
 * audited as `auth.scope_denied`.
 *
 * `document:read` (the per-document ACL check, which the write paths run before theirs) is in
 * every scope: reading routes are gated by the collection's `documents:read`, so a search-only
 * token that tries to delete a document it can read is refused for the delete (403), not told
 * the document does not exist.
 *
 * `read_all_documents` and `view_sensitive` are in every scope that reads: they decide *which*
 * documents and *how much* of them the user sees (never more than the role gives), not what
 * the token may do.
 */
import type { Capability } from "./roles.ts";

export interface ScopeDefinition {
  description: string;
  /** Capabilities a token with this scope keeps (if its user's role has them). */
  capabilities: readonly Capability[];
  /** Policy checks (`resource:action`, or `resource:*`) a token with this scope passes. */
  actions: readonly string[];
}

const READING: readonly Capability[] = ["search", "read_all_documents", "view_sensitive"];

export const TOKEN_SCOPES = {
  search: {
    description: "search documents (POST /api/v1/search)",
    capabilities: READING,
    actions: ["documents:list", "document:read", "relevance_scores:view", "sensitive_data:view", "feedback:give"],
  },
  ask: {
    description: "ask questions and get cited answers (/api/v1/ask, the OpenAI-compatible /v1)",
    capabilities: READING,
    actions: ["documents:ask", "document:read", "relevance_scores:view", "sensitive_data:view", "feedback:give"],
  },
  read_documents: {
    description: "list and read documents, their text, pages and originals",
    capabilities: READING,
    actions: ["documents:read", "document:read", "sensitive_data:view", "job:read"],
  },
  write_documents: {
    description: "upload, update and delete documents, change their access, follow their jobs",
    capabilities: ["search", "ingest", "manage_own_documents", "manage_all_documents", "read_all_documents", "view_sensitive"],
    actions: ["documents:create", "documents:read", "document:*", "document_classification:set", "job:*", "users:directory", "sensitive_data:view"],
  },
  admin: {
    description: "administration: users, groups, tokens, audit, feedback review, policies, server status",
    capabilities: ["manage_users", "view_audit", "review_feedback", "manage_all_documents", "view_sensitive"],
    actions: ["document:read", "users:*", "groups:*", "tokens:*", "audit:*", "feedback:*", "policies:*", "server_status:*", "sensitive_data:*", "job:*"],
  },
} as const satisfies Record<string, ScopeDefinition>;

export type TokenScope = keyof typeof TOKEN_SCOPES;
export const SCOPE_NAMES = Object.keys(TOKEN_SCOPES) as TokenScope[];

export function isScope(name: string): name is TokenScope {
  return Object.hasOwn(TOKEN_SCOPES, name);
}

/** Checks that every name is a scope; returns them sorted, without duplicates. */
export function normalizeScopes(names: readonly string[]): TokenScope[] {
  const unknown = names.filter((n) => !isScope(n));
  if (unknown.length) throw new Error(`unknown scope${unknown.length > 1 ? "s" : ""} ${unknown.map((n) => `"${n}"`).join(", ")} (known: ${SCOPE_NAMES.join(", ")})`);
  return [...new Set(names as TokenScope[])].sort();
}

/** The capabilities a token with these scopes keeps of `role` (role ∩ scopes). */
export function scopedCapabilities(role: Iterable<Capability>, scopes: readonly string[]): Capability[] {
  const allowed = new Set<Capability>(scopes.filter(isScope).flatMap((s) => TOKEN_SCOPES[s].capabilities));
  return [...role].filter((c) => allowed.has(c)).sort();
}

/** Does one of `scopes` name the policy check `resource:action`? */
export function scopesPermit(scopes: readonly string[], resource: string, action: string): boolean {
  const key = `${resource}:${action}`;
  const any = `${resource}:*`;
  return scopes.some((s) => isScope(s) && (TOKEN_SCOPES[s].actions as readonly string[]).some((a) => a === key || a === any));
}
