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
] as const;

export type Capability = (typeof CAPABILITIES)[number];

export const ROLES: Record<string, readonly Capability[]> = {
  admin: CAPABILITIES,
  editor: ["search", "ingest", "manage_own_documents"],
  viewer: ["search"],
};

export type RoleName = keyof typeof ROLES;

export function isRole(role: string): boolean {
  return Object.hasOwn(ROLES, role);
}

export function capabilitiesOf(role: string): ReadonlySet<Capability> {
  return new Set(ROLES[role] ?? []);
}
