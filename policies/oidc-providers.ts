/**
 * oidc-providers.json (in KB_POLICY_DIR, optional): the OpenID Connect providers users may sign
 * in with, and how their claims map to our groups and roles.
 *
 *   { "providers": [ { "id": "kc", "name": { "en": "Company account", "ko": "회사 계정" },
 *       "issuer": "https://sso.example.com/realms/corp", "clientId": "private-kb",
 *       "clientSecret": { "file": "/etc/private-kb/kc-secret" },
 *       "scopes": ["openid", "profile", "email"],
 *       "claims": { "groups": "groups", "roles": "roles", "displayName": "name", "email": "email" },
 *       "groups": { "/HR": "hr", "8f3c…-GUID": "finance" }, "roles": { "kb-editors": "editor" },
 *       "defaultRole": "viewer", "clockToleranceSeconds": 60, "caFile": "/etc/ssl/corp-ca.pem" } ] }
 *
 * - `id` is the source id (`oidc:<id>`): `^[a-z][a-z0-9-]{0,15}$`, unique across every identity
 *   source. Users signed in through it are named `<id>~<key of sub>` (principal-format.ts).
 * - `issuer` must be https: there is no switch for plain http. A private CA is trusted through
 *   `caFile` (a PEM file; the system's CAs stay trusted as well).
 * - `clientSecret` names where the secret is (`file` or `env`), never the secret itself; it is
 *   read at start and never logged or shown. Without it the client is public (PKCE only).
 * - `groups` / `roles` map claim VALUES (group ids such as Entra's GUIDs, or names) to our group
 *   names / role names; values not in the map are ignored (and counted in the audit record).
 */
import { z } from "zod";
import { issuesOf, parseJson, PolicyConfigError } from "./config-files.ts";
import { isValidName, SOURCE_ID } from "./principal-format.ts";

export const OIDC_PROVIDERS_FILE = "oidc-providers.json";

export interface SecretSpec {
  file?: string;
  env?: string;
}

export interface OidcProviderConfig {
  id: string;
  /** `oidc:<id>`. */
  source: string;
  /** The button label: one text, or per language (`en`, `ko`; `en` is the fallback). */
  name: { en: string; ko?: string };
  issuer: string;
  caFile?: string;
  clientId: string;
  clientSecret?: SecretSpec;
  scopes: string[];
  claims: { groups: string; roles: string; displayName: string; email: string };
  /** Claim value → our group name. */
  groups: Record<string, string>;
  /** Claim value → our role. */
  roles: Record<string, string>;
  defaultRole: string;
  clockToleranceSeconds: number;
}

export interface OidcProviders {
  providers: OidcProviderConfig[];
}

export const NO_OIDC_PROVIDERS: OidcProviders = { providers: [] };

const GroupName = z.string().refine((v) => isValidName(v) || /^[a-z][a-z0-9-]{0,15}~[0-9a-z-]{1,36}$/.test(v), "must be a group name (1-64 letters, digits, . _ @ -) or a directory group name (<source>~<key>)");
const RoleName = z.string().refine(isValidName, "must be a role name (1-64 letters, digits, . _ @ -)");
const ClaimName = z.string().min(1).max(200);
const Secret = z
  .object({ file: z.string().min(1).optional(), env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be an environment variable name").optional() })
  .strict()
  .refine((s) => (s.file === undefined) !== (s.env === undefined), "give exactly one of file, env (where the secret is, never the secret itself)");

const ProviderSchema = z
  .object({
    id: z.string().regex(SOURCE_ID, "must match ^[a-z][a-z0-9-]{0,15}$ (lower-case letter, then up to 15 lower-case letters, digits or -)"),
    name: z.union([z.string().min(1).max(100).transform((en) => ({ en })), z.object({ en: z.string().min(1).max(100), ko: z.string().min(1).max(100).optional() }).strict()]),
    issuer: z
      .string()
      .url()
      .refine((v) => v.startsWith("https://"), "must be an https URL (there is no switch for plain http; trust a private CA with caFile)"),
    caFile: z.string().min(1).optional(),
    clientId: z.string().min(1).max(500),
    clientSecret: Secret.optional(),
    scopes: z.array(z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, "must be a scope token")).default(["openid", "profile", "email"]),
    claims: z
      .object({ groups: ClaimName.default("groups"), roles: ClaimName.default("roles"), displayName: ClaimName.default("name"), email: ClaimName.default("email") })
      .strict()
      .default({ groups: "groups", roles: "roles", displayName: "name", email: "email" }),
    groups: z.record(z.string().min(1).max(500), GroupName).default({}),
    roles: z.record(z.string().min(1).max(500), RoleName).default({}),
    defaultRole: RoleName.default("viewer"),
    clockToleranceSeconds: z.number().int().min(0).max(600).default(60),
  })
  .strict();

const FileSchema = z.object({ $schema: z.string().optional(), providers: z.array(ProviderSchema) }).strict();

/**
 * Parses oidc-providers.json. `roleExists` (the role catalog in force) checks `roles` and
 * `defaultRole` when given; `otherSources` are the other identity sources configured
 * (`scim:<id>`, `ldap:<id>`), whose ids a provider may not take.
 */
export function parseOidcProvidersFile(text: string, file = OIDC_PROVIDERS_FILE, roleExists?: (role: string) => boolean, otherSources: readonly string[] = []): OidcProviders {
  const parsed = FileSchema.safeParse(parseJson(file, text));
  if (!parsed.success) throw new PolicyConfigError(file, issuesOf(parsed.error));
  const issues: string[] = [];
  const ids = new Set<string>();
  const providers = parsed.data.providers.map((p, i): OidcProviderConfig => {
    if (ids.has(p.id)) issues.push(`providers.${i}.id: duplicate provider id "${p.id}"`);
    const taken = otherSources.find((s) => s.slice(s.indexOf(":") + 1) === p.id);
    if (taken) issues.push(`providers.${i}.id: "${p.id}" is already the id of the identity source ${taken} (ids must be unique across OIDC, LDAP and SCIM: they name the users)`);
    ids.add(p.id);
    if (!p.scopes.includes("openid")) issues.push(`providers.${i}.scopes: must include "openid"`);
    if (roleExists) {
      if (!roleExists(p.defaultRole)) issues.push(`providers.${i}.defaultRole: unknown role "${p.defaultRole}"`);
      for (const [value, role] of Object.entries(p.roles)) if (!roleExists(role)) issues.push(`providers.${i}.roles.${value}: unknown role "${role}"`);
    }
    return { ...p, source: `oidc:${p.id}` };
  });
  if (issues.length) throw new PolicyConfigError(file, issues);
  return { providers };
}
