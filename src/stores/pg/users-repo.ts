/** Users, groups, nested memberships and API tokens on PostgreSQL (metadata.ts's UsersStore). */
import { and, eq, isNull, lt, or, sql } from "drizzle-orm";
import { MANUAL_ORIGIN, type GroupRow, type MembershipOrigin, type NewToken, type NewUser, type TokenRow, type UserRow, type UsersStore } from "../metadata.ts";
import { changed, type PgContext } from "./context.ts";
import { apiTokens, groupMembers, groups, users } from "./schema.ts";

const groupColumns = { name: groups.name, description: groups.description, source: groups.source, externalId: groups.externalId, displayName: groups.displayName };

export class PgUsersRepo implements UsersStore {
  constructor(private readonly c: PgContext) {}

  async byName(name: string): Promise<UserRow | undefined> {
    return (await this.c.q().select().from(users).where(eq(users.name, name)))[0];
  }

  async byId(id: string): Promise<UserRow | undefined> {
    return (await this.c.q().select().from(users).where(eq(users.id, id)))[0];
  }

  async list(): Promise<UserRow[]> {
    return this.c.q().select().from(users).orderBy(users.name);
  }

  async insert(row: NewUser): Promise<void> {
    await this.c.q().insert(users).values(row);
  }

  async update(id: string, values: Partial<Pick<UserRow, "role" | "clearance" | "disabled" | "displayName" | "email">>): Promise<void> {
    if (Object.keys(values).length === 0) return;
    await this.c.q().update(users).set(values).where(eq(users.id, id));
  }

  async delete(id: string): Promise<void> {
    await this.c.q().delete(users).where(eq(users.id, id));
  }

  async byExternal(source: string, externalId: string): Promise<UserRow | undefined> {
    return (await this.c.q().select().from(users).where(and(eq(users.source, source), eq(users.externalId, externalId))))[0];
  }

  async bySource(source: string): Promise<UserRow[]> {
    return this.c.q().select().from(users).where(eq(users.source, source)).orderBy(users.name);
  }

  async groupExists(name: string): Promise<boolean> {
    return (await this.c.q().select({ n: groups.name }).from(groups).where(eq(groups.name, name))).length > 0;
  }

  async group(name: string): Promise<GroupRow | undefined> {
    return (await this.c.q().select(groupColumns).from(groups).where(eq(groups.name, name)))[0];
  }

  async listGroups(): Promise<GroupRow[]> {
    return this.c.q().select(groupColumns).from(groups).orderBy(groups.name);
  }

  async groupByExternal(source: string, externalId: string): Promise<GroupRow | undefined> {
    return (await this.c.q().select(groupColumns).from(groups).where(and(eq(groups.source, source), eq(groups.externalId, externalId))))[0];
  }

  async groupsBySource(source: string): Promise<GroupRow[]> {
    return this.c.q().select(groupColumns).from(groups).where(eq(groups.source, source)).orderBy(groups.name);
  }

  async insertGroup(name: string, description?: string, directory?: { source: string; externalId: string; displayName?: string | null }): Promise<void> {
    await this.c
      .q()
      .insert(groups)
      .values({ name, description, ...(directory ? { source: directory.source, externalId: directory.externalId, displayName: directory.displayName ?? null } : {}) })
      .onConflictDoNothing();
  }

  async setGroupDisplayName(name: string, displayName: string | null): Promise<void> {
    await this.c.q().update(groups).set({ displayName }).where(eq(groups.name, name));
  }

  async deleteGroup(name: string): Promise<void> {
    await this.c.tx(async () => {
      await this.c.q().delete(groupMembers).where(and(eq(groupMembers.memberKind, "group"), eq(groupMembers.memberName, name)));
      await this.c.q().delete(groups).where(eq(groups.name, name));
    });
  }

  async addMember(group: string, kind: "user" | "group", name: string, origin: MembershipOrigin = MANUAL_ORIGIN): Promise<void> {
    await this.c.q().insert(groupMembers).values({ groupName: group, memberKind: kind, memberName: name, origin }).onConflictDoNothing();
  }

  async removeMember(group: string, kind: "user" | "group", name: string, origin?: MembershipOrigin): Promise<void> {
    const row = and(eq(groupMembers.groupName, group), eq(groupMembers.memberKind, kind), eq(groupMembers.memberName, name));
    await this.c
      .q()
      .delete(groupMembers)
      .where(origin === undefined ? row : and(row, eq(groupMembers.origin, origin)));
  }

  async memberRows(group: string): Promise<{ kind: "user" | "group"; name: string; origin: MembershipOrigin }[]> {
    return this.c
      .q()
      .select({ kind: groupMembers.memberKind, name: groupMembers.memberName, origin: groupMembers.origin })
      .from(groupMembers)
      .where(eq(groupMembers.groupName, group))
      .orderBy(sql`${groupMembers.memberKind} COLLATE "C"`, sql`${groupMembers.memberName} COLLATE "C"`, sql`${groupMembers.origin} COLLATE "C"`);
  }

  async groupsOfMemberFrom(origin: MembershipOrigin, kind: "user" | "group", name: string): Promise<string[]> {
    const rows = await this.c
      .q()
      .select({ g: groupMembers.groupName })
      .from(groupMembers)
      .where(and(eq(groupMembers.origin, origin), eq(groupMembers.memberKind, kind), eq(groupMembers.memberName, name)))
      .orderBy(sql`${groupMembers.groupName} COLLATE "C"`);
    return rows.map((r) => r.g);
  }

  async revokeTokensOf(userId: string, at: string): Promise<number> {
    return changed(await this.c.q().update(apiTokens).set({ revokedAt: at }).where(and(eq(apiTokens.userId, userId), isNull(apiTokens.revokedAt))));
  }

  async expandedGroups(userName: string): Promise<string[]> {
    return this.containingGroups("user", userName);
  }

  /** Every group containing a member, directly or through nested groups (UNION stops at cycles). */
  private async containingGroups(kind: "user" | "group", name: string): Promise<string[]> {
    const r = await this.c.q().execute<{ name: string }>(sql`WITH RECURSIVE g(name) AS (
        SELECT group_name FROM group_members WHERE member_kind = ${kind} AND member_name = ${name}
        UNION
        SELECT gm.group_name FROM group_members gm JOIN g ON gm.member_kind = 'group' AND gm.member_name = g.name
      ) SELECT name FROM g ORDER BY name COLLATE "C"`);
    return r.rows.map((x) => x.name);
  }

  async directGroups(userName: string): Promise<string[]> {
    const rows = await this.c
      .q()
      .selectDistinct({ g: groupMembers.groupName })
      .from(groupMembers)
      .where(and(eq(groupMembers.memberKind, "user"), eq(groupMembers.memberName, userName)));
    return rows.map((r) => r.g);
  }

  async insertToken(row: NewToken): Promise<void> {
    await this.c.q().insert(apiTokens).values(row);
  }

  async tokenByHash(hash: string): Promise<TokenRow | undefined> {
    return (await this.c.q().select().from(apiTokens).where(eq(apiTokens.tokenHash, hash)))[0];
  }

  async tokensOf(userId: string): Promise<TokenRow[]> {
    return this.c.q().select().from(apiTokens).where(eq(apiTokens.userId, userId)).orderBy(apiTokens.createdAt);
  }

  async revokeToken(id: string, at: string): Promise<boolean> {
    return changed(await this.c.q().update(apiTokens).set({ revokedAt: at }).where(and(eq(apiTokens.id, id), isNull(apiTokens.revokedAt)))) > 0;
  }

  async touchToken(id: string, at: string): Promise<void> {
    await this.c.q().update(apiTokens).set({ lastUsedAt: at }).where(eq(apiTokens.id, id));
  }

  async touchTokenIfStale(id: string, at: string, staleBefore: string): Promise<boolean> {
    const r = await this.c
      .q()
      .update(apiTokens)
      .set({ lastUsedAt: at })
      .where(and(eq(apiTokens.id, id), or(isNull(apiTokens.lastUsedAt), lt(apiTokens.lastUsedAt, staleBefore))));
    return changed(r) > 0;
  }

  async tokenById(id: string): Promise<TokenRow | undefined> {
    return (await this.c.q().select().from(apiTokens).where(eq(apiTokens.id, id)))[0];
  }

  async allTokens(): Promise<TokenRow[]> {
    return this.c.q().select().from(apiTokens).orderBy(apiTokens.createdAt);
  }

  async setTokenExpiry(id: string, expiresAt: string | null): Promise<boolean> {
    return changed(await this.c.q().update(apiTokens).set({ expiresAt }).where(eq(apiTokens.id, id))) > 0;
  }

  async renamePrincipal(kind: "user" | "group", from: string, to: string): Promise<void> {
    await this.c.tx(async () => {
      const q = this.c.q();
      if (kind === "user") {
        await q.execute(sql`UPDATE users SET name = ${to} WHERE name = ${from}`);
        await q.execute(sql`UPDATE jobs SET created_by = ${`user:${to}`} WHERE created_by = ${`user:${from}`}`);
      } else {
        // groups.name is referenced by group_members.group_name (no ON UPDATE): copy, move, drop.
        await q.execute(sql`INSERT INTO groups (name, description, created_at) SELECT ${to}, description, created_at FROM groups WHERE name = ${from}`);
        await q.execute(sql`UPDATE group_members SET group_name = ${to} WHERE group_name = ${from}`);
        await q.execute(sql`DELETE FROM groups WHERE name = ${from}`);
      }
      // SQLite's UPDATE OR IGNORE: rows that would duplicate one under the new name stay behind, then go.
      await q.execute(sql`UPDATE group_members gm SET member_name = ${to} WHERE member_kind = ${kind} AND member_name = ${from}
        AND NOT EXISTS (SELECT 1 FROM group_members o WHERE o.group_name = gm.group_name AND o.member_kind = gm.member_kind AND o.member_name = ${to} AND o.origin = gm.origin)`);
      await q.execute(sql`DELETE FROM group_members WHERE member_kind = ${kind} AND member_name = ${from}`);
    });
  }

  async members(group: string): Promise<{ kind: "user" | "group"; name: string }[]> {
    return this.c
      .q()
      .selectDistinct({ kind: groupMembers.memberKind, name: groupMembers.memberName })
      .from(groupMembers)
      .where(eq(groupMembers.groupName, group))
      .orderBy(groupMembers.memberKind, groupMembers.memberName);
  }

  async groupAncestors(group: string): Promise<string[]> {
    return this.containingGroups("group", group);
  }

  async membershipPaths(userName: string): Promise<Record<string, string[]>> {
    const r = await this.c.q().execute<{ name: string; path: string[] }>(sql`WITH RECURSIVE g(name, path, depth) AS (
        SELECT group_name, ARRAY[group_name], 1 FROM group_members WHERE member_kind = 'user' AND member_name = ${userName}
        UNION ALL
        SELECT gm.group_name, g.path || gm.group_name, g.depth + 1
          FROM group_members gm JOIN g ON gm.member_kind = 'group' AND gm.member_name = g.name
         WHERE g.depth < 32 AND NOT (gm.group_name = ANY(g.path))
      ) SELECT name, path FROM g ORDER BY depth`);
    const out: Record<string, string[]> = {};
    for (const x of r.rows) out[x.name] ??= x.path;
    return out;
  }
}
