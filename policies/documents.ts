/**
 * Who may do what with a document. The read rule is the single source of truth for document
 * visibility: `documentReadRule` is evaluated in memory for document routes, and the retriever
 * has the chunk store compile it into the filter every search applies inside the index
 * (src/services/retrieval.ts, src/stores/lance/filter.ts).
 */
import { hasCapability, principalsOf, type Actor } from "./actor.ts";
import { allow, can, resource } from "./policy.ts";
import { all, always, atMost, because, evaluate, not, overlaps, type Access, type Rule } from "./rule.ts";

export interface DocumentSubject extends Access {
  /** `user:<name>` of the uploader, or null for system ingestion. */
  owner: string | null;
  /** Principals granted management of the document (editors who do not own it). */
  managers?: readonly string[];
}

export const Document = resource<DocumentSubject>("document");
/** Creating documents has no existing subject. */
export const DocumentCollection = resource<null>("documents");

/** Deny wins over allow; clearance must cover the classification; admins read everything. */
export function documentReadRule(actor: Actor): Rule {
  if (hasCapability(actor, "read_all_documents")) return because(`role "${actor.role}" has the read_all_documents capability`, always);
  const principals = principalsOf(actor);
  return because(
    "readable when allowed, not denied, and cleared",
    all(
      because("one of your principals is allowed", overlaps("allow", principals)),
      because("none of your principals is denied (deny wins)", not(because("a principal is denied", overlaps("deny", principals)))),
      because("your clearance covers the classification", atMost("classification", actor.clearance)),
    ),
  );
}

export function canRead(actor: Actor, doc: Access): boolean {
  return evaluate(documentReadRule(actor), doc);
}

const owns = (actor: Actor, doc: DocumentSubject) => doc.owner === `user:${actor.name}`;
/** Granted management through a principal in the document's managers list. */
const granted = (actor: Actor, doc: DocumentSubject) => {
  if (!doc.managers?.length) return false;
  const mine = principalsOf(actor);
  return doc.managers.some((p) => mine.includes(p));
};

allow(Document, "read", canRead);

/** Editors manage the documents they own or were granted (and can read); admins manage all. */
allow(Document, ["update", "delete", "set_acl"], (actor, doc) => {
  if (hasCapability(actor, "manage_all_documents")) return true;
  return hasCapability(actor, "manage_own_documents") && (owns(actor, doc) || granted(actor, doc)) && canRead(actor, doc);
});

/**
 * Setting a document's classification: whoever may set its ACL, to a level no higher than their
 * own clearance (an editor cannot label a document above what they may read); admins any level.
 */
export interface ClassificationChange {
  document: DocumentSubject;
  level: number;
}
export const DocumentClassification = resource<ClassificationChange>("document_classification");
allow(DocumentClassification, "set", (actor, change) => {
  if (hasCapability(actor, "manage_all_documents")) return true;
  return can(actor, "set_acl", Document, change.document) && change.level <= actor.clearance;
});

allow(DocumentCollection, "create", (actor) => hasCapability(actor, "ingest"));
/** `list`: search; `ask`: questions answered from the documents (both with the search capability). */
allow(DocumentCollection, ["list", "ask"], (actor) => hasCapability(actor, "search"));
/**
 * Listing and reading documents (each one then by its read rule): anyone signed in. A separate
 * action so a token's scopes can leave it out (policies/scopes.ts: a search-only token).
 */
allow(DocumentCollection, "read", () => true);

/**
 * Relevance scores (BM25, and anything computed from it such as fused hybrid scores). The
 * full-text index computes its term statistics over every row, including documents the actor may
 * not read, so a score tells how common a term is among hidden documents. Only actors who may
 * read every document see scores; everyone else gets ranks. Ranks are still a function of those
 * statistics (two visible results can swap places when hidden documents are added): that residual
 * is measured by `npm run bench:score-leak` and documented in docs/benchmarks.md.
 */
export const RelevanceScores = resource<null>("relevance_scores");
allow(RelevanceScores, "view", (actor) => hasCapability(actor, "read_all_documents"));

/** True when results shown to `actor` may carry their relevance scores. */
export function maySeeScores(actor: Actor): boolean {
  return can(actor, "view", RelevanceScores, null);
}
