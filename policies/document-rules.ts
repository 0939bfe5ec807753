/**
 * Document default rules: which access a new document gets from facts known at ingestion
 * (source path, tags, file extension, owner). Rules are data, loaded from a JSON file
 * (see config-files.ts) and checked when loaded; this module is the one interpreter.
 *
 * Resolution, for a new document:
 *   1. Start from the built-in default (default-acl.ts): `group:everyone`, "internal".
 *   2. Apply every matching rule in file order:
 *        allow          replaces the allow list (the last matching rule that names one wins)
 *        deny           adds to the deny list (denies accumulate; deny always wins)
 *        classification the highest level named by a matching rule wins (it may be below the
 *                       default: a rule can make documents public; conflicts resolve upwards)
 *        tags           adds tags to the document
 *   3. Explicit choices made at ingestion (`kb ingest --allow/--deny/--classification`, upload
 *      fields) come last: an explicit allow list replaces, an explicit deny adds (a rule's deny
 *      cannot be removed by an uploader), an explicit classification sets the level.
 *   4. The owner keeps read access (added to allow).
 *
 * A rule matches when every condition it names holds; a condition with a list holds when any
 * entry matches (`path` globs, `ext` extensions, `tags` shared tags, `owner` principals);
 * `synced: true` matches documents of folder syncs only, so synced folders can be made
 * deny-by-default (`"allow": []`: nobody but admins and the sync's submitter until access is given).
 */
import { DEFAULT_CLASSIFICATION } from "./classification.ts";
import { defaultAcl } from "./default-acl.ts";
import { ownerKeepsRead, type ExplicitAccess } from "./document-access.ts";
import { matchGlob, type Glob } from "./glob.ts";
import type { Access } from "./rule.ts";

export interface DocumentRule {
  name: string;
  description?: string;
  match: {
    path?: Glob[];
    /** Lower-case extensions without the dot. */
    ext?: string[];
    tags?: string[];
    owner?: string[];
    /** true: only documents of folder syncs; false: only uploads and `kb ingest`. */
    synced?: boolean;
  };
  allow?: string[];
  deny?: string[];
  classification?: number;
  tags?: string[];
}

export interface DocumentRules {
  rules: DocumentRule[];
}

export const NO_DOCUMENT_RULES: DocumentRules = { rules: [] };

export interface DocumentFacts {
  source: string;
  /** `user:<name>` of the uploader, null for the operator's CLI. */
  owner: string | null;
  tags?: readonly string[];
  /** The document comes from a folder sync (`POST /jobs/sync`, `kb sync`, KB_SYNC_SOURCES). */
  synced?: boolean;
}

export interface ResolvedAccess extends Access {
  tags: string[];
  /** Names of the rules that matched, in order. */
  matched: string[];
  /** For each field, what decided it: a rule name, "explicit", "default" or "owner". */
  decidedBy: { allow: string; deny: string[]; classification: string };
}

export function extensionOf(source: string): string {
  const base = source.replaceAll("\\", "/").split("/").pop() ?? "";
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : "";
}

export function ruleMatches(rule: DocumentRule, facts: DocumentFacts): boolean {
  const m = rule.match;
  if (m.path && !m.path.some((g) => matchGlob(g, facts.source))) return false;
  if (m.ext && !m.ext.includes(extensionOf(facts.source))) return false;
  if (m.tags && !m.tags.some((t) => facts.tags?.includes(t))) return false;
  if (m.owner && !(facts.owner && m.owner.includes(facts.owner))) return false;
  if (m.synced !== undefined && (facts.synced ?? false) !== m.synced) return false;
  return true;
}

export function matchingRules(rules: DocumentRules, facts: DocumentFacts): DocumentRule[] {
  return rules.rules.filter((r) => ruleMatches(r, facts));
}

/** The access a new document gets (see the module comment for the order of precedence). */
export function resolveDocumentAccess(rules: DocumentRules, facts: DocumentFacts, explicit: ExplicitAccess = {}): ResolvedAccess {
  const base = defaultAcl({ source: facts.source, owner: null });
  let allow = base.allow;
  let allowBy = "default";
  const deny = new Set<string>(base.deny);
  const denyBy: string[] = [];
  let classification = base.classification ?? DEFAULT_CLASSIFICATION;
  let classificationBy = "default";
  const tags = new Set<string>(facts.tags ?? []);
  const matched: string[] = [];

  for (const rule of matchingRules(rules, facts)) {
    matched.push(rule.name);
    if (rule.allow) {
      allow = rule.allow;
      allowBy = rule.name;
    }
    if (rule.deny?.length) {
      for (const p of rule.deny) deny.add(p);
      denyBy.push(rule.name);
    }
    if (rule.classification !== undefined && (classificationBy === "default" || rule.classification > classification)) {
      classification = rule.classification;
      classificationBy = rule.name;
    }
    for (const t of rule.tags ?? []) tags.add(t);
  }

  if (explicit.allow && explicit.allow.length > 0) {
    allow = explicit.allow;
    allowBy = "explicit";
  }
  if (explicit.deny?.length) {
    for (const p of explicit.deny) deny.add(p);
    denyBy.push("explicit");
  }
  if (explicit.classification !== undefined) {
    classification = explicit.classification;
    classificationBy = "explicit";
  }
  return {
    allow: ownerKeepsRead(allow, facts.owner),
    deny: [...deny].sort(),
    classification,
    tags: [...tags].sort(),
    matched,
    decidedBy: { allow: allowBy, deny: denyBy, classification: classificationBy },
  };
}
