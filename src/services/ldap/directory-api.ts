/**
 * What the LDAP source needs of the directory core (services/directory.ts, DirectoryService).
 * TEMPORARY: written against the announced API until the identity core lands on main.
 */
export interface DirectoryUser {
  name: string;
  disabled: boolean;
  externalId: string | null;
}
export interface DirectoryGroupRow {
  name: string;
  externalId: string | null;
}
type Ctx = { actor?: null; reason?: string };
type Member = { kind: "user" | "group"; name: string };
export interface DirectoryApi {
  upsertUser(source: string, input: { externalId: string; displayName?: string | null; email?: string | null; active?: boolean; role?: string }, ctx?: Ctx): Promise<{ user: DirectoryUser; created: boolean; changed: boolean }>;
  upsertGroup(source: string, input: { externalId: string; displayName?: string | null }, ctx?: Ctx): Promise<{ name: string; created: boolean }>;
  setUserGroups(source: string, userName: string, groupNames: string[], ctx?: Ctx): Promise<{ added: string[]; removed: string[] }>;
  setGroupMembers(source: string, groupName: string, members: Member[], ctx?: Ctx): Promise<{ added: unknown[]; removed: unknown[] }>;
  deactivateUser(userName: string, ctx?: Ctx): Promise<{ tokensRevoked: number; sessionsRevoked: number }>;
  removeGroup(source: string, externalId: string, ctx?: Ctx): Promise<boolean>;
  usersOf(source: string): Promise<DirectoryUser[]>;
  groupsOf(source: string): Promise<DirectoryGroupRow[]>;
}
