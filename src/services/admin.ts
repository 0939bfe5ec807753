/**
 * Account administration for the admin API and the CLI: users, groups, memberships and tokens.
 * Every call is authorized by policies/users.ts and every change is audited with before/after.
 * The CLI runs these as the operator (SYSTEM_ACTOR), so both paths share the checks and the log.
 */
import { authorize, CLASSIFICATIONS, classificationLabel, Groups, Tokens, Users, type Actor } from "../../policies/index.ts";
import { MANUAL_ORIGIN, type GroupRow, type MetadataStore, type UserRow } from "../stores/metadata.ts";
import type { Accounts, NameConflicts, NewTokenOptions, TokenInfo } from "./accounts.ts";
import type { AuditLog } from "./audit.ts";
import { badRequest, notFound } from "./errors.ts";

export interface UserView {
  name: string;
  /** `local`, or the directory source that manages the account (`oidc:<id>`, `ldap:<id>`, `scim:<id>`). */
  source: string;
  /** The account's stable id in its source (null for local accounts). */
  externalId: string | null;
  /** For screens ("김철수"); never part of an access decision. */
  displayName: string | null;
  /** "service": an integration's account, API tokens only. */
  kind: "person" | "service";
  role: string;
  clearance: number;
  disabled: boolean;
  groups: string[];
  createdAt: string;
}

export interface GroupView {
  name: string;
  description: string | null;
  /** `local`, or the directory source that manages the group. */
  source: string;
  externalId: string | null;
  displayName: string | null;
  /** Direct members, each once. */
  members: { kind: "user" | "group"; name: string }[];
  /**
   * Direct membership rows with who wrote each: `origin` is `manual` (an admin) or the directory
   * source whose sync replaces it; `override` marks a manual row in a directory-managed group
   * (it survives syncs until an admin removes it). A membership written by both appears twice.
   */
  memberOrigins: MemberOrigin[];
}

export interface MemberOrigin {
  kind: "user" | "group";
  name: string;
  displayName: string | null;
  origin: string;
  override: boolean;
}

/** Display names of users and groups by principal (`user:x`, `group:y`). */
type DisplayNames = Map<string, string | null>;

/** `user:kim`, `group:hr` or a bare user name (Accounts resolves any spelling of the name). */
function parseMember(member: string): { kind: "user" | "group"; name: string } {
  const m = /^(user|group):(.+)$/.exec(member.trim());
  if (m) return { kind: m[1] as "user" | "group", name: m[2]!.trim() };
  if (member.includes(":")) throw badRequest(`invalid member "${member}": expected user:<name> or group:<name>`);
  return { kind: "user", name: member.trim() };
}

export class AdminService {
  constructor(
    private readonly accounts: Accounts,
    private readonly audit: AuditLog,
    /** Web sessions: a user who is disabled is signed out everywhere (sign-in.ts). */
    private readonly sessions?: { revokeAllForUser(userId: string): Promise<number> },
    /** Conversations and feedback, for purging a user's history. */
    private readonly metadata?: MetadataStore,
    /** Disabling a user: disabled, every token and session revoked at once (directory.ts). */
    private readonly deactivation?: { deactivateUser(userName: string, ctx: { actor?: Actor; reason?: string }): Promise<{ tokensRevoked: number; sessionsRevoked: number }> },
  ) {}

  /**
   * Erases a (departed) user's conversations and their feedback on answers, in one transaction
   * (personal-data erasure) while keeping the account (e.g. disabled, for the audit trail);
   * `deleteUser` removes both with the account (triggers of migrations 0003 and 0007). Audited
   * with the counts (never the content).
   */
  async purgeHistory(actor: Actor, name: string): Promise<{ user: string; conversations: number; feedback: number }> {
    name = await this.accounts.userName(name);
    authorize(actor, "purge_history", Users, { name });
    const user = await this.accounts.getUser(name);
    if (!this.metadata) throw new Error("purgeHistory needs the metadata store");
    const counts = await this.metadata.withTransaction(async (tx) => ({
      conversations: await tx.conversations.deleteAllOf(user.id),
      feedback: await tx.feedback.deleteAllOf(user.id),
    }));
    await this.audit.record(actor, "user.purge_history", `user:${name}`, counts);
    return { user: name, ...counts };
  }

  /**
   * Who the caller is, for a client deciding what to show (an admin menu, an upload button): name,
   * role, groups after nesting, clearance and capabilities. Anyone signed in; not audited (a read
   * of one's own account, as with tokens' `self` actions).
   */
  me(actor: Actor): { name: string; role: string; groups: string[]; clearance: number; classification: string; capabilities: string[]; scopes: string[] | null } {
    const capabilities = actor.capabilities ? [...actor.capabilities] : [...this.accounts.roles().capabilitiesOf(actor.role)];
    return {
      name: actor.name,
      role: actor.role,
      groups: [...actor.groups].sort(),
      clearance: actor.clearance,
      classification: classificationLabel(Math.min(actor.clearance, CLASSIFICATIONS.length - 1)),
      capabilities: capabilities.sort(),
      scopes: actor.scopes ? [...actor.scopes] : null,
    };
  }

  /**
   * Names to choose access from when uploading: enabled users, groups, and the classifications
   * (level and label). `q` keeps names containing it. For uploaders and managers (policies/users.ts).
   */
  async directory(
    actor: Actor,
    q?: string,
  ): Promise<{
    users: string[];
    userDetails: { name: string; displayName: string | null; source: string }[];
    groups: { name: string; description: string | null; displayName: string | null; source: string }[];
    classifications: { level: number; label: string }[];
  }> {
    authorize(actor, "directory", Users, null);
    const needle = q?.trim().toLowerCase();
    // A directory name (`corp~6b3c…`) means nothing to a person: its display name matches too.
    const keep = (x: { name: string; displayName: string | null }) => !needle || x.name.toLowerCase().includes(needle) || (x.displayName?.toLowerCase().includes(needle) ?? false);
    const users = (await this.accounts.listUsers())
      .filter((u) => !u.disabled && keep(u))
      .map((u) => ({ name: u.name, displayName: u.displayName, source: u.source }))
      .sort((a, b) => a.name.localeCompare(b.name));
    return {
      users: users.map((u) => u.name),
      userDetails: users,
      groups: (await this.accounts.listGroups())
        .filter(keep)
        .map((g) => ({ name: g.name, description: g.description ?? null, displayName: g.displayName, source: g.source }))
        .sort((a, b) => a.name.localeCompare(b.name)),
      classifications: CLASSIFICATIONS.map((label, level) => ({ level, label })),
    };
  }

  private async view(u: UserRow): Promise<UserView> {
    return { name: u.name, source: u.source, externalId: u.externalId, displayName: u.displayName, kind: u.kind, role: u.role, clearance: u.clearance, disabled: u.disabled, groups: await this.accounts.directGroups(u.name), createdAt: u.createdAt };
  }

  async listUsers(actor: Actor): Promise<UserView[]> {
    authorize(actor, "list", Users, null);
    const out: UserView[] = [];
    for (const u of await this.accounts.listUsers()) out.push(await this.view(u));
    return out;
  }

  /** Stored names that collide once canonicalized, or look alike (`kb users conflicts`). */
  async nameConflicts(actor: Actor): Promise<NameConflicts> {
    authorize(actor, "list", Users, null);
    return this.accounts.nameConflicts();
  }

  async getUser(actor: Actor, name: string): Promise<UserView & { memberOf: Record<string, string[]>; capabilities: string[] }> {
    name = await this.accounts.userName(name);
    authorize(actor, "read", Users, { name });
    const u = await this.accounts.getUser(name);
    return { ...(await this.view(u)), memberOf: await this.accounts.membershipPaths(name), capabilities: [...this.accounts.roles().capabilitiesOf(u.role)].sort() };
  }

  /** `kind: "service"` makes a service account (API tokens only; it can never sign in). */
  async createUser(actor: Actor, input: { name: string; role?: string; groups?: string[]; clearance?: number; kind?: "person" | "service" }): Promise<UserView> {
    authorize(actor, "create", Users, null);
    const u = await this.accounts.createUser(input);
    const after = await this.view(u);
    await this.audit.record(actor, "user.create", `user:${u.name}`, { after });
    return after;
  }

  async updateUser(actor: Actor, name: string, patch: { role?: string; clearance?: number; disabled?: boolean }): Promise<UserView> {
    name = await this.accounts.userName(name);
    authorize(actor, "update", Users, { name });
    const before = await this.view(await this.accounts.getUser(name));
    // Re-enabling must not bring old sessions or tokens back, so disabling ends them (not only
    // refuses them): the user disabled and every token and session revoked in one transaction.
    let revoked: { tokensRevoked: number; sessionsRevoked: number } | undefined;
    if (patch.disabled === true && !before.disabled && this.deactivation) revoked = await this.deactivation.deactivateUser(name, { actor, reason: "disabled by an admin" });
    else if (patch.disabled === true && this.sessions) revoked = { tokensRevoked: 0, sessionsRevoked: await this.sessions.revokeAllForUser((await this.accounts.getUser(name)).id) };
    const updated = await this.accounts.updateUser(name, patch);
    const after = await this.view(updated);
    await this.audit.record(actor, "user.update", `user:${name}`, { before, after, ...(revoked ?? {}) });
    return after;
  }

  async deleteUser(actor: Actor, name: string): Promise<void> {
    name = await this.accounts.userName(name);
    authorize(actor, "delete", Users, { name });
    if (name === actor.name) throw badRequest("you cannot delete yourself", "self_delete");
    const before = await this.view(await this.accounts.getUser(name));
    await this.accounts.deleteUser(name);
    await this.audit.record(actor, "user.delete", `user:${name}`, { before, after: null });
  }

  private async displayNames(): Promise<DisplayNames> {
    const names: DisplayNames = new Map();
    for (const u of await this.accounts.listUsers()) names.set(`user:${u.name}`, u.displayName);
    for (const g of await this.accounts.listGroups()) names.set(`group:${g.name}`, g.displayName);
    return names;
  }

  private async groupView(name: string, names?: DisplayNames): Promise<GroupView> {
    const g = await this.accounts.group(name);
    if (!g) throw notFound(`group "${name}"`);
    return this.viewOfGroup(g, names ?? (await this.displayNames()));
  }

  private async viewOfGroup(g: GroupRow, names: DisplayNames): Promise<GroupView> {
    const rows = await this.accounts.memberRows(g.name);
    const directory = g.source !== "local";
    return {
      name: g.name,
      description: g.description,
      source: g.source,
      externalId: g.externalId,
      displayName: g.displayName,
      members: await this.accounts.members(g.name),
      memberOrigins: rows.map((r) => ({ ...r, displayName: names.get(`${r.kind}:${r.name}`) ?? null, override: directory && r.origin === MANUAL_ORIGIN })),
    };
  }

  async listGroups(actor: Actor): Promise<GroupView[]> {
    authorize(actor, "list", Groups, null);
    const names = await this.displayNames();
    const out: GroupView[] = [];
    for (const g of await this.accounts.listGroups()) out.push(await this.viewOfGroup(g, names));
    return out;
  }

  async getGroup(actor: Actor, name: string): Promise<GroupView> {
    name = await this.accounts.groupName(name);
    authorize(actor, "list", Groups, null);
    return this.groupView(name);
  }

  async createGroup(actor: Actor, name: string, options: { description?: string; members?: string[] } = {}): Promise<GroupView> {
    authorize(actor, "create", Groups, null);
    // Members are parsed and checked before anything is written; the group and its members are one transaction.
    const canonical = await this.accounts.createGroup(name, options.description, (options.members ?? []).map(parseMember));
    const after = await this.groupView(canonical);
    await this.audit.record(actor, "group.create", `group:${canonical}`, { after });
    return after;
  }

  async deleteGroup(actor: Actor, name: string): Promise<void> {
    name = await this.accounts.groupName(name);
    authorize(actor, "delete", Groups, null);
    const before = await this.groupView(name);
    await this.accounts.deleteGroup(name);
    await this.audit.record(actor, "group.delete", `group:${name}`, { before, after: null });
  }

  async addMember(actor: Actor, group: string, member: string): Promise<GroupView> {
    group = await this.accounts.groupName(group);
    authorize(actor, "add_member", Groups, null);
    const m = parseMember(member);
    m.name = m.kind === "user" ? await this.accounts.userName(m.name) : await this.accounts.groupName(m.name);
    const before = await this.groupView(group);
    await this.accounts.addToGroup(group, m.kind, m.name);
    const after = await this.groupView(group);
    // An admin's row in a directory-managed group is a manual override: kept through every sync until removed here.
    const override = after.source !== "local";
    await this.audit.record(actor, "group.member.add", `group:${group}`, {
      member: `${m.kind}:${m.name}`,
      origin: MANUAL_ORIGIN,
      ...(override ? { override: true, source: after.source } : {}),
      before: before.members,
      after: after.members,
    });
    return after;
  }

  async removeMember(actor: Actor, group: string, member: string): Promise<GroupView> {
    group = await this.accounts.groupName(group);
    authorize(actor, "remove_member", Groups, null);
    const m = parseMember(member);
    m.name = m.kind === "user" ? await this.accounts.userName(m.name) : await this.accounts.groupName(m.name);
    const before = await this.groupView(group);
    // Only an admin's (manual) row is removed; a directory's row is refused (change it in the directory).
    if (!(await this.accounts.removeFromGroup(group, m.kind, m.name))) throw notFound(`member ${m.kind}:${m.name} of group "${group}"`);
    const after = await this.groupView(group);
    await this.audit.record(actor, "group.member.remove", `group:${group}`, {
      member: `${m.kind}:${m.name}`,
      origin: MANUAL_ORIGIN,
      ...(before.source !== "local" ? { override: true, source: before.source } : {}),
      before: before.members,
      after: after.members,
    });
    return after;
  }

  async listTokens(actor: Actor, user?: string): Promise<TokenInfo[]> {
    user = user === undefined ? undefined : await this.accounts.userName(user);
    authorize(actor, "list", Tokens, user ? { name: user } : null);
    return user ? this.accounts.listTokens(user) : this.accounts.listAllTokens();
  }

  /** Creates a token; the secret is returned once and never stored or logged. */
  async createToken(actor: Actor, user: string, options: NewTokenOptions = {}): Promise<{ token: string; info: TokenInfo }> {
    user = await this.accounts.userName(user);
    authorize(actor, "create", Tokens, { name: user });
    if (options.expiresAt !== undefined && Number.isNaN(Date.parse(options.expiresAt))) throw badRequest(`invalid expiresAt "${options.expiresAt}"`);
    const created = await this.accounts.createToken(user, options);
    await this.audit.record(actor, "token.create", `user:${user}`, {
      tokenId: created.info.id,
      name: created.info.name,
      expiresAt: created.info.expiresAt,
      scopes: created.info.scopes,
      rateLimitPerMinute: created.info.rateLimitPerMinute,
    });
    return created;
  }

  private async tokenSubject(id: string): Promise<{ info: TokenInfo; subject: { name: string } }> {
    const info = await this.accounts.token(id);
    if (!info) throw notFound(`token "${id}"`);
    return { info, subject: { name: info.user } };
  }

  async revokeToken(actor: Actor, id: string): Promise<TokenInfo> {
    const { info: before, subject } = await this.tokenSubject(id);
    authorize(actor, "revoke", Tokens, subject);
    await this.accounts.revokeToken(id);
    const after = (await this.accounts.token(id))!;
    await this.audit.record(actor, "token.revoke", id, { user: before.user, before: { revokedAt: before.revokedAt }, after: { revokedAt: after.revokedAt } });
    return after;
  }

  /** Sets a token's expiry (default: now, i.e. expire at once); null removes it. */
  async expireToken(actor: Actor, id: string, at?: string | null): Promise<TokenInfo> {
    const { info: before, subject } = await this.tokenSubject(id);
    authorize(actor, "expire", Tokens, subject);
    const after = await this.accounts.expireToken(id, at === undefined ? new Date().toISOString() : at);
    await this.audit.record(actor, "token.expire", id, { user: before.user, before: { expiresAt: before.expiresAt }, after: { expiresAt: after.expiresAt } });
    return after;
  }
}
