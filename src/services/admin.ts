/**
 * Account administration for the admin API and the CLI: users, groups, memberships and tokens.
 * Every call is authorized by policies/users.ts and every change is audited with before/after.
 * The CLI runs these as the operator (SYSTEM_ACTOR), so both paths share the checks and the log.
 */
import { authorize, CLASSIFICATIONS, classificationLabel, Groups, Tokens, Users, type Actor } from "../../policies/index.ts";
import type { MetadataStore, UserRow } from "../stores/metadata.ts";
import type { Accounts, NameConflicts, NewTokenOptions, TokenInfo } from "./accounts.ts";
import type { AuditLog } from "./audit.ts";
import { badRequest, notFound } from "./errors.ts";

export interface UserView {
  name: string;
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
  members: { kind: "user" | "group"; name: string }[];
}

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
  async directory(actor: Actor, q?: string): Promise<{ users: string[]; groups: { name: string; description: string | null }[]; classifications: { level: number; label: string }[] }> {
    authorize(actor, "directory", Users, null);
    const needle = q?.trim().toLowerCase();
    const keep = (name: string) => !needle || name.toLowerCase().includes(needle);
    return {
      users: (await this.accounts.listUsers())
        .filter((u) => !u.disabled && keep(u.name))
        .map((u) => u.name)
        .sort(),
      groups: (await this.accounts.listGroups())
        .filter((g) => keep(g.name))
        .map((g) => ({ name: g.name, description: g.description ?? null }))
        .sort((a, b) => a.name.localeCompare(b.name)),
      classifications: CLASSIFICATIONS.map((label, level) => ({ level, label })),
    };
  }

  private async view(u: UserRow): Promise<UserView> {
    return { name: u.name, kind: u.kind, role: u.role, clearance: u.clearance, disabled: u.disabled, groups: await this.accounts.directGroups(u.name), createdAt: u.createdAt };
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
    const updated = await this.accounts.updateUser(name, patch);
    const after = await this.view(updated);
    // Re-enabling must not bring old sessions back, so disabling ends them (not only refuses them).
    const sessionsRevoked = patch.disabled === true && this.sessions ? await this.sessions.revokeAllForUser(updated.id) : undefined;
    await this.audit.record(actor, "user.update", `user:${name}`, { before, after, ...(sessionsRevoked !== undefined ? { sessionsRevoked } : {}) });
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

  private async groupView(name: string): Promise<GroupView> {
    const g = (await this.accounts.listGroups()).find((x) => x.name === name);
    if (!g) throw notFound(`group "${name}"`);
    return { name: g.name, description: g.description, members: await this.accounts.members(name) };
  }

  async listGroups(actor: Actor): Promise<GroupView[]> {
    authorize(actor, "list", Groups, null);
    const out: GroupView[] = [];
    for (const g of await this.accounts.listGroups()) out.push({ ...g, members: await this.accounts.members(g.name) });
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
    await this.audit.record(actor, "group.member.add", `group:${group}`, { member: `${m.kind}:${m.name}`, before: before.members, after: after.members });
    return after;
  }

  async removeMember(actor: Actor, group: string, member: string): Promise<GroupView> {
    group = await this.accounts.groupName(group);
    authorize(actor, "remove_member", Groups, null);
    const m = parseMember(member);
    m.name = m.kind === "user" ? await this.accounts.userName(m.name) : await this.accounts.groupName(m.name);
    const before = await this.groupView(group);
    if (!(await this.accounts.removeFromGroup(group, m.kind, m.name))) throw notFound(`member ${m.kind}:${m.name} of group "${group}"`);
    const after = await this.groupView(group);
    await this.audit.record(actor, "group.member.remove", `group:${group}`, { member: `${m.kind}:${m.name}`, before: before.members, after: after.members });
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
