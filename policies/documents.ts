/**
 * Who may do what with a document. The read rule is the single source of truth for document
 * visibility: `documentReadRule` is evaluated in memory for document routes and compiled into
 * the LanceDB filter (`retrievalFilter`) that every search applies inside the index.
 */
import { hasCapability, principalsOf, type Actor } from "./actor.ts";
import { allow, resource } from "./policy.ts";
import { all, always, atMost, evaluate, not, overlaps, toLanceFilter, type AccessFields, type Rule } from "./rule.ts";

export interface DocumentSubject extends AccessFields {
  /** `user:<name>` of the uploader, or null for system ingestion. */
  owner: string | null;
}

export const Document = resource<DocumentSubject>("document");
/** Creating documents has no existing subject. */
export const DocumentCollection = resource<null>("documents");

/** Deny wins over allow; clearance must cover the classification; admins read everything. */
export function documentReadRule(actor: Actor): Rule {
  if (hasCapability(actor, "read_all_documents")) return always;
  const principals = principalsOf(actor);
  return all(overlaps("allow", principals), not(overlaps("deny", principals)), atMost("classification", actor.clearance));
}

/** The LanceDB `where` clause for everything `actor` may read; null means unrestricted. */
export function retrievalFilter(actor: Actor): string | null {
  return toLanceFilter(documentReadRule(actor));
}

export function canRead(actor: Actor, doc: AccessFields): boolean {
  return evaluate(documentReadRule(actor), doc);
}

const owns = (actor: Actor, doc: DocumentSubject) => doc.owner === `user:${actor.name}`;

allow(Document, "read", canRead);

allow(Document, ["update", "delete", "set_acl"], (actor, doc) => {
  if (hasCapability(actor, "manage_all_documents")) return true;
  return hasCapability(actor, "manage_own_documents") && owns(actor, doc) && canRead(actor, doc);
});

allow(DocumentCollection, "create", (actor) => hasCapability(actor, "ingest"));
allow(DocumentCollection, "list", (actor) => hasCapability(actor, "search"));
