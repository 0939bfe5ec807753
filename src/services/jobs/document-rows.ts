/**
 * Document rows that jobs create before they write them: the document a name (identity) refers
 * to for this actor, or a new row (status processing, no version yet) that the job fills.
 */
import path from "node:path";
import { authorize, can, Document, resolveAcl, type Actor, type Access } from "../../../policies/index.ts";
import { clampTitle } from "../../domain/limits.ts";
import { newId } from "../../stores/ids.ts";
import { subjectOfRow, type DocumentIdentity, type DocumentRow } from "../../stores/metadata.ts";
import type { FileOptions, JobDeps } from "./context.ts";

export const subjectOf = subjectOfRow;

/**
 * The document `identity` names, or a new row for it (status processing, no version yet).
 * A named document the actor may not update is never touched: one they cannot read (an admin
 * took it away) stops being named by it and a new document takes the name; one they can read
 * but not update is a 403, since they see it anyway.
 */
export async function documentFor(
  deps: Pick<JobDeps, "documents" | "resolveAccess">,
  actor: Actor,
  identity: DocumentIdentity,
  source: string,
  options: FileOptions,
): Promise<DocumentRow> {
  const existing = await deps.documents.byIdentity(identity);
  if (existing) {
    const subject = subjectOf(existing);
    if (can(actor, "update", Document, subject)) return existing;
    if (can(actor, "read", Document, subject)) authorize(actor, "update", Document, subject);
    await deps.documents.detachIdentity(existing.id);
  }
  const acl: Access & { tags?: string[] } = (deps.resolveAccess ?? resolveAcl)({ source, owner: options.owner, tags: options.tags, synced: options.synced }, options);
  const id = newId("doc");
  try {
    await deps.documents.insert({
      id,
      source,
      identityScope: identity.scope,
      identityKey: identity.key,
      title: clampTitle(options.title ?? path.basename(source)),
      status: "processing",
      owner: options.owner,
      aclAllow: acl.allow,
      aclDeny: acl.deny,
      classification: acl.classification,
      tags: acl.tags ?? options.tags ?? [],
    });
  } catch (err) {
    // Another process of the same owner (or sync) inserted the same name concurrently.
    const again = await deps.documents.byIdentity(identity);
    if (again) return again;
    throw err;
  }
  return (await deps.documents.byId(id))!;
}

