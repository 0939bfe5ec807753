/**
 * The write-side access rules, each stated once: what a document's access becomes when it is
 * created (default-acl.ts, document-rules.ts) or changed (services/access.ts), and what a folder
 * sync compares to decide that a document's access is unchanged (services/ingest/plans.ts).
 *
 * - The owner keeps read access: whatever allow list a document is given, its owner is on it.
 * - A change names principals in their canonical form and a classification 0..3; an empty
 *   change is refused.
 */
import type { Access } from "./rule.ts";
import { parsePrincipal } from "./principal-format.ts";

/** Access chosen explicitly at ingestion (`kb ingest --allow/--deny/--classification`, upload fields). */
export type ExplicitAccess = Partial<Access>;

/** A document's access with the principals granted its management (editors who do not own it). */
export interface DocumentAccess extends Access {
  manage: string[];
}

/** The allow list as stored: distinct, sorted, and with the owner on it (the owner keeps read access). */
export function ownerKeepsRead(allow: readonly string[], owner: string | null): string[] {
  const set = new Set(allow);
  if (owner) set.add(owner);
  return [...set].sort();
}

/** Replace lists (`allow`, `deny`, `manage`) and/or edit them (`add*`/`remove*`); set `classification`. */
export interface AclChange {
  allow?: string[];
  deny?: string[];
  manage?: string[];
  addAllow?: string[];
  removeAllow?: string[];
  addDeny?: string[];
  removeDeny?: string[];
  classification?: number;
}

/** A change that cannot be made as given; `code` says which part is wrong. */
export class AclChangeError extends Error {
  constructor(
    readonly code: "bad_principal" | "bad_request",
    message: string,
  ) {
    super(message);
    this.name = "AclChangeError";
  }
}

function principals(list: string[] | undefined, field: string): string[] | undefined {
  if (list === undefined) return undefined;
  try {
    return list.map((p) => {
      const { kind, name } = parsePrincipal(p);
      return `${kind}:${name}`;
    });
  } catch (err) {
    throw new AclChangeError("bad_principal", `${field}: ${(err as Error).message}`);
  }
}

/** Validates a change (principals, classification) and normalizes it; throws AclChangeError. */
export function normalizeAclChange(change: AclChange): AclChange {
  const out: AclChange = {};
  for (const k of ["allow", "deny", "manage", "addAllow", "removeAllow", "addDeny", "removeDeny"] as const) {
    const v = principals(change[k], k);
    if (v !== undefined) out[k] = v;
  }
  if (change.classification !== undefined) {
    if (!Number.isInteger(change.classification) || change.classification < 0 || change.classification > 3) throw new AclChangeError("bad_request", "classification: expected 0..3 (public, internal, confidential, secret)");
    out.classification = change.classification;
  }
  if (Object.keys(out).length === 0) throw new AclChangeError("bad_request", "no change given (allow, deny, manage, addAllow, removeAllow, addDeny, removeDeny or classification)");
  return out;
}

/** The access after a change; the owner keeps read access, as at ingestion. */
export function applyAclChange(current: DocumentAccess, change: AclChange, owner: string | null): DocumentAccess {
  const edit = (base: string[], replace?: string[], add?: string[], remove?: string[]) => {
    const set = new Set(replace ?? base);
    for (const p of add ?? []) set.add(p);
    for (const p of remove ?? []) set.delete(p);
    return [...set].sort();
  };
  return {
    allow: ownerKeepsRead(edit(current.allow, change.allow, change.addAllow, change.removeAllow), owner),
    deny: edit(current.deny, change.deny, change.addDeny, change.removeDeny),
    classification: change.classification ?? current.classification,
    manage: edit(current.manage, change.manage),
  };
}
