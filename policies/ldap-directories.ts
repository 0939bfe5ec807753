/**
 * ldap-directories.json in the policy folder: the LDAP / Active Directory servers users sign in
 * against and whose groups are synced (src/services/ldap/). Optional; validated with clear
 * errors like the other policy files, reloaded on change.
 *
 *   { "directories": [ { "id": "corp", "url": "ldaps://dc1.corp.example:636", "caFile": "/etc/kb/corp-ca.pem",
 *       "bindDn": "CN=kb-reader,OU=Service,DC=corp,DC=example", "bindPassword": { "file": "/etc/kb/ldap-password" },
 *       "users": { "base": "OU=Staff,DC=corp,DC=example", "filter": "(objectClass=user)", "loginAttribute": "sAMAccountName",
 *                  "idAttribute": "objectGUID", "displayNameAttribute": "displayName", "emailAttribute": "mail" },
 *       "groups": { "base": "OU=Groups,DC=corp,DC=example", "filter": "(objectClass=group)", "idAttribute": "objectGUID",
 *                   "nameAttribute": "cn", "style": "member" },
 *       "pageSize": 500, "syncIntervalMinutes": 60,
 *       "groupsMap": { "<directory group id>": "<local group>" }, "roles": { "<directory group id>": "<role>" } } ] }
 *
 * The source of a directory's users and groups is `ldap:<id>`. Secrets are named (file or
 * environment variable), never written here; they are read when a connection is opened.
 */
import { FilterParser } from "ldapts";
import { z } from "zod";
import { PolicyConfigError } from "./config-files.ts";
import { isValidName, SOURCE_ID } from "./principal-format.ts";

export const LDAP_DIRECTORIES_FILE = "ldap-directories.json";

/** A secret named by a file (trailing newline trimmed) or an environment variable. */
export type SecretSpec = { file: string; env?: undefined } | { env: string; file?: undefined };

export interface LdapDirectory {
  /** `^[a-z][a-z0-9-]{0,15}$`; the source is `ldap:<id>`. */
  id: string;
  url: string;
  /** Upgrade an ldap:// connection with StartTLS before binding. */
  startTls: boolean;
  /** PEM file of the CA(s) that signed the server's certificate (ldaps:// and StartTLS); absent: the system's CAs. */
  caFile: string | null;
  /** The service account that searches; null: anonymous searches (binds still need a password). */
  bindDn: string | null;
  bindPassword: SecretSpec | null;
  users: {
    base: string;
    filter: string;
    loginAttribute: string;
    idAttribute: string;
    displayNameAttribute: string | null;
    emailAttribute: string | null;
  };
  groups: {
    base: string;
    filter: string;
    idAttribute: string;
    nameAttribute: string;
    /** "member": groups list their members' DNs (groupOfNames, groupOfUniqueNames, AD groups); "memberOf": entries list their groups' DNs. */
    style: "member" | "memberOf";
    /** The attribute holding member DNs ("member", or "uniqueMember" for groupOfUniqueNames). */
    memberAttribute: string;
  };
  pageSize: number;
  /** Minutes between scheduled syncs; null: only on demand (`kb directory sync`, the admin API). */
  syncIntervalMinutes: number | null;
  /** Seconds a connection or an operation may take. */
  timeoutSeconds: number;
  /** Directory group id (its stable id) → a local group its members also belong to. */
  groupsMap: Record<string, string>;
  /** Directory group id → role; the first entry whose group the user is in (directly or nested) wins, else `defaultRole`. */
  roles: Record<string, string>;
  defaultRole: string;
}

export interface LdapDirectories {
  directories: LdapDirectory[];
}

export const NO_LDAP_DIRECTORIES: LdapDirectories = { directories: [] };


const Attribute = z.string().regex(/^[A-Za-z][A-Za-z0-9-]{0,63}$/, "must be an LDAP attribute name");
const Filter = z.string().superRefine((v, ctx) => {
  try {
    FilterParser.parseString(v);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: `not a valid LDAP filter: ${(err as Error).message}` });
  }
});
const Dn = z.string().min(3).max(1000);
const Secret = z.union([z.object({ file: z.string().min(1) }).strict(), z.object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/) }).strict()]);
const Name = z.string().refine(isValidName, "must be 1-64 letters, digits, . _ @ -");

const DirectorySchema = z
  .object({
    id: z.string().regex(SOURCE_ID, "must match ^[a-z][a-z0-9-]{0,15}$"),
    url: z.string().regex(/^ldaps?:\/\/[^/\s]+\/?$/i, "must be ldap://host[:port] or ldaps://host[:port]"),
    startTls: z.boolean().default(false),
    caFile: z.string().min(1).optional(),
    bindDn: Dn.optional(),
    bindPassword: Secret.optional(),
    users: z
      .object({
        base: Dn,
        filter: Filter.default("(objectClass=person)"),
        loginAttribute: Attribute,
        idAttribute: Attribute,
        displayNameAttribute: Attribute.optional(),
        emailAttribute: Attribute.optional(),
      })
      .strict(),
    groups: z
      .object({
        base: Dn,
        filter: Filter.default("(objectClass=groupOfNames)"),
        idAttribute: Attribute,
        nameAttribute: Attribute.default("cn"),
        style: z.enum(["member", "memberOf"]).default("member"),
        memberAttribute: Attribute.default("member"),
      })
      .strict(),
    pageSize: z.number().int().min(1).max(10_000).default(500),
    syncIntervalMinutes: z.number().int().min(1).max(7 * 24 * 60).optional(),
    timeoutSeconds: z.number().int().min(1).max(300).default(10),
    groupsMap: z.record(z.string().min(1), Name).default({}),
    roles: z.record(z.string().min(1), Name).default({}),
    defaultRole: Name.default("viewer"),
  })
  .strict();

const FileSchema = z.object({ $schema: z.string().optional(), directories: z.array(DirectorySchema) }).strict();

const LOOPBACK = /^ldap:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?\/?$/i;

/** The key a directory group id is looked up by in groupsMap/roles: GUIDs and UUIDs case-insensitively. */
export function groupKey(id: string): string {
  const bare = id.replace(/^\{|\}$/g, "");
  return /^[0-9a-f-]{1,36}$/i.test(bare) ? bare.toLowerCase() : id;
}

/**
 * Parses ldap-directories.json. `otherSources` are the identity sources configured elsewhere
 * (`oidc:<id>`, `scim:<id>`): a directory may not take their ids, which name the users.
 */
export function parseLdapDirectoriesFile(text: string, file = LDAP_DIRECTORIES_FILE, otherSources: readonly string[] = []): LdapDirectories {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new PolicyConfigError(file, [`not valid JSON: ${(err as Error).message}`]);
  }
  const parsed = FileSchema.safeParse(json);
  if (!parsed.success) throw new PolicyConfigError(file, parsed.error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(top level)"}: ${i.message}`));
  const issues: string[] = [];
  const ids = new Set<string>();
  const directories = parsed.data.directories.map((d, i): LdapDirectory => {
    if (ids.has(d.id)) issues.push(`directories.${i}.id: "${d.id}" is listed twice`);
    const taken = otherSources.find((s) => s.slice(s.indexOf(":") + 1) === d.id);
    if (taken) issues.push(`directories.${i}.id: "${d.id}" is already the id of the identity source ${taken} (ids must be unique across OIDC, LDAP and SCIM: they name the users)`);
    ids.add(d.id);
    const ldaps = d.url.toLowerCase().startsWith("ldaps://");
    if (ldaps && d.startTls) issues.push(`directories.${i}.startTls: an ldaps:// connection is encrypted already; remove startTls`);
    // Passwords cross the network at every sign-in: only a loopback server may be spoken to in clear.
    if (!ldaps && !d.startTls && !LOOPBACK.test(d.url)) issues.push(`directories.${i}.url: use ldaps://, or ldap:// with "startTls": true (plain LDAP only to a loopback address)`);
    if (d.caFile && !ldaps && !d.startTls) issues.push(`directories.${i}.caFile: only used with ldaps:// or startTls`);
    if ((d.bindDn === undefined) !== (d.bindPassword === undefined)) issues.push(`directories.${i}: give bindDn and bindPassword together (or neither, for anonymous searches)`);
    return {
      id: d.id,
      url: d.url.replace(/\/$/, ""),
      startTls: d.startTls,
      caFile: d.caFile ?? null,
      bindDn: d.bindDn ?? null,
      bindPassword: (d.bindPassword as SecretSpec | undefined) ?? null,
      users: { ...d.users, displayNameAttribute: d.users.displayNameAttribute ?? null, emailAttribute: d.users.emailAttribute ?? null },
      groups: d.groups,
      pageSize: d.pageSize,
      syncIntervalMinutes: d.syncIntervalMinutes ?? null,
      timeoutSeconds: d.timeoutSeconds,
      groupsMap: Object.fromEntries(Object.entries(d.groupsMap).map(([k, v]) => [groupKey(k), v])),
      roles: Object.fromEntries(Object.entries(d.roles).map(([k, v]) => [groupKey(k), v])),
      defaultRole: d.defaultRole,
    };
  });
  if (issues.length) throw new PolicyConfigError(file, issues);
  return { directories };
}
