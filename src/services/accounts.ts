/**
 * Users, groups and API tokens, and turning a bearer token into an Actor.
 * Tokens are random 256-bit secrets; only their SHA-256 is stored.
 */
import crypto from "node:crypto";
import { BUILTIN_ROLE_CATALOG, canonicalName, checkNewName, nameSkeleton, PrincipalNameError, type Actor, type RoleCatalog } from "../../policies/index.ts";
import { CLASSIFICATIONS, DEFAULT_CLEARANCE } from "../../policies/classification.ts";
import { newId, sha256Hex } from "../stores/ids.ts";
import type { AuditLog } from "./audit.ts";
import type { UserRow, UsersRepo } from "../stores/sqlite/users-repo.ts";
import { ServiceError, badRequest, notFound } from "./errors.ts";

export const TOKEN_PREFIX = "kb_";

export interface TokenInfo {
  id: string;
  user: string;
  name: string | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

/** A token's use is recorded (lastUsedAt and a `token.use` audit event) at most once per this interval. */
export const TOKEN_USE_RECORD_MS = 60_000;

export interface AccountsOptions {
  /** Built-in and custom roles (policy files); default: built-in only. */
  roles?: () => RoleCatalog;
  /** Where `token.use` events go. */
  audit?: AuditLog;
}

/** A name that cannot be created, as a 400 with the reason's code. */
function newName(kind: "user" | "group", name: string): string {
  try {
    return checkNewName(name);
  } catch (err) {
    if (err instanceof PrincipalNameError) throw badRequest(err.message.replace(/^invalid name/, `invalid ${kind} name`), err.code);
    throw err;
  }
}

/**
 * Existing users and groups whose names are not unambiguous (see `Accounts.nameConflicts`):
 * found at start and by `kb users conflicts`, never merged or renamed silently.
 */
export interface NameConflicts {
  /** Stored names whose canonical form is taken by another stored name of the same kind. */
  collisions: { kind: "user" | "group"; canonical: string; names: string[] }[];
  /** Stored principals (users and groups together) that look alike: same skeleton, different names. */
  confusables: { skeleton: string; principals: string[] }[];
}

export class Accounts {
  constructor(
    private readonly users: UsersRepo,
    private readonly options: AccountsOptions = {},
  ) {}

  roles(): RoleCatalog {
    return this.options.roles?.() ?? BUILTIN_ROLE_CATALOG;
  }

  createUser(input: { name: string; role?: string; groups?: string[]; clearance?: number }): UserRow {
    const role = input.role ?? "viewer";
    const name = newName("user", input.name);
    if (!this.roles().has(role)) throw badRequest(`unknown role "${role}" (known: ${this.roles().list().map((r) => r.name).join(", ")})`);
    this.checkClearance(input.clearance);
    const groups = (input.groups ?? []).map((g) => canonicalName(g)); // a missing one is created (and checked) by addToGroup
    return this.users.transaction(() => {
      if (this.users.byName(name)) throw new ServiceError(409, "conflict", `user "${name}" already exists`);
      this.refuseLookAlike("user", name);
      const id = newId("usr");
      this.users.insert({ id, name, role, clearance: input.clearance ?? DEFAULT_CLEARANCE });
      for (const g of groups) this.addToGroup(g, "user", name, true);
      return this.users.byId(id)!;
    });
  }

  /**
   * Refuses a new name that looks like an existing user or group (same UTS #39 skeleton) without
   * being it: `раураl` (Cyrillic) beside `paypal`, `rnike` beside `mike`.
   */
  private refuseLookAlike(kind: "user" | "group", name: string): void {
    const sk = nameSkeleton(name);
    const existing = [...this.users.list().map((u) => ({ kind: "user", name: u.name })), ...this.users.listGroups().map((g) => ({ kind: "group", name: g.name }))];
    // The same name of the other kind (user:hr beside group:hr) is not a look-alike: it is the same name.
    const twin = existing.find((p) => canonicalName(p.name) !== name && nameSkeleton(p.name) === sk);
    if (twin) throw badRequest(`${kind} name "${name}" looks like the existing ${twin.kind} "${twin.name}"; choose a name that cannot be mistaken for it`, "confusable_name");
  }

  /**
   * Refuses ACL entries naming a user or group that does not exist but looks like one that does
   * (`user:сосо` beside the user `coco`): such an entry grants or denies nobody, silently.
   */
  refuseLookAlikePrincipals(principals: readonly string[]): void {
    const named = principals
      .map((p) => ({ text: p, kind: p.slice(0, p.indexOf(":")), name: p.slice(p.indexOf(":") + 1) }))
      .filter((p) => p.kind === "user" || p.kind === "group");
    if (named.length === 0) return;
    const existing = [...this.users.list().map((u) => ({ kind: "user", name: u.name })), ...this.users.listGroups().map((g) => ({ kind: "group", name: g.name }))];
    const exists = new Set(existing.map((e) => `${e.kind}:${e.name}`));
    for (const p of named) {
      if (exists.has(p.text)) continue;
      const sk = nameSkeleton(p.name);
      const twin = existing.find((e) => canonicalName(e.name) !== p.name && nameSkeleton(e.name) === sk);
      if (twin) throw badRequest(`"${p.text}" names no ${p.kind} but looks like the existing ${twin.kind} "${twin.name}"`, "confusable_name");
    }
  }

  /**
   * The stored name `name` refers to: its canonical form (any spelling finds it: NFC/NFD, case,
   * width), unless a user has exactly this name, i.e. a name stored before canonicalization and
   * left as it was because it collides (see principal-migration.ts): so it can still be found,
   * to be resolved, without ever being merged with the canonical one.
   */
  userName(name: string): string {
    return this.users.byName(name) ? name : canonicalName(name);
  }

  /** As `userName`, for groups. */
  groupName(name: string): string {
    return this.users.groupExists(name) ? name : canonicalName(name);
  }

  private memberName(kind: "user" | "group", name: string): string {
    return kind === "user" ? this.userName(name) : this.groupName(name);
  }

  /** A user by id (sessions name their user by id), or undefined. */
  userById(id: string): UserRow | undefined {
    return this.users.byId(id);
  }

  getUser(name: string): UserRow {
    const u = this.users.byName(this.userName(name));
    if (!u) throw notFound(`user "${name}"`);
    return u;
  }

  /**
   * Stored names that are not unambiguous: a name whose canonical form is shared with another
   * stored name (written before names were canonicalized), and principals that look alike.
   */
  nameConflicts(): NameConflicts {
    const stored = [...this.users.list().map((u) => ({ kind: "user" as const, name: u.name })), ...this.users.listGroups().map((g) => ({ kind: "group" as const, name: g.name }))];
    const byCanonical = new Map<string, { kind: "user" | "group"; canonical: string; names: string[] }>();
    const bySkeleton = new Map<string, Set<string>>();
    for (const p of stored) {
      const canonical = canonicalName(p.name);
      const key = `${p.kind}:${canonical}`;
      const entry = byCanonical.get(key) ?? { kind: p.kind, canonical, names: [] };
      entry.names.push(p.name);
      byCanonical.set(key, entry);
      const sk = nameSkeleton(p.name);
      bySkeleton.set(sk, (bySkeleton.get(sk) ?? new Set()).add(`${p.kind}:${canonical}`));
    }
    return {
      collisions: [...byCanonical.values()].filter((e) => e.names.length > 1),
      confusables: [...bySkeleton.entries()]
        .map(([skeleton, ps]) => ({ skeleton, principals: [...ps].sort() }))
        // user:x and group:x share a skeleton without being look-alikes of one another.
        .filter((e) => new Set(e.principals.map((p) => p.slice(p.indexOf(":") + 1))).size > 1),
    };
  }

  listUsers(): (UserRow & { groups: string[] })[] {
    return this.users.list().map((u) => ({ ...u, groups: this.users.directGroups(u.name) }));
  }

  /**
   * Creates a group with its members in one transaction: every member is checked first, and an
   * unknown member or a cycle leaves nothing behind. An existing group gets the members added
   * (the CLI's `groups add` is repeatable). Returns the group's canonical name.
   */
  createGroup(name: string, description?: string, members: { kind: "user" | "group"; name: string }[] = []): string {
    const canonical = newName("group", name);
    return this.users.transaction(() => {
      if (!this.users.groupExists(canonical)) this.refuseLookAlike("group", canonical);
      for (const m of members) this.checkMember(canonical, m.kind, this.memberName(m.kind, m.name));
      this.users.insertGroup(canonical, description);
      for (const m of members) this.users.addMember(canonical, m.kind, this.memberName(m.kind, m.name));
      return canonical;
    });
  }

  groupExists(name: string): boolean {
    return this.users.groupExists(this.groupName(name));
  }

  listGroups() {
    return this.users.listGroups();
  }

  /** Adds a user or group to a group; `createGroup` makes a missing group on the fly (CLI convenience). */
  addToGroup(groupName: string, kind: "user" | "group", memberName: string, createGroup = false): void {
    const group = this.groupName(groupName);
    const member = this.memberName(kind, memberName);
    this.users.transaction(() => {
      if (!this.users.groupExists(group)) {
        if (!createGroup) throw notFound(`group "${group}"`);
        this.createGroup(group);
      }
      this.checkMember(group, kind, member);
      this.users.addMember(group, kind, member);
    });
  }

  /** Throws unless `member` may join `group`: it exists, and a group member makes no cycle. */
  private checkMember(group: string, kind: "user" | "group", member: string): void {
    if (kind === "user" && !this.users.byName(member)) throw notFound(`user "${member}"`);
    if (kind === "group" && !this.users.groupExists(member)) throw notFound(`group "${member}"`);
    if (kind === "group" && (member === group || this.users.groupAncestors(group).includes(member))) {
      throw new ServiceError(409, "membership_cycle", `adding group "${member}" to "${group}" would make a cycle ("${group}" is already inside "${member}")`);
    }
  }

  removeFromGroup(groupName: string, kind: "user" | "group", memberName: string): boolean {
    const group = this.groupName(groupName);
    if (!this.users.groupExists(group)) throw notFound(`group "${group}"`);
    const before = this.users.members(group).length;
    this.users.removeMember(group, kind, this.memberName(kind, memberName));
    return this.users.members(group).length < before;
  }

  members(groupName: string): { kind: "user" | "group"; name: string }[] {
    const group = this.groupName(groupName);
    if (!this.users.groupExists(group)) throw notFound(`group "${group}"`);
    return this.users.members(group);
  }

  deleteGroup(groupName: string): void {
    const name = this.groupName(groupName);
    if (!this.users.groupExists(name)) throw notFound(`group "${name}"`);
    this.users.deleteGroup(name);
  }

  private checkClearance(clearance: number | undefined): void {
    const max = CLASSIFICATIONS.length - 1;
    if (clearance !== undefined && (!Number.isInteger(clearance) || clearance < 0 || clearance > max)) throw badRequest(`invalid clearance ${clearance} (0..${max})`);
  }

  updateUser(name: string, patch: { role?: string; clearance?: number; disabled?: boolean }): UserRow {
    const user = this.getUser(name);
    if (patch.role !== undefined && !this.roles().has(patch.role)) throw badRequest(`unknown role "${patch.role}"`);
    this.checkClearance(patch.clearance);
    const values = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
    if (Object.keys(values).length) this.users.update(user.id, values);
    return this.users.byId(user.id)!;
  }

  /** Deletes a user, its tokens (cascade) and its memberships. */
  deleteUser(name: string): void {
    const user = this.getUser(name);
    for (const g of this.users.directGroups(user.name)) this.users.removeMember(g, "user", user.name);
    this.users.delete(user.id);
  }

  directGroups(name: string): string[] {
    return this.users.directGroups(this.userName(name));
  }

  /** Each group of the user → the chain of groups through which the user belongs to it. */
  membershipPaths(name: string): Record<string, string[]> {
    return this.users.membershipPaths(this.userName(name));
  }

  actorFor(user: UserRow): Actor {
    return {
      id: user.id,
      name: user.name,
      role: user.role,
      groups: this.users.expandedGroups(user.name),
      clearance: user.clearance,
      capabilities: [...this.roles().capabilitiesOf(user.role)].sort(),
    };
  }

  actorByName(name: string): Actor {
    return this.actorFor(this.getUser(name));
  }

  /** Creates a token and returns the secret once; it cannot be shown again. */
  createToken(userName: string, options: { name?: string; expiresInDays?: number; expiresAt?: string } = {}): { token: string; info: TokenInfo } {
    const user = this.getUser(userName);
    const token = TOKEN_PREFIX + crypto.randomBytes(32).toString("base64url");
    const id = newId("tok");
    const expiresAt = options.expiresAt
      ? new Date(options.expiresAt).toISOString()
      : options.expiresInDays
        ? new Date(Date.now() + options.expiresInDays * 86_400_000).toISOString()
        : null;
    this.users.insertToken({ id, userId: user.id, tokenHash: sha256Hex(token), name: options.name ?? null, expiresAt });
    return { token, info: this.tokenInfo(id, user.name)! };
  }

  private tokenInfo(id: string, userName: string): TokenInfo | undefined {
    const u = this.users.byName(userName);
    const t = u && this.users.tokensOf(u.id).find((x) => x.id === id);
    if (!t) return undefined;
    return { id: t.id, user: userName, name: t.name, createdAt: t.createdAt, expiresAt: t.expiresAt, revokedAt: t.revokedAt, lastUsedAt: t.lastUsedAt };
  }

  listTokens(userName: string): TokenInfo[] {
    const user = this.getUser(userName);
    return this.users.tokensOf(user.id).map((t) => this.tokenInfo(t.id, user.name)!);
  }

  revokeToken(id: string): void {
    if (!this.users.revokeToken(id, new Date().toISOString())) throw notFound(`active token "${id}"`);
  }

  /** A token by id (never the secret), with its user's name. */
  token(id: string): TokenInfo | undefined {
    const t = this.users.tokenById(id);
    const u = t && this.users.byId(t.userId);
    return t && u ? this.tokenInfo(t.id, u.name) : undefined;
  }

  listAllTokens(): TokenInfo[] {
    const names = new Map(this.users.list().map((u) => [u.id, u.name]));
    return this.users.allTokens().map((t) => ({ id: t.id, user: names.get(t.userId) ?? "?", name: t.name, createdAt: t.createdAt, expiresAt: t.expiresAt, revokedAt: t.revokedAt, lastUsedAt: t.lastUsedAt }));
  }

  /** Sets (or clears, with null) a token's expiry; a time in the past expires it at once. */
  expireToken(id: string, at: string | null = new Date().toISOString()): TokenInfo {
    if (at !== null && Number.isNaN(Date.parse(at))) throw badRequest(`invalid time "${at}"`);
    if (!this.users.setTokenExpiry(id, at === null ? null : new Date(at).toISOString())) throw notFound(`token "${id}"`);
    return this.token(id)!;
  }

  /**
   * Resolves a presented bearer token. The lookup is by SHA-256 (an index hit reveals
   * nothing usable about other tokens), and the stored hash is compared in constant time.
   */
  authenticate(token: string): { actor: Actor; tokenId: string } | null {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) return null;
    const hash = sha256Hex(token);
    const row = this.users.tokenByHash(hash);
    if (!row) return null;
    if (!crypto.timingSafeEqual(Buffer.from(row.tokenHash, "hex"), Buffer.from(hash, "hex"))) return null;
    if (row.revokedAt) return null;
    if (row.expiresAt && row.expiresAt <= new Date().toISOString()) return null;
    const user = this.users.byId(row.userId);
    if (!user || user.disabled) return null;
    const now = Date.now();
    if (this.users.touchTokenIfStale(row.id, new Date(now).toISOString(), new Date(now - TOKEN_USE_RECORD_MS).toISOString())) {
      this.options.audit?.record(`user:${user.name}`, "token.use", row.id, { name: row.name });
    }
    return { actor: this.actorFor(user), tokenId: row.id };
  }
}
