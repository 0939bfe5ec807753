/**
 * Directory-managed users, groups and memberships: the one place where OpenID Connect sign-in,
 * LDAP sync and SCIM provisioning write identity. Each of them names its source (`oidc:<id>`,
 * `ldap:<id>`, `scim:<id>`); entries are keyed by their stable id there and named
 * `<id>~<key>` (policies/principal-format.ts), and every membership row records which source
 * wrote it, so a source only ever replaces its own rows: a manual override an admin added to a
 * directory group survives every sync until an admin removes it.
 *
 * Every change is one transaction with its audit records: never a membership changed without
 * the record of why, never a deactivated user whose tokens still work.
 */
import { DEFAULT_CLEARANCE } from "../../policies/classification.ts";
import { directoryPrincipalName, SOURCE_ID, type Actor } from "../../policies/index.ts";
import { newId } from "../stores/ids.ts";
import type { GroupRow, MetadataRepositories, MetadataStore, UserRow } from "../stores/metadata.ts";
import type { AuditLog } from "./audit.ts";
import { badRequest, notFound } from "./errors.ts";

/** `oidc:<id>`, `ldap:<id>` or `scim:<id>`. */
export type DirectorySource = string;
/** `<kind>:<id>`, the id as principal-format.ts's SOURCE_ID (one definition of a source id). */
const SOURCE = new RegExp(`^(oidc|ldap|scim):(${SOURCE_ID.source.slice(1, -1)})$`);

/** Who caused a change: an admin (SCIM token, CLI) or nobody (a scheduled sync, a sign-in), and why. */
export interface ChangeContext {
  actor?: Actor | string | null;
  reason?: string;
}

export interface DirectoryUserInput {
  /** The stable id in the source (entryUUID, objectGUID, `sub`, SCIM id). */
  externalId: string;
  displayName?: string | null;
  email?: string | null;
  /** false deactivates (disabled, every token and session revoked); true re-enables. */
  active?: boolean;
  role?: string;
  clearance?: number;
}

export interface DirectoryOptions {
  /** Is this a known role? (the role catalog, built-in and custom). */
  roleExists: (role: string) => boolean;
  now?: () => Date;
}

type Member = { kind: "user" | "group"; name: string };

/** The source id part (`corp` of `ldap:corp`); throws on a malformed source. */
export function sourceIdOf(source: DirectorySource): string {
  const m = SOURCE.exec(source);
  if (!m) throw badRequest(`invalid directory source "${source}" (oidc:<id>, ldap:<id> or scim:<id>)`);
  return m[2]!;
}

/** Throws unless every source id is unique across kinds: `oidc:corp` and `ldap:corp` would name the same principals. */
export function assertSourceIdsUnique(sources: readonly DirectorySource[]): void {
  const seen = new Map<string, string>();
  for (const s of sources) {
    const id = sourceIdOf(s);
    const other = seen.get(id);
    if (other && other !== s) throw badRequest(`directory sources ${other} and ${s} share the id "${id}": ids must be unique across OIDC, LDAP and SCIM`);
    seen.set(id, s);
  }
}

const clip = (v: string | null | undefined, max: number) => (v == null ? v : v.slice(0, max));

export class DirectoryService {
  private readonly now: () => Date;

  constructor(
    private readonly store: MetadataStore,
    private readonly audit: AuditLog,
    private readonly options: DirectoryOptions,
  ) {
    this.now = options.now ?? (() => new Date());
  }

  findUser(source: DirectorySource, externalId: string): Promise<UserRow | undefined> {
    sourceIdOf(source);
    return this.store.users.byExternal(source, externalId);
  }

  findGroup(source: DirectorySource, externalId: string): Promise<GroupRow | undefined> {
    sourceIdOf(source);
    return this.store.users.groupByExternal(source, externalId);
  }

  usersOf(source: DirectorySource): Promise<UserRow[]> {
    return this.store.users.bySource(source);
  }

  groupsOf(source: DirectorySource): Promise<GroupRow[]> {
    return this.store.users.groupsBySource(source);
  }

  /** Creates or updates a directory user (just in time at sign-in, or from a sync or SCIM). */
  async upsertUser(source: DirectorySource, input: DirectoryUserInput, ctx: ChangeContext = {}): Promise<{ user: UserRow; created: boolean; changed: boolean }> {
    const sourceId = sourceIdOf(source);
    if (!input.externalId) throw badRequest(`${source}: a user without an id`);
    if (input.role !== undefined && !this.options.roleExists(input.role)) throw badRequest(`${source}: unknown role "${input.role}"`);
    const name = directoryPrincipalName(sourceId, input.externalId);
    const displayName = clip(input.displayName, 256);
    const email = clip(input.email, 320);
    return this.store.withTransaction(async (tx) => {
      const existing = await tx.users.byExternal(source, input.externalId);
      if (!existing) {
        if (await tx.users.byName(name)) throw badRequest(`${source}: the name ${name} is taken by an account of another source`);
        const id = newId("usr");
        await tx.users.insert({
          id,
          name,
          role: input.role ?? "viewer",
          clearance: input.clearance ?? DEFAULT_CLEARANCE,
          disabled: input.active === false,
          source,
          externalId: input.externalId,
          displayName: displayName ?? null,
          email: email ?? null,
        });
        await this.audit.record(ctx.actor ?? null, "directory.user.created", `user:${name}`, { source, displayName, role: input.role ?? "viewer", active: input.active !== false, reason: ctx.reason });
        return { user: (await tx.users.byId(id))!, created: true, changed: true };
      }
      const patch: Parameters<MetadataRepositories["users"]["update"]>[1] = {};
      if (displayName !== undefined && displayName !== existing.displayName) patch.displayName = displayName;
      if (email !== undefined && email !== existing.email) patch.email = email;
      if (input.role !== undefined && input.role !== existing.role) patch.role = input.role;
      if (input.clearance !== undefined && input.clearance !== existing.clearance) patch.clearance = input.clearance;
      const reactivate = input.active === true && existing.disabled;
      if (reactivate) patch.disabled = false;
      let changed = Object.keys(patch).length > 0;
      if (changed) {
        await tx.users.update(existing.id, patch);
        const { disabled: _d, ...fields } = patch;
        if (Object.keys(fields).length) await this.audit.record(ctx.actor ?? null, "directory.user.updated", `user:${existing.name}`, { source, changed: fields, reason: ctx.reason });
        if (reactivate) await this.audit.record(ctx.actor ?? null, "directory.user.reactivated", `user:${existing.name}`, { source, reason: ctx.reason });
      }
      if (input.active === false && !existing.disabled) {
        await this.deactivateIn(tx, existing, ctx);
        changed = true;
      }
      return { user: (await tx.users.byId(existing.id))!, created: false, changed };
    });
  }

  /**
   * Disables a user and revokes every API token and session at once (deprovisioning, a user
   * gone from the directory, an admin disabling someone). Returns what it revoked.
   */
  async deactivateUser(userName: string, ctx: ChangeContext = {}): Promise<{ tokensRevoked: number; sessionsRevoked: number }> {
    return this.store.withTransaction(async (tx) => {
      const user = await tx.users.byName(userName);
      if (!user) throw notFound(`user "${userName}"`);
      return this.deactivateIn(tx, user, ctx);
    });
  }

  private async deactivateIn(tx: MetadataRepositories, user: UserRow, ctx: ChangeContext): Promise<{ tokensRevoked: number; sessionsRevoked: number }> {
    const at = this.now().toISOString();
    if (!user.disabled) await tx.users.update(user.id, { disabled: true });
    const tokensRevoked = await tx.users.revokeTokensOf(user.id, at);
    const sessionsRevoked = await tx.sessions.revokeAllOf(user.id, at);
    await this.audit.record(ctx.actor ?? null, "directory.user.deactivated", `user:${user.name}`, { source: user.source, tokensRevoked, sessionsRevoked, reason: ctx.reason });
    return { tokensRevoked, sessionsRevoked };
  }

  /** Creates or renames a directory group; its name never changes, its display name may. */
  async upsertGroup(source: DirectorySource, input: { externalId: string; displayName?: string | null }, ctx: ChangeContext = {}): Promise<{ name: string; created: boolean }> {
    const sourceId = sourceIdOf(source);
    if (!input.externalId) throw badRequest(`${source}: a group without an id`);
    const name = directoryPrincipalName(sourceId, input.externalId);
    const displayName = clip(input.displayName, 256) ?? null;
    return this.store.withTransaction(async (tx) => {
      const existing = await tx.users.groupByExternal(source, input.externalId);
      if (!existing) {
        if (await tx.users.groupExists(name)) throw badRequest(`${source}: the group name ${name} is taken by a group of another source`);
        await tx.users.insertGroup(name, undefined, { source, externalId: input.externalId, displayName });
        await this.audit.record(ctx.actor ?? null, "directory.group.created", `group:${name}`, { source, displayName, reason: ctx.reason });
        return { name, created: true };
      }
      if (input.displayName !== undefined && displayName !== existing.displayName) {
        await tx.users.setGroupDisplayName(existing.name, displayName);
        await this.audit.record(ctx.actor ?? null, "directory.group.updated", `group:${existing.name}`, { source, displayName, was: existing.displayName, reason: ctx.reason });
      }
      return { name: existing.name, created: false };
    });
  }

  /** Removes a directory group (gone from the directory): every membership in it and of it goes too. */
  async removeGroup(source: DirectorySource, externalId: string, ctx: ChangeContext = {}): Promise<boolean> {
    return this.store.withTransaction(async (tx) => {
      const group = await tx.users.groupByExternal(source, externalId);
      if (!group) return false;
      const members = await tx.users.memberRows(group.name);
      await tx.users.deleteGroup(group.name);
      await this.audit.record(ctx.actor ?? null, "directory.group.removed", `group:${group.name}`, {
        source,
        displayName: group.displayName,
        members: members.length,
        manualOverridesDropped: members.filter((m) => m.origin === "manual").length,
        reason: ctx.reason,
      });
      return true;
    });
  }

  /**
   * Makes the user's memberships written by `source` exactly `groupNames` (OIDC: the groups the
   * token's claims map to). Rows other sources or admins wrote are left alone.
   */
  async setUserGroups(source: DirectorySource, userName: string, groupNames: readonly string[], ctx: ChangeContext = {}): Promise<{ added: string[]; removed: string[] }> {
    sourceIdOf(source);
    const want = [...new Set(groupNames)].sort();
    return this.store.withTransaction(async (tx) => {
      if (!(await tx.users.byName(userName))) throw notFound(`user "${userName}"`);
      for (const g of want) if (!(await tx.users.groupExists(g))) throw notFound(`group "${g}"`);
      const have = await tx.users.groupsOfMemberFrom(source, "user", userName);
      const added = want.filter((g) => !have.includes(g));
      const removed = have.filter((g) => !want.includes(g));
      for (const g of added) {
        await tx.users.addMember(g, "user", userName, source);
        await this.recordMembership(tx, ctx, "directory.membership.added", g, { kind: "user", name: userName }, source);
      }
      for (const g of removed) {
        await tx.users.removeMember(g, "user", userName, source);
        await this.recordMembership(tx, ctx, "directory.membership.removed", g, { kind: "user", name: userName }, source);
      }
      return { added, removed };
    });
  }

  /**
   * Makes the group's member rows written by `source` exactly `members` (LDAP sync, SCIM).
   * Members must exist. A nested group that would make a cycle is kept: the directory has it,
   * and expansion tolerates cycles (users-repo's recursive query stops at a repeat).
   */
  async setGroupMembers(source: DirectorySource, groupName: string, members: readonly Member[], ctx: ChangeContext = {}): Promise<{ added: Member[]; removed: Member[] }> {
    sourceIdOf(source);
    const key = (m: Member) => `${m.kind}:${m.name}`;
    const want = new Map(members.map((m) => [key(m), m]));
    return this.store.withTransaction(async (tx) => {
      if (!(await tx.users.groupExists(groupName))) throw notFound(`group "${groupName}"`);
      for (const m of want.values()) {
        const exists = m.kind === "user" ? await tx.users.byName(m.name) : await tx.users.groupExists(m.name);
        if (!exists) throw notFound(`${m.kind} "${m.name}"`);
      }
      const have = new Map((await tx.users.memberRows(groupName)).filter((r) => r.origin === source).map((r) => [key(r), { kind: r.kind, name: r.name }]));
      const added = [...want.values()].filter((m) => !have.has(key(m)));
      const removed = [...have.values()].filter((m) => !want.has(key(m)));
      for (const m of added) {
        await tx.users.addMember(groupName, m.kind, m.name, source);
        await this.recordMembership(tx, ctx, "directory.membership.added", groupName, m, source);
      }
      for (const m of removed) {
        await tx.users.removeMember(groupName, m.kind, m.name, source);
        await this.recordMembership(tx, ctx, "directory.membership.removed", groupName, m, source);
      }
      return { added, removed };
    });
  }

  private async recordMembership(tx: MetadataRepositories, ctx: ChangeContext, action: string, group: string, member: Member, source: DirectorySource): Promise<void> {
    const g = await tx.users.group(group);
    await this.audit.record(ctx.actor ?? null, action, `group:${group}`, {
      source,
      member: `${member.kind}:${member.name}`,
      groupDisplayName: g?.displayName ?? null,
      reason: ctx.reason,
    });
  }
}
