/**
 * Changing who may read a document, one at a time or in bulk, and explaining decisions.
 *
 * A change is applied to the chunk rows in LanceDB (`updateAccess`: the access columns are
 * rewritten in place, nothing is re-embedded) and then to the document row, and audited with
 * before/after. The very next query sees it: every search reads the latest table version.
 *
 * Writes go through the DocumentWriter and the active index's write protocol, like ingestion: the
 * document rows and audit entries are committed only if the table written is still the active
 * one, else the LanceDB write is repeated on the table a re-embed job switched to. A change made
 * while a re-embed job copies documents is therefore never lost in the switch.
 */
import {
  AclChangeError,
  applyAclChange,
  authorize,
  canRead,
  Document,
  DocumentClassification,
  explainRead,
  normalizeAclChange,
  Policies,
  principalLabel,
  type AclChange,
  type Actor,
  type DocumentAccess,
  type DocumentSubject,
  type PrincipalInfo,
  type ReadExplanation,
} from "../../policies/index.ts";
import type { DocumentWriter } from "./document-writer.ts";
import { accessOfRow, MANUAL_ORIGIN, subjectOfRow, type DocumentRow, type DocumentStore } from "../stores/metadata.ts";
import type { Accounts } from "./accounts.ts";
import type { AuditLog } from "./audit.ts";
import { badRequest, notFound, ServiceError } from "./errors.ts";
import { requireMaxLength, TEXT_LIMITS } from "./limits.ts";
import type { PolicyFiles } from "./policy-files.ts";
import type { Retriever } from "./retrieval.ts";
import { redactorFor } from "./sensitive.ts";

export type { AclChange, DocumentAccess };

/** One of the documents an ambiguous name could mean. */
export interface DocumentCandidate {
  id: string;
  source: string;
  title: string;
  owner: string | null;
}

/**
 * The document a reference means: an id, else a source (the first of `sources` that names any
 * document `visible` lets through). Sources are not unique (every owner and sync names its own
 * documents), so a source that names several documents is a 409 listing them as candidates.
 * Documents `visible` rejects are never candidates and never make a source ambiguous, so the
 * answer cannot reveal a document the caller may not read; an id is returned as is and the
 * caller decides (callers answer an unreadable one like a missing one).
 */
export async function documentByRef(documents: DocumentStore, ref: string, sources: string[] = [ref], visible: (d: DocumentRow) => boolean = () => true): Promise<DocumentRow> {
  const byId = await documents.byId(ref);
  if (byId) return byId;
  for (const source of sources) {
    const found = (await documents.withSource(source)).filter(visible);
    if (found.length === 1) return found[0]!;
    if (found.length > 1) {
      const candidates: DocumentCandidate[] = found.map((d) => ({ id: d.id, source: d.source, title: d.title, owner: d.owner }));
      throw new ServiceError(409, "ambiguous_document", `"${source}" names ${found.length} documents; give one of their ids: ${candidates.map((c) => c.id).join(", ")}`, {}, { candidates });
    }
  }
  throw notFound(`document "${ref}"`);
}

/** Which documents a bulk change applies to: every given criterion must hold. */
export interface DocumentSelector {
  ids?: string[];
  /** Source path prefix, e.g. "/srv/share/hr/". */
  prefix?: string;
  tag?: string;
  /** A search query: the documents among the top `queryTopK` hits the actor can see. */
  query?: string;
  queryTopK?: number;
}

export interface BulkResult {
  dryRun: boolean;
  matched: number;
  changed: { id: string; source: string; before: DocumentAccess; after: DocumentAccess }[];
  unchanged: string[];
  skipped: { id: string; reason: string }[];
}

const accessOf = (d: DocumentRow): DocumentAccess => ({ ...accessOfRow(d), manage: d.aclManage });
const subjectOf = (d: DocumentRow): DocumentSubject => subjectOfRow(d);
const sameAccess = (a: DocumentAccess, b: DocumentAccess) => JSON.stringify(a) === JSON.stringify(b);

/** The change in canonical form (policies/document-access.ts), or a 400 saying what is wrong. */
function normalizeChange(change: AclChange): AclChange {
  try {
    return normalizeAclChange(change);
  } catch (err) {
    if (err instanceof AclChangeError) throw badRequest(err.message, err.code);
    throw err;
  }
}

export class AccessService {
  constructor(
    private readonly deps: {
      documents: DocumentStore;
      /** Changes access in both stores (the active table's protocol: document-writer.ts). */
      writer: DocumentWriter;
      audit: AuditLog;
      retriever: Retriever;
      accounts: Accounts;
      policy: PolicyFiles;
    },
  ) {}

  private async refuseLookAlikes(change: AclChange): Promise<void> {
    const { allow = [], deny = [], manage = [], addAllow = [], addDeny = [] } = change;
    await this.deps.accounts.refuseLookAlikePrincipals([...allow, ...deny, ...manage, ...addAllow, ...addDeny]);
  }

  /** The document if `actor` may read it, else not found (audited as denied when it exists). */
  private async readable(actor: Actor, id: string): Promise<DocumentRow> {
    const d = await this.deps.documents.byId(id);
    if (!d || !canRead(actor, subjectOf(d))) {
      if (d) await this.deps.audit.record(actor, "document.acl", id, { reason: "not readable by this user" }, "denied");
      throw notFound("document");
    }
    return d;
  }

  /** Checks that `actor` may make `change` to `doc`; throws ForbiddenError otherwise. */
  private authorizeChange(actor: Actor, doc: DocumentRow, next: DocumentAccess): void {
    const subject = subjectOf(doc);
    authorize(actor, "set_acl", Document, subject);
    if (next.classification !== doc.classification) authorize(actor, "set", DocumentClassification, { document: subject, level: next.classification });
  }

  /** PUT /documents/:id/acl: applies a change to one document. */
  async setAcl(actor: Actor, id: string, change: AclChange): Promise<{ id: string; before: DocumentAccess; after: DocumentAccess; changed: boolean }> {
    const normalized = normalizeChange(change);
    await this.refuseLookAlikes(normalized);
    const doc = await this.readable(actor, id);
    const before = accessOf(doc);
    const after = applyAclChange(before, normalized, doc.owner);
    this.authorizeChange(actor, doc, after);
    if (sameAccess(before, after)) return { id, before, after, changed: false };
    // The audit event commits with the change (the callback runs inside the commit's transaction).
    await this.deps.writer.updateAccess([{ documentIds: [id], access: after }], async () => {
      await this.deps.audit.record(actor, "document.acl", id, { before, after });
    });
    return { id, before, after, changed: true };
  }

  /** The documents a selector names (before any permission check). */
  async select(actor: Actor, selector: DocumentSelector): Promise<DocumentRow[]> {
    const { ids, prefix, tag, query } = selector;
    requireMaxLength("prefix", prefix, TEXT_LIMITS.path);
    requireMaxLength("tag", tag, 64);
    if (!ids?.length && !prefix && !tag && !query) throw badRequest("select documents by at least one of ids, prefix, tag, query");
    let rows: DocumentRow[];
    if (ids?.length) rows = (await Promise.all(ids.map((id) => this.deps.documents.byId(id)))).filter((d): d is DocumentRow => d !== undefined);
    else rows = await this.deps.documents.all();
    if (prefix) rows = rows.filter((d) => d.source.startsWith(prefix));
    if (tag) rows = rows.filter((d) => d.tags.includes(tag));
    if (query) {
      const hits = await this.deps.retriever.retrieve(actor, query, { topK: Math.min(Math.max(selector.queryTopK ?? 50, 1), 500) });
      const found = new Set(hits.chunks.map((c) => c.documentId));
      rows = rows.filter((d) => found.has(d.id));
    }
    return rows;
  }

  /**
   * Applies one change to every selected document the actor may change; the others are
   * reported as skipped. Documents that end with the same access are updated in one LanceDB
   * commit; the document rows in one SQLite transaction.
   */
  async bulk(actor: Actor, selector: DocumentSelector, change: AclChange, options: { dryRun?: boolean } = {}): Promise<BulkResult> {
    const normalized = normalizeChange(change);
    await this.refuseLookAlikes(normalized);
    const rows = await this.select(actor, selector);
    const result: BulkResult = { dryRun: options.dryRun ?? false, matched: 0, changed: [], unchanged: [], skipped: [] };
    const groups = new Map<string, { access: DocumentAccess; docs: DocumentRow[] }>();
    for (const doc of rows) {
      // Documents the actor cannot read are skipped silently: their existence is not revealed.
      if (!canRead(actor, subjectOf(doc))) continue;
      result.matched++;
      const before = accessOf(doc);
      const after = applyAclChange(before, normalized, doc.owner);
      try {
        this.authorizeChange(actor, doc, after);
      } catch (err) {
        result.skipped.push({ id: doc.id, reason: (err as Error).message });
        continue;
      }
      if (sameAccess(before, after)) {
        result.unchanged.push(doc.id);
        continue;
      }
      result.changed.push({ id: doc.id, source: doc.source, before, after });
      const key = JSON.stringify(after);
      const g = groups.get(key) ?? { access: after, docs: [] };
      g.docs.push(doc);
      groups.set(key, g);
    }
    if (result.dryRun || result.changed.length === 0) return result;

    const bulkId = `bulk-${Date.now().toString(36)}`;
    await this.deps.writer.updateAccess(
      [...groups.values()].map((g) => ({ documentIds: g.docs.map((d) => d.id), access: g.access })),
      async () => {
        for (const c of result.changed) await this.deps.audit.record(actor, "document.acl", c.id, { before: c.before, after: c.after, bulk: bulkId });
        await this.deps.audit.record(actor, "document.acl.bulk", bulkId, { selector, change: normalized, changed: result.changed.length, unchanged: result.unchanged.length, skipped: result.skipped.length });
      },
    );
    return result;
  }

  /**
   * The policy files in force (re-read first if they changed): roles, document default rules
   * (path globs as written) and each file's status, for `GET /admin/policy`.
   */
  policyInForce(caller: Actor): { dir: string; files: ReturnType<PolicyFiles["status"]>; roles: ReturnType<ReturnType<PolicyFiles["roles"]>["list"]>; documentRules: unknown[] } {
    authorize(caller, "read", Policies, null);
    const policy = this.deps.policy;
    policy.refresh();
    return {
      dir: policy.dir,
      files: policy.status(),
      roles: policy.roles().list(),
      documentRules: policy.documentRules().rules.map((r) => ({ ...r, match: { ...r.match, path: r.match.path?.map((g) => g.pattern) } })),
    };
  }

  /**
   * A document's id, by id or by a source (each spelling in `sources`, e.g. as typed and as an
   * absolute path) that one document the caller may read has; 409 `ambiguous_document` with the
   * candidates when several have it, 404 otherwise (the CLI names documents this way).
   */
  async documentIdByRef(caller: Actor, ref: string, sources: string[] = [ref]): Promise<string> {
    const doc = await documentByRef(this.deps.documents, ref, sources, (d) => canRead(caller, subjectOf(d)));
    if (!canRead(caller, subjectOf(doc))) throw notFound(`document "${ref}"`);
    return doc.id;
  }

  /**
   * How the user belongs to each of their groups, in words for `explain`: the chain of groups
   * with display names, and which links are manual overrides (an admin's row in a
   * directory-managed group, kept through syncs); and each group's and the user's display name
   * and source.
   */
  private async membershipWords(actor: Actor): Promise<{ via: Record<string, string>; principals: Record<string, PrincipalInfo> }> {
    const accounts = this.deps.accounts;
    const groups = new Map((await accounts.listGroups()).map((g) => [g.name, g]));
    const user = await accounts.getUser(actor.name);
    const principals: Record<string, PrincipalInfo> = { [`user:${user.name}`]: { displayName: user.displayName, source: user.source } };
    for (const g of groups.values()) principals[`group:${g.name}`] = { displayName: g.displayName, source: g.source };
    const rows = new Map<string, { kind: string; name: string; origin: string }[]>();
    const rowsOf = async (group: string) => rows.get(group) ?? rows.set(group, await accounts.memberRows(group)).get(group)!;
    /** A link is a manual override when the group is a directory's and only an admin's row makes the member part of it. */
    const isOverride = async (group: string, kind: "user" | "group", name: string) => {
      const source = groups.get(group)?.source ?? "local";
      if (source === "local") return false;
      const origins = (await rowsOf(group)).filter((r) => r.kind === kind && r.name === name).map((r) => r.origin);
      return origins.length > 0 && origins.every((o) => o === MANUAL_ORIGIN);
    };
    const via: Record<string, string> = {};
    for (const [group, chain] of Object.entries(await accounts.membershipPaths(actor.name))) {
      const overrides: string[] = [];
      for (const [i, g] of chain.entries()) {
        const member = i === 0 ? { kind: "user" as const, name: user.name } : { kind: "group" as const, name: chain[i - 1]! };
        if (await isOverride(g, member.kind, member.name)) overrides.push(`${member.kind}:${member.name} in group:${g} is a manual override`);
      }
      const path = chain.length > 1 ? chain.map((g) => principalLabel(`group:${g}`, principals[`group:${g}`])).join(" → ") : "direct membership";
      via[`group:${group}`] = [path, ...overrides].join("; ");
    }
    return { via, principals };
  }

  /**
   * Why may (or may not) `userName` read a document (by id, or by source when only one document
   * has it: see `documentByRef`)? For admins. The answer
   * comes from the same read rule that filters retrieval, through its `explain` interpreter.
   */
  async explain(
    caller: Actor,
    userName: string,
    documentRef: string,
  ): Promise<ReadExplanation & { user: string; document: { id: string; source: string; title: string; owner: string | null } & DocumentAccess }> {
    authorize(caller, "explain", Policies, null);
    requireMaxLength("document", documentRef, TEXT_LIMITS.path);
    const actor = await this.deps.accounts.actorByName(userName);
    // Explaining shows a document's title, source and access lists: a caller who may explain
    // (manage_all_documents) but not read it gets the same 404 as for a document that does not
    // exist, and an ambiguous source lists only the candidates the caller may read.
    const doc = await documentByRef(this.deps.documents, documentRef, [documentRef], (d) => canRead(caller, subjectOf(d)));
    if (!canRead(caller, subjectOf(doc))) {
      await this.deps.audit.record(caller, "policy.explain", doc.id, { reason: "not readable by this user" }, "denied");
      throw notFound(`document "${documentRef}"`);
    }
    const { via, principals } = await this.membershipWords(actor);
    const explanation = explainRead(actor, subjectOf(doc), {
      via,
      principals,
      rules: this.deps.policy.documentRules(),
      facts: { source: doc.source, owner: doc.owner, tags: doc.tags },
    });
    const redact = redactorFor(caller); // as on every document route: titles and sources are text like any other
    return { user: userName, document: { id: doc.id, source: redact(doc.source), title: redact(doc.title), owner: doc.owner, ...accessOf(doc) }, ...explanation };
  }
}
