/**
 * Once per knowledge base, when names became canonical (principal-format.ts): users, groups,
 * memberships and document ACLs written before are brought to the canonical form, so that a deny
 * written `user:Kim` stops `kim`, and NFD 김철수 is the NFC one.
 *
 * - A stored name whose canonical form no other stored name of its kind shares is renamed, with
 *   every reference to it (memberships, document owner/allow/deny/manage in SQLite and LanceDB,
 *   job ownership). Reported in the log and the audit log.
 * - Names that collide (`Kim` and `kim` both exist) are left exactly as they are, and so are ACL
 *   entries naming either: merging them would hand one person's access to another. They are
 *   reported at every start and by `kb users conflicts`, for an administrator to resolve
 *   (delete or re-create one of them).
 * Any other ACL entry (`group:HR` with no such group, `role:Editor`) is canonicalized.
 *
 * A one-time data migration: the renames are the store's `users.renamePrincipal` (SQL of each
 * dialect), run inside the store's transaction that commits the documents' access change
 * (DocumentWriter) and the done mark.
 */
import { canonicalName, parsePrincipal } from "../../policies/index.ts";
import type { DocumentRow, MetadataStore } from "../stores/metadata.ts";
import type { Accounts, NameConflicts } from "./accounts.ts";
import type { ActiveIndex } from "./active-index.ts";
import type { AuditLog } from "./audit.ts";
import { DocumentWriter } from "./document-writer.ts";

const DONE_KEY = "principals.canonical";

export interface NameMigration {
  renamed: { kind: "user" | "group"; from: string; to: string }[];
  /** Documents whose owner or access lists changed. */
  documents: number;
  conflicts: NameConflicts;
}

export interface NameMigrationDeps {
  accounts: Accounts;
  /** The documents' access changes go through the store (DocumentWriter), and so do the renames. */
  metadata: MetadataStore;
  index: ActiveIndex;
  audit: AuditLog;
}

/** Runs the migration unless it ran before; null when it had. */
export async function canonicalizeStoredNames(deps: NameMigrationDeps, options: { force?: boolean } = {}): Promise<NameMigration | null> {
  if (!options.force && (await deps.metadata.settings.get(DONE_KEY))) return null;
  const conflicts = await deps.accounts.nameConflicts();
  const colliding = new Set(conflicts.collisions.map((c) => `${c.kind}:${c.canonical}`));
  const stored = [
    ...(await deps.metadata.users.list()).map((r) => ({ kind: "user" as const, name: r.name })),
    ...(await deps.metadata.users.listGroups()).map((r) => ({ kind: "group" as const, name: r.name })),
  ];
  const renamed = stored
    .map((p) => ({ kind: p.kind, from: p.name, to: canonicalName(p.name) }))
    .filter((r) => r.from !== r.to && !colliding.has(`${r.kind}:${r.to}`));

  const entry = (text: string): string => {
    let p: { kind: string; name: string };
    try {
      p = parsePrincipal(text);
    } catch {
      return text; // not a principal we can read: left for an administrator to see
    }
    const literal = text.slice(text.indexOf(":") + 1);
    // Either spelling of a colliding name stays literal, so it keeps naming whom it named.
    if ((p.kind === "user" || p.kind === "group") && colliding.has(`${p.kind}:${p.name}`)) return text;
    return literal === p.name && text.startsWith(`${p.kind}:`) ? text : `${p.kind}:${p.name}`;
  };
  const list = (l: string[]) => [...new Set(l.map(entry))].sort();
  const changes: { doc: DocumentRow; allow: string[]; deny: string[]; manage: string[]; owner: string | null }[] = [];
  for (const doc of await deps.metadata.documents.all()) {
    const next = { doc, allow: list(doc.aclAllow), deny: list(doc.aclDeny), manage: list(doc.aclManage ?? []), owner: doc.owner === null ? null : entry(doc.owner) };
    const same = (a: string[], b: string[]) => a.join("\n") === [...b].sort().join("\n");
    if (!same(next.allow, doc.aclAllow) || !same(next.deny, doc.aclDeny) || !same(next.manage, doc.aclManage ?? []) || next.owner !== doc.owner) changes.push(next);
  }

  if (renamed.length === 0 && changes.length === 0) {
    await deps.metadata.settings.set(DONE_KEY, new Date().toISOString());
    return { renamed, documents: 0, conflicts };
  }
  // The documents' access changes in both stores (document-writer.ts); the renames, the done
  // mark and the audit event are committed in the same transaction.
  const writer = new DocumentWriter({ documents: deps.metadata.documents, index: deps.index });
  await writer.updateAccess(
    changes.map((c) => ({ documentIds: [c.doc.id], access: { allow: c.allow, deny: c.deny, classification: c.doc.classification, manage: c.manage }, fields: { owner: c.owner } })),
    async (tx) => {
      for (const r of renamed) await tx.users.renamePrincipal(r.kind, r.from, r.to);
      await tx.settings.set(DONE_KEY, new Date().toISOString());
      await deps.audit.record("system", "principals.canonicalize", "principals", { renamed, documents: changes.map((c) => c.doc.id), conflicts });
    },
  );
  return { renamed, documents: changes.length, conflicts };
}
