/**
 * LDAP / Active Directory as a source of users and groups (`ldap:<id>`, configured in the
 * policy folder's ldap-directories.json):
 *
 * - **Sign-in** (`account`): SignInService asks here when a name is not a local user with a
 *   password. The user is searched by the login attribute, the password checked by a bind as
 *   the found DN, and on success the user is created or updated (`DirectoryService.upsertUser`)
 *   and their direct directory groups (plus the local groups `groupsMap` gives them) set at once,
 *   so a sign-in applies group changes without waiting for the sync.
 * - **Sync** (`sync`, run by the `directory-sync` job): reads every user and group (paged), then
 *   upserts users, upserts groups, sets each group's members from the directory (a member that
 *   is a group becomes a group member: nesting is resolved by our own cycle-safe expansion, so
 *   AD's in-chain matching rule is not used), deactivates users no longer found (tokens and
 *   sessions revoked) and removes groups no longer found. Everything is read before anything is
 *   written: a directory that cannot be reached changes nothing.
 *
 * Memberships written here carry the origin `ldap:<id>`; an admin's manual rows are left alone.
 */
import { authorize, Job, SYSTEM_ACTOR, type Actor } from "../../../policies/index.ts";
import { groupKey, type LdapDirectory } from "../../../policies/ldap-directories.ts";
import type { MetadataRepositories } from "../../stores/metadata.ts";
import type { AuditLog } from "../audit.ts";
import type { IntervalSchedule } from "../jobs/schedules.ts";
import { badRequest, notFound } from "../errors.ts";
import { DirectoryUnavailableError, LdapConnection, normalizeDn, type DirectoryGroupEntry, type DirectoryUserEntry, type ReadSecret } from "./client.ts";
import type { DirectoryApi } from "./directory-api.ts";

export { DirectoryUnavailableError } from "./client.ts";

export interface DirectoryAccount {
  /** `ldap:<id>` */
  source: string;
  /** The key failures and lock-outs are counted under (the source and the stable id). */
  key: string;
  /** Whether the password is the user's (a bind as the user's DN). */
  checkPassword(password: string): Promise<boolean>;
  /** Creates or updates the user and their groups; the user's name. */
  admit(): Promise<string>;
  close(): Promise<void>;
}

export interface DirectorySyncResult {
  directory: string;
  users: { found: number; created: number; updated: number; deactivated: number };
  groups: { found: number; created: number; removed: number };
  memberships: { added: number; removed: number };
  /** groupsMap names a local group that does not exist (not applied). */
  missingLocalGroups: string[];
}

export interface LdapServiceDeps {
  directories: () => LdapDirectory[];
  directory: DirectoryApi;
  readSecret: ReadSecret;
  audit: AuditLog;
  /** Submits a `directory-sync` job (JobsService.submit). */
  submitJob: (actor: Actor, params: { directory: string; schedule?: boolean }, tx?: MetadataRepositories) => Promise<{ jobId: string }>;
  /** The queued or running directory-sync job of a directory, if any. */
  activeSync: (directory: string) => Promise<string | null>;
  /** Local groups that exist (groupsMap targets are checked against them). */
  localGroupExists: (name: string) => Promise<boolean>;
  /** Local groups holding membership rows written by `source` (groupsMap targets, now or before). */
  groupsWrittenBy: (source: string) => Promise<string[]>;
  log?: (level: "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;
}

const sourceOf = (d: LdapDirectory) => `ldap:${d.id}`;

/** Every group reachable upwards from `start` through `parents` (cycle-safe). */
function closure(start: string[], parents: (dn: string) => string[]): Set<string> {
  const seen = new Set<string>();
  const queue = [...start];
  while (queue.length) {
    const dn = queue.shift()!;
    if (seen.has(dn)) continue;
    seen.add(dn);
    queue.push(...parents(dn));
  }
  return seen;
}

export class LdapService {
  constructor(private readonly deps: LdapServiceDeps) {}

  /** True when ldap-directories.json lists at least one directory. */
  configured(): boolean {
    return this.deps.directories().length > 0;
  }

  /** The configured directories (ids, URLs, intervals: no secrets). */
  list(): { id: string; source: string; url: string; syncIntervalMinutes: number | null }[] {
    return this.deps.directories().map((d) => ({ id: d.id, source: sourceOf(d), url: d.url, syncIntervalMinutes: d.syncIntervalMinutes }));
  }

  private byId(id: string): LdapDirectory {
    const d = this.deps.directories().find((x) => x.id === id);
    if (!d) throw notFound(`directory "${id}" (ldap-directories.json lists: ${this.deps.directories().map((x) => x.id).join(", ") || "none"})`);
    return d;
  }

  /** Submits a sync of one directory (admins); the job id (of the one already queued or running, if any). */
  async submitSync(actor: Actor, id: string, options: { schedule?: boolean; tx?: MetadataRepositories } = {}): Promise<{ jobId: string }> {
    authorize(actor, "manage", Job, { createdBy: null });
    this.byId(id);
    // One sync of a directory at a time: asking again while one is queued or running gets that one.
    const active = options.tx ? null : await this.deps.activeSync(id);
    if (active) return { jobId: active };
    return this.deps.submitJob(actor, { directory: id, ...(options.schedule ? { schedule: true } : {}) }, options.tx);
  }

  /** The scheduled syncs (directories with syncIntervalMinutes), for the worker's scheduler. */
  schedules(): IntervalSchedule[] {
    return this.deps.directories().flatMap((d) =>
      d.syncIntervalMinutes === null
        ? []
        : [
            {
              name: `directory:${d.id}`, // ":" is not allowed in a folder source's name: no clash of settings keys
              everyMs: d.syncIntervalMinutes * 60_000,
              kind: "directory-sync",
              matches: (p: Record<string, unknown>) => p.directory === d.id,
              submit: (tx: MetadataRepositories) => this.submitSync(SYSTEM_ACTOR, d.id, { schedule: true, tx }),
            },
          ],
    );
  }

  /**
   * The directory account of a login name: the first directory (in the file's order) where
   * exactly one user has it; null when none has. Throws DirectoryUnavailableError when a
   * directory cannot be searched (the caller refuses the sign-in).
   */
  async account(login: string): Promise<DirectoryAccount | null> {
    if (login.length === 0 || login.length > 256) return null;
    // A directory that is down does not keep the users of the others out; if none has the
    // name and one could not be asked, that is the answer (the caller audits it).
    let unavailable: unknown = null;
    for (const dir of this.deps.directories()) {
      let conn: LdapConnection | null = null;
      let handedOver = false;
      try {
        conn = await LdapConnection.open(dir, this.deps.readSecret);
        const user = await conn.findUser(login);
        if (!user) continue;
        handedOver = true;
        const c = conn;
        return {
          source: sourceOf(dir),
          key: `${sourceOf(dir)}:${user.id}`,
          checkPassword: (password) => c.checkPassword(user.dn, password),
          admit: () => this.admit(dir, c, user),
          close: () => c.close(),
        };
      } catch (err) {
        unavailable ??= err;
      } finally {
        if (!handedOver) await conn?.close();
      }
    }
    if (unavailable) throw unavailable;
    return null;
  }

  /** Sign-in: the user and their direct groups (and mapped local groups) from the directory now. */
  private async admit(dir: LdapDirectory, conn: LdapConnection, user: DirectoryUserEntry): Promise<string> {
    const source = sourceOf(dir);
    const ctx = { actor: null, reason: "ldap sign-in" };
    const direct = await conn.groupsOf(user);
    // Upwards through nested groups (cycle-safe) for the role and groupsMap.
    const known = new Map<string, DirectoryGroupEntry>(direct.map((g) => [normalizeDn(g.dn), g]));
    const parentsCache = new Map<string, string[]>();
    const all = new Set<string>();
    const queue = [...known.keys()];
    while (queue.length) {
      const dn = queue.shift()!;
      if (all.has(dn)) continue;
      all.add(dn);
      let parents = parentsCache.get(dn);
      if (!parents) {
        const g = known.get(dn)!;
        const up = await conn.groupsOf({ dn: g.dn, memberOf: g.memberOf });
        for (const p of up) known.set(normalizeDn(p.dn), p);
        parents = up.map((p) => normalizeDn(p.dn));
        parentsCache.set(dn, parents);
      }
      queue.push(...parents);
    }
    const ids = [...all].map((dn) => known.get(dn)!.id);
    const { user: row } = await this.deps.directory.upsertUser(source, { externalId: user.id, displayName: user.displayName, email: user.email, ...this.roleOf(dir, ids) }, ctx);
    const names: string[] = [];
    for (const g of direct) names.push((await this.deps.directory.upsertGroup(source, { externalId: g.id, displayName: g.name }, ctx)).name);
    for (const local of this.mappedLocalGroups(dir, ids)) if (await this.deps.localGroupExists(local)) names.push(local);
    await this.deps.directory.setUserGroups(source, row.name, [...new Set(names)], ctx);
    return row.name;
  }

  private roleOf(dir: LdapDirectory, groupIds: string[]): { role?: string } {
    const entries = Object.entries(dir.roles);
    if (entries.length === 0) return {};
    const keys = new Set(groupIds.map(groupKey));
    return { role: entries.find(([k]) => keys.has(k))?.[1] ?? dir.defaultRole };
  }

  private mappedLocalGroups(dir: LdapDirectory, groupIds: string[]): string[] {
    return [...new Set(groupIds.map((id) => dir.groupsMap[groupKey(id)]).filter((x): x is string => x !== undefined))];
  }

  /**
   * Reads one directory whole and makes our users, groups and memberships of `ldap:<id>` agree
   * with it. `progress` gets a short phase text. Throws DirectoryUnavailableError (nothing
   * changed) when the directory cannot be read.
   */
  async sync(id: string, progress: (phase: string) => Promise<void> = async () => {}): Promise<DirectorySyncResult> {
    const dir = this.byId(id);
    const source = sourceOf(dir);
    const ctx = { actor: null, reason: "ldap sync" };
    await progress("connecting");
    const conn = await LdapConnection.open(dir, this.deps.readSecret);
    let users: DirectoryUserEntry[];
    let groups: DirectoryGroupEntry[];
    try {
      await progress("reading users");
      users = await conn.users((n) => void progress(`reading users (${n})`).catch(() => {}));
      await progress("reading groups");
      groups = await conn.groups((n) => void progress(`reading groups (${n})`).catch(() => {}));
    } finally {
      await conn.close();
    }
    const existingUsers = await this.deps.directory.usersOf(source);
    if (users.length === 0 && existingUsers.some((u) => !u.disabled)) {
      // A wrong base or filter must not disable everyone.
      throw new DirectoryUnavailableError(dir.id, `found no users under "${dir.users.base}" matching ${dir.users.filter}; refusing to deactivate ${existingUsers.length} user(s) (check users.base and users.filter)`);
    }
    const result: DirectorySyncResult = {
      directory: id,
      users: { found: users.length, created: 0, updated: 0, deactivated: 0 },
      groups: { found: groups.length, created: 0, removed: 0 },
      memberships: { added: 0, removed: 0 },
      missingLocalGroups: [],
    };

    // Who is in which group, as DNs.
    const groupByDn = new Map(groups.map((g) => [normalizeDn(g.dn), g]));
    const userByDn = new Map(users.map((u) => [normalizeDn(u.dn), u]));
    const membersOf = new Map<string, { kind: "user" | "group"; dn: string }[]>(groups.map((g) => [normalizeDn(g.dn), []]));
    const parentsOf = new Map<string, string[]>();
    const link = (groupDn: string, kind: "user" | "group", memberDn: string) => {
      const list = membersOf.get(groupDn);
      if (!list) return; // a group outside the groups base or filter
      list.push({ kind, dn: memberDn });
      parentsOf.set(memberDn, [...(parentsOf.get(memberDn) ?? []), groupDn]);
    };
    if (dir.groups.style === "member") {
      for (const g of groups)
        for (const m of g.members) {
          const dn = normalizeDn(m);
          if (groupByDn.has(dn)) link(normalizeDn(g.dn), "group", dn);
          else if (userByDn.has(dn)) link(normalizeDn(g.dn), "user", dn);
        }
    } else {
      for (const u of users) for (const g of u.memberOf) link(normalizeDn(g), "user", normalizeDn(u.dn));
      for (const h of groups) for (const g of h.memberOf) link(normalizeDn(g), "group", normalizeDn(h.dn));
    }

    // Users.
    await progress(`writing ${users.length} users`);
    const userName = new Map<string, string>();
    const seenUsers = new Set<string>();
    for (const u of users) {
      const ids = [...closure(parentsOf.get(normalizeDn(u.dn)) ?? [], (dn) => parentsOf.get(dn) ?? [])].map((dn) => groupByDn.get(dn)!.id);
      const r = await this.deps.directory.upsertUser(source, { externalId: u.id, displayName: u.displayName, email: u.email, ...this.roleOf(dir, ids) }, ctx);
      if (r.created) result.users.created++;
      else if (r.changed) result.users.updated++;
      userName.set(normalizeDn(u.dn), r.user.name);
      seenUsers.add(r.user.name);
    }
    // Groups.
    await progress(`writing ${groups.length} groups`);
    const groupName = new Map<string, string>();
    for (const g of groups) {
      const r = await this.deps.directory.upsertGroup(source, { externalId: g.id, displayName: g.name }, ctx);
      if (r.created) result.groups.created++;
      groupName.set(normalizeDn(g.dn), r.name);
    }
    // Members.
    await progress("writing memberships");
    for (const g of groups) {
      const members = membersOf.get(normalizeDn(g.dn))!.map((m) => ({ kind: m.kind, name: (m.kind === "user" ? userName : groupName).get(m.dn)! }));
      const r = await this.deps.directory.setGroupMembers(source, groupName.get(normalizeDn(g.dn))!, members, ctx);
      result.memberships.added += r.added.length;
      result.memberships.removed += r.removed.length;
    }
    // groupsMap: a mapped directory group becomes a member of the local group.
    const mapped = new Map<string, { kind: "group"; name: string }[]>();
    for (const g of groups) {
      const local = dir.groupsMap[groupKey(g.id)];
      if (local) mapped.set(local, [...(mapped.get(local) ?? []), { kind: "group", name: groupName.get(normalizeDn(g.dn))! }]);
    }
    // A local group dropped from groupsMap loses the members the mapping gave it.
    for (const local of new Set([...Object.values(dir.groupsMap), ...(await this.deps.groupsWrittenBy(source))])) {
      if (!(await this.deps.localGroupExists(local))) {
        result.missingLocalGroups.push(local);
        this.deps.log?.("warn", "groupsMap names a local group that does not exist", { directory: id, group: local });
        continue;
      }
      const r = await this.deps.directory.setGroupMembers(source, local, mapped.get(local) ?? [], ctx);
      result.memberships.added += r.added.length;
      result.memberships.removed += r.removed.length;
    }
    // Gone from the directory.
    await progress("deactivating users no longer found");
    for (const u of existingUsers) {
      if (seenUsers.has(u.name) || u.disabled) continue;
      await this.deps.directory.deactivateUser(u.name, { ...ctx, reason: "ldap sync: no longer in the directory" });
      result.users.deactivated++;
    }
    const seenGroups = new Set(groupName.values());
    for (const g of await this.deps.directory.groupsOf(source)) {
      if (seenGroups.has(g.name) || g.externalId === null) continue;
      if (await this.deps.directory.removeGroup(source, g.externalId, { ...ctx, reason: "ldap sync: no longer in the directory" })) result.groups.removed++;
    }
    await this.deps.audit.record(SYSTEM_ACTOR, "directory.sync", source, { ...result });
    return result;
  }

  /** For `kb policy validate`-like checks and the CLI: refuses an id that is not configured. */
  check(id: string): void {
    if (!/^[a-z][a-z0-9-]{0,15}$/.test(id)) throw badRequest(`"${id}" is not a directory id`, "invalid_request");
    this.byId(id);
  }
}
