/**
 * Roles and the capabilities they grant. A capability is a coarse permission checked by the
 * resource policies; which *documents* a user may read is decided by documents.ts.
 */
export const CAPABILITIES = [
  "search", // search and ask
  "ingest", // add documents and run ingestion jobs
  "manage_own_documents", // edit/delete documents they own
  "manage_all_documents", // edit/delete any document, change ACLs
  "read_all_documents", // bypass document ACLs (admins)
  "manage_users", // users, groups, tokens
  "view_audit",
  "view_sensitive", // see unmasked personal data
  "review_feedback", // read and review everyone's feedback on answers, export it as an eval set
] as const;

export type Capability = (typeof CAPABILITIES)[number];

/** The built-in roles. Custom roles come from the roles config file (see `parseRoleConfig`). */
export const ROLES: Record<string, readonly Capability[]> = {
  admin: CAPABILITIES,
  editor: ["search", "ingest", "manage_own_documents"],
  viewer: ["search"],
};

export type RoleName = keyof typeof ROLES;

/** True for built-in roles; custom roles are known to a `RoleCatalog`. */
export function isRole(role: string): boolean {
  return Object.hasOwn(ROLES, role);
}

/** Capabilities of a built-in role (an unknown role has none: anything not granted is denied). */
export function capabilitiesOf(role: string): ReadonlySet<Capability> {
  return new Set(Object.hasOwn(ROLES, role) ? ROLES[role] : []);
}

/** Built-in plus custom roles, as loaded from the roles config file. */
export interface RoleCatalog {
  has(role: string): boolean;
  /** Capabilities of a role; an unknown role (e.g. removed from the config) has none. */
  capabilitiesOf(role: string): ReadonlySet<Capability>;
  /** Every role with its capabilities, built-in first. */
  list(): { name: string; builtin: boolean; description?: string; capabilities: Capability[] }[];
}

export interface CustomRole {
  description?: string;
  capabilities: Capability[];
}

/** A catalog of the built-in roles and the given custom ones (already validated). */
export function roleCatalog(custom: Record<string, CustomRole> = {}): RoleCatalog {
  const caps = new Map<string, { builtin: boolean; description?: string; capabilities: Capability[] }>();
  for (const [name, list] of Object.entries(ROLES)) caps.set(name, { builtin: true, capabilities: [...list] });
  for (const [name, r] of Object.entries(custom)) caps.set(name, { builtin: false, description: r.description, capabilities: [...new Set(r.capabilities)].sort() });
  return {
    has: (role) => caps.has(role),
    capabilitiesOf: (role) => new Set(caps.get(role)?.capabilities ?? []),
    list: () => [...caps].map(([name, r]) => ({ name, ...r })),
  };
}

export const BUILTIN_ROLE_CATALOG = roleCatalog();
