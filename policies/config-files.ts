/**
 * The policy files an administrator edits, validated with clear errors:
 *
 *   roles.json           custom roles: { "roles": { "<name>": { "extends"?, "capabilities": [...], "description"? } } }
 *   document-rules.json  default access for new documents: { "rules": [ { "name", "match", "allow"?, "deny"?, "classification"?, "tags"? } ] }
 *
 * Both live in the policy folder (`KB_POLICY_DIR`, default `<data>/policies`); both are optional.
 * Examples with every field: policies/examples/. `kb policy validate` checks them.
 */
import { z } from "zod";
import { CLASSIFICATIONS, classificationLevel } from "./classification.ts";
import { compileGlob, GlobError } from "./glob.ts";
import type { DocumentRule, DocumentRules } from "./document-rules.ts";
import { canonicalPrincipal, isValidName, parsePrincipal } from "./principal-format.ts";
import { CAPABILITIES, ROLES, roleCatalog, type Capability, type CustomRole, type RoleCatalog } from "./roles.ts";

export const ROLES_FILE = "roles.json";
export const DOCUMENT_RULES_FILE = "document-rules.json";

/** A policy file that cannot be used; `issues` are one line each, with the JSON path. */
export class PolicyConfigError extends Error {
  constructor(
    readonly file: string,
    readonly issues: string[],
  ) {
    super(`${file} is invalid:\n${issues.map((i) => `  - ${i}`).join("\n")}`);
    this.name = "PolicyConfigError";
  }
}

const Name = z.string().refine(isValidName, "must be 1-64 letters, digits, . _ @ -");
const Principal = z.string().superRefine((v, ctx) => {
  try {
    parsePrincipal(v);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
  }
});
const ClassificationLabel = z.enum(CLASSIFICATIONS, { message: `must be one of ${CLASSIFICATIONS.join(", ")}` });
const CapabilityName = z.enum(CAPABILITIES, { message: `must be one of ${CAPABILITIES.join(", ")}` });
const OneOrMany = <T extends z.ZodType>(t: T) => z.union([t, z.array(t).min(1)]).transform((v) => (Array.isArray(v) ? v : [v]) as z.output<T>[]);

const RolesSchema = z
  .object({
    $schema: z.string().optional(),
    roles: z.record(
      z.string(),
      z
        .object({
          description: z.string().max(500).optional(),
          extends: Name.optional(),
          capabilities: z.array(CapabilityName).default([]),
        })
        .strict(),
    ),
  })
  .strict();

const RuleSchema = z
  .object({
    name: Name,
    description: z.string().max(500).optional(),
    match: z
      .object({
        path: OneOrMany(z.string().min(1).max(500)).optional(),
        ext: OneOrMany(z.string().regex(/^\.?[A-Za-z0-9]{1,10}$/, "must be a file extension like pdf")).optional(),
        tags: OneOrMany(Name).optional(),
        owner: OneOrMany(Principal).optional(),
        synced: z.boolean().optional(),
      })
      .strict(),
    allow: z.array(Principal).optional(),
    deny: z.array(Principal).optional(),
    classification: ClassificationLabel.optional(),
    tags: z.array(Name).optional(),
  })
  .strict()
  .refine((r) => r.allow !== undefined || r.deny !== undefined || r.classification !== undefined || r.tags !== undefined, {
    message: "a rule must set at least one of allow, deny, classification, tags",
  });

const RulesSchema = z.object({ $schema: z.string().optional(), rules: z.array(RuleSchema) }).strict();

export function issuesOf(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(top level)"}: ${i.message}`);
}

export function parseJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new PolicyConfigError(file, [`not valid JSON: ${(err as Error).message}`]);
  }
}

/** Parses roles.json. Custom roles may extend a built-in or another custom role; they may not redefine a built-in. */
export function parseRolesFile(text: string, file = ROLES_FILE): RoleCatalog {
  const parsed = RolesSchema.safeParse(parseJson(file, text));
  if (!parsed.success) throw new PolicyConfigError(file, issuesOf(parsed.error));
  const defs = parsed.data.roles;
  const issues: string[] = [];
  const resolved: Record<string, CustomRole> = {};
  const resolve = (name: string, seen: string[]): Capability[] | null => {
    if (Object.hasOwn(ROLES, name)) return [...ROLES[name]!];
    const def = defs[name];
    if (!def) return null;
    if (seen.includes(name)) {
      issues.push(`roles.${seen[0]}.extends: cycle ${[...seen, name].join(" → ")}`);
      return [];
    }
    const parent = def.extends ? resolve(def.extends, [...seen, name]) : [];
    if (parent === null) {
      issues.push(`roles.${name}.extends: unknown role "${def.extends}"`);
      return def.capabilities;
    }
    return [...parent, ...def.capabilities];
  };
  for (const [name, def] of Object.entries(defs)) {
    if (!isValidName(name)) {
      issues.push(`roles.${name}: invalid role name: must be 1-64 letters, digits, . _ @ -`);
      continue;
    }
    if (Object.hasOwn(ROLES, name)) {
      issues.push(`roles.${name}: "${name}" is a built-in role and cannot be redefined (define a new role that extends it)`);
      continue;
    }
    resolved[name] = { description: def.description, capabilities: resolve(name, []) ?? [] };
  }
  if (issues.length) throw new PolicyConfigError(file, [...new Set(issues)]);
  return roleCatalog(resolved);
}

/** Parses document-rules.json into compiled rules. */
export function parseDocumentRulesFile(text: string, file = DOCUMENT_RULES_FILE): DocumentRules {
  const parsed = RulesSchema.safeParse(parseJson(file, text));
  if (!parsed.success) throw new PolicyConfigError(file, issuesOf(parsed.error));
  const issues: string[] = [];
  const names = new Set<string>();
  const rules: DocumentRule[] = parsed.data.rules.map((r, i) => {
    if (names.has(r.name)) issues.push(`rules.${i}.name: duplicate rule name "${r.name}"`);
    names.add(r.name);
    const path = r.match.path?.flatMap((p) => {
      try {
        return [compileGlob(p)];
      } catch (err) {
        if (!(err instanceof GlobError)) throw err;
        issues.push(`rules.${i}.match.path: ${err.message}`);
        return [];
      }
    });
    // Principals in their canonical form, as every ACL stores them (principal-format.ts).
    const norm = (ps: string[] | undefined) => (ps ? [...new Set(ps.map(canonicalPrincipal))].sort() : undefined);
    return {
      name: r.name,
      ...(r.description ? { description: r.description } : {}),
      match: {
        ...(path ? { path } : {}),
        ...(r.match.ext ? { ext: r.match.ext.map((e) => e.replace(/^\./, "").toLowerCase()) } : {}),
        ...(r.match.tags ? { tags: r.match.tags } : {}),
        ...(r.match.owner ? { owner: norm(r.match.owner) } : {}),
        ...(r.match.synced !== undefined ? { synced: r.match.synced } : {}),
      },
      ...(r.allow ? { allow: norm(r.allow) } : {}),
      ...(r.deny ? { deny: norm(r.deny) } : {}),
      ...(r.classification ? { classification: classificationLevel(r.classification) } : {}),
      ...(r.tags ? { tags: r.tags } : {}),
    };
  });
  if (issues.length) throw new PolicyConfigError(file, issues);
  return { rules };
}
