/**
 * Users, groups, nested memberships and API tokens. Synchronous underneath; services use it as
 * metadata.ts's UsersStore (metadata-store.ts).
 */
import { and, eq, isNull, lt, or } from "drizzle-orm";
import { MANUAL_ORIGIN, type GroupRow, type MembershipOrigin, type NewToken, type NewUser, type TokenRow, type UserRow } from "../metadata.ts";
import type { Db } from "./db.ts";
import { apiTokens, groupMembers, groups, users } from "./schema.ts";

export type { TokenRow, UserRow } from "../metadata.ts";

export class UsersRepo {
  constructor(private readonly db: Db) {}

  byName(name: string): UserRow | undefined {
    return this.db.select().from(users).where(eq(users.name, name)).get();
  }

  byId(id: string): UserRow | undefined {
    return this.db.select().from(users).where(eq(users.id, id)).get();
  }

  list(): UserRow[] {
    return this.db.select().from(users).orderBy(users.name).all();
  }

  insert(row: NewUser): void {
    this.db.insert(users).values(row).run();
  }

  update(id: string, values: Partial<Pick<UserRow, "role" | "clearance" | "disabled" | "displayName" | "email">>): void {
    this.db.update(users).set(values).where(eq(users.id, id)).run();
  }

  delete(id: string): void {
    this.db.delete(users).where(eq(users.id, id)).run();
  }

  byExternal(source: string, externalId: string): UserRow | undefined {
    return this.db.select().from(users).where(and(eq(users.source, source), eq(users.externalId, externalId))).get();
  }

  bySource(source: string): UserRow[] {
    return this.db.select().from(users).where(eq(users.source, source)).orderBy(users.name).all();
  }

  groupExists(name: string): boolean {
    return this.db.select({ n: groups.name }).from(groups).where(eq(groups.name, name)).get() !== undefined;
  }

  private readonly groupColumns = { name: groups.name, description: groups.description, source: groups.source, externalId: groups.externalId, displayName: groups.displayName };

  group(name: string): GroupRow | undefined {
    return this.db.select(this.groupColumns).from(groups).where(eq(groups.name, name)).get();
  }

  listGroups(): GroupRow[] {
    return this.db.select(this.groupColumns).from(groups).orderBy(groups.name).all();
  }

  groupByExternal(source: string, externalId: string): GroupRow | undefined {
    return this.db.select(this.groupColumns).from(groups).where(and(eq(groups.source, source), eq(groups.externalId, externalId))).get();
  }

  groupsBySource(source: string): GroupRow[] {
    return this.db.select(this.groupColumns).from(groups).where(eq(groups.source, source)).orderBy(groups.name).all();
  }

  insertGroup(name: string, description?: string, directory?: { source: string; externalId: string; displayName?: string | null }): void {
    this.db
      .insert(groups)
      .values({ name, description, ...(directory ? { source: directory.source, externalId: directory.externalId, displayName: directory.displayName ?? null } : {}) })
      .onConflictDoNothing()
      .run();
  }

  setGroupDisplayName(name: string, displayName: string | null): void {
    this.db.update(groups).set({ displayName }).where(eq(groups.name, name)).run();
  }

  deleteGroup(name: string): void {
    this.db.transaction((tx) => {
      tx.delete(groupMembers).where(and(eq(groupMembers.memberKind, "group"), eq(groupMembers.memberName, name))).run();
      tx.delete(groups).where(eq(groups.name, name)).run();
    });
  }

  addMember(group: string, kind: "user" | "group", name: string, origin: MembershipOrigin = MANUAL_ORIGIN): void {
    this.db.insert(groupMembers).values({ groupName: group, memberKind: kind, memberName: name, origin }).onConflictDoNothing().run();
  }

  removeMember(group: string, kind: "user" | "group", name: string, origin?: MembershipOrigin): void {
    const row = and(eq(groupMembers.groupName, group), eq(groupMembers.memberKind, kind), eq(groupMembers.memberName, name));
    this.db
      .delete(groupMembers)
      .where(origin === undefined ? row : and(row, eq(groupMembers.origin, origin)))
      .run();
  }

  memberRows(group: string): { kind: "user" | "group"; name: string; origin: MembershipOrigin }[] {
    return this.db
      .select({ kind: groupMembers.memberKind, name: groupMembers.memberName, origin: groupMembers.origin })
      .from(groupMembers)
      .where(eq(groupMembers.groupName, group))
      .orderBy(groupMembers.memberKind, groupMembers.memberName, groupMembers.origin)
      .all();
  }

  groupsOfMemberFrom(origin: MembershipOrigin, kind: "user" | "group", name: string): string[] {
    return this.db
      .select({ g: groupMembers.groupName })
      .from(groupMembers)
      .where(and(eq(groupMembers.origin, origin), eq(groupMembers.memberKind, kind), eq(groupMembers.memberName, name)))
      .orderBy(groupMembers.groupName)
      .all()
      .map((r) => r.g);
  }

  revokeTokensOf(userId: string, at: string): number {
    return this.db
      .update(apiTokens)
      .set({ revokedAt: at })
      .where(and(eq(apiTokens.userId, userId), isNull(apiTokens.revokedAt)))
      .run().changes;
  }

  /** Groups a user belongs to, directly or through nested groups (cycles tolerated). */
  expandedGroups(userName: string): string[] {
    return this.containingGroups("user", userName);
  }

  /** Every group containing a member, directly or through nested groups. */
  private containingGroups(kind: "user" | "group", name: string): string[] {
    const rows = this.db.$client
      .prepare(
        `WITH RECURSIVE g(name) AS (
           SELECT group_name FROM group_members WHERE member_kind = ? AND member_name = ?
           UNION
           SELECT gm.group_name FROM group_members gm JOIN g ON gm.member_kind = 'group' AND gm.member_name = g.name
         ) SELECT name FROM g ORDER BY name`,
      )
      .all(kind, name) as { name: string }[];
    return rows.map((r) => r.name);
  }

  directGroups(userName: string): string[] {
    return this.db
      .selectDistinct({ g: groupMembers.groupName })
      .from(groupMembers)
      .where(and(eq(groupMembers.memberKind, "user"), eq(groupMembers.memberName, userName)))
      .all()
      .map((r) => r.g);
  }

  insertToken(row: NewToken): void {
    this.db.insert(apiTokens).values(row).run();
  }

  tokenByHash(hash: string): TokenRow | undefined {
    return this.db.select().from(apiTokens).where(eq(apiTokens.tokenHash, hash)).get();
  }

  tokensOf(userId: string): TokenRow[] {
    return this.db.select().from(apiTokens).where(eq(apiTokens.userId, userId)).orderBy(apiTokens.createdAt).all();
  }

  revokeToken(id: string, at: string): boolean {
    const r = this.db
      .update(apiTokens)
      .set({ revokedAt: at })
      .where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))
      .run();
    return r.changes > 0;
  }

  touchToken(id: string, at: string): void {
    this.db.update(apiTokens).set({ lastUsedAt: at }).where(eq(apiTokens.id, id)).run();
  }

  /** Sets lastUsedAt when it is unset or older than `staleBefore`; true when it did (at most one write per interval). */
  touchTokenIfStale(id: string, at: string, staleBefore: string): boolean {
    const r = this.db
      .update(apiTokens)
      .set({ lastUsedAt: at })
      .where(and(eq(apiTokens.id, id), or(isNull(apiTokens.lastUsedAt), lt(apiTokens.lastUsedAt, staleBefore))))
      .run();
    return r.changes > 0;
  }

  tokenById(id: string): TokenRow | undefined {
    return this.db.select().from(apiTokens).where(eq(apiTokens.id, id)).get();
  }

  allTokens(): TokenRow[] {
    return this.db.select().from(apiTokens).orderBy(apiTokens.createdAt).all();
  }

  setTokenExpiry(id: string, expiresAt: string | null): boolean {
    return this.db.update(apiTokens).set({ expiresAt }).where(eq(apiTokens.id, id)).run().changes > 0;
  }

  renamePrincipal(kind: "user" | "group", from: string, to: string): void {
    const sql = this.db.$client;
    if (kind === "user") {
      sql.prepare("UPDATE users SET name = ? WHERE name = ?").run(to, from);
      sql.prepare("UPDATE jobs SET created_by = ? WHERE created_by = ?").run(`user:${to}`, `user:${from}`);
    } else {
      // groups.name is referenced by group_members.group_name (no ON UPDATE): copy, move, drop.
      sql.prepare("INSERT INTO groups (name, description, created_at) SELECT ?, description, created_at FROM groups WHERE name = ?").run(to, from);
      sql.prepare("UPDATE group_members SET group_name = ? WHERE group_name = ?").run(to, from);
      sql.prepare("DELETE FROM groups WHERE name = ?").run(from);
    }
    sql.prepare("UPDATE OR IGNORE group_members SET member_name = ? WHERE member_kind = ? AND member_name = ?").run(to, kind, from);
    sql.prepare("DELETE FROM group_members WHERE member_kind = ? AND member_name = ?").run(kind, from);
  }

  /** Direct members of a group. */
  members(group: string): { kind: "user" | "group"; name: string }[] {
    return this.db
      .selectDistinct({ kind: groupMembers.memberKind, name: groupMembers.memberName })
      .from(groupMembers)
      .where(eq(groupMembers.groupName, group))
      .orderBy(groupMembers.memberKind, groupMembers.memberName)
      .all();
  }

  /** Groups that `group` belongs to, directly or through nesting (not including itself unless in a cycle). */
  groupAncestors(group: string): string[] {
    return this.containingGroups("group", group);
  }

  /**
   * How a user is a member of each of their groups: group → the shortest chain, e.g.
   * "hr" → ["seoul", "hr"] when the user is in "seoul" and "seoul" is in "hr".
   */
  membershipPaths(userName: string): Record<string, string[]> {
    const rows = this.db.$client
      .prepare(
        `WITH RECURSIVE g(name, path, depth) AS (
           SELECT group_name, json_array(group_name), 1 FROM group_members WHERE member_kind = 'user' AND member_name = ?
           UNION ALL
           SELECT gm.group_name, json_insert(g.path, '$[#]', gm.group_name), g.depth + 1
             FROM group_members gm JOIN g ON gm.member_kind = 'group' AND gm.member_name = g.name
            WHERE g.depth < 32 AND NOT EXISTS (SELECT 1 FROM json_each(g.path) WHERE value = gm.group_name)
         ) SELECT name, path FROM g ORDER BY depth`,
      )
      .all(userName) as { name: string; path: string }[];
    const out: Record<string, string[]> = {};
    for (const r of rows) out[r.name] ??= JSON.parse(r.path) as string[];
    return out;
  }
}
