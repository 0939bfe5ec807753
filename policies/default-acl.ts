/**
 * The access a document gets when its ingestion names none. Explicit `--allow`/`--deny`
 * (or the upload's `allow`/`deny` fields) replace the default allow list entirely.
 *
 * Default: every signed-in user may read it (`group:everyone`), classification "internal".
 */
import { EVERYONE } from "./actor.ts";
import { DEFAULT_CLASSIFICATION } from "./classification.ts";
import { ownerKeepsRead, type ExplicitAccess } from "./document-access.ts";
import type { Access } from "./rule.ts";

export interface NewDocumentFacts {
  source: string;
  /** `user:<name>` of the uploader, null for the operator's CLI. */
  owner: string | null;
}

export function defaultAcl(facts: NewDocumentFacts): Access {
  return { allow: ownerKeepsRead([EVERYONE], facts.owner), deny: [], classification: DEFAULT_CLASSIFICATION };
}

/** Applies explicit lists over the default: an explicit allow list replaces it; the owner keeps access. */
export function resolveAcl(facts: NewDocumentFacts, explicit: ExplicitAccess): Access {
  const base = defaultAcl(facts);
  const allow = explicit.allow && explicit.allow.length > 0 ? explicit.allow : base.allow;
  return {
    allow: ownerKeepsRead(allow, facts.owner),
    deny: [...new Set(explicit.deny ?? base.deny)].sort(),
    classification: explicit.classification ?? base.classification,
  };
}
