/**
 * Users, groups and API tokens, and turning a bearer token into an Actor.
 * Tokens are random 256-bit secrets; only their SHA-256 is stored.
 */
import crypto from "node:crypto";
import { BUILTIN_ROLE_CATALOG, canonicalName, checkNewName, nameSkeleton, normalizeScopes, PrincipalNameError, scopedCapabilities, type Actor, type RoleCatalog } from "../../policies/index.ts";
import { CLASSIFICATIONS, DEFAULT_CLEARANCE } from "../../policies/classification.ts";
import { newId, sha256Hex } from "../stores/ids.ts";
import type { AuditLog } from "./audit.ts";
import { TOPICS, type ChangeFeed } from "../stores/change-feed.ts";
import { MANUAL_ORIGIN, type GroupRow, type MetadataStore, type TokenRow, type UserRow, type UsersStore } from "../stores/metadata.ts";
import { ServiceError, badRequest, notFound } from "./errors.ts";

export const TOKEN_PREFIX = "kb_";

/** A token as shown: its row with the user's name instead of the user's id, and never its hash. */
export type TokenInfo = Omit<TokenRow, "userId" | "tokenHash"> & { user: string };

/** The most requests per minute a token's own limit may be set to. */
export const MAX_TOKEN_RATE_PER_MINUTE = 100_000;

/** What `createToken` accepts. */
export interface NewTokenOptions {
  name?: string;
  expiresInDays?: number;
  expiresAt?: string;
  /** Scope names; omitted: everything the user's role allows. An empty list is refused (a token for nothing). */
  scopes?: string[];
  /** The token's own requests per minute, instead of the server's; 0: unlimited. */
  rateLimitPerMinute?: number;
}

const infoOf = ({ id, userId: _userId, tokenHash: _hash, ...shown }: TokenRow, user: string): TokenInfo => ({ id, user, ...shown });

/** A token's use is recorded (lastUsedAt and a `token.use` audit event) at most once per this interval. */
export const TOKEN_USE_RECORD_MS = 60_000;

export interface AccountsOptions {
  /** Built-in and custom roles (policy files); default: built-in only. */
  roles?: () => RoleCatalog;
  /** Where `token.use` events go. */
  audit?: AuditLog;
  /**
   * Announcements of account changes (`accounts`: a revoked token, a disabled user, a role or
   * membership change, from any process). With `keepAuthentications`, authenticated tokens are
   * kept in memory, each with the `accounts` version it was read at: a request reads that one
   * version (not the token, user, groups and use stamp) and a kept entry whose version moved is
   * read again; an announcement drops them all early.
   */
  changes?: ChangeFeed;
  /** Keep authentications (PostgreSQL mode, where each row read is a round trip); default false. */
  keepAuthentications?: boolean;
}

/** How long a kept authentication is used at most, announcements or not (a lost one is bounded by it). */
export const AUTH_CACHE_MAX_AGE_MS = 60_000;
/** Tokens kept at once; beyond it the oldest is dropped. */
const AUTH_CACHE_MAX = 10_000;

type Authenticated = { actor: Actor; tokenId: string; rateLimitPerMinute: number | null };
interface KeptAuthentication {
  result: Authenticated;
  /** The `accounts` version read before the rows. */
  version: number;
  expiresAt: string | null;
  roles: RoleCatalog;
  keptAt: number;
  /** When this process last recorded the token's use (lastUsedAt, `token.use`). */
  usedRecordedAt: number;
  user: string;
  name: string | null;
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

const namesUserOrGroup = (p: string) => p.startsWith("user:") || p.startsWith("group:");

/**
 * `Accounts.refuseLookAlikePrincipals` over a given list of the stored users and groups.
 * Exported for the composition root's synchronous check of still-synchronous job submissions.
 */
export function refuseLookAlikePrincipalsAmong(principals: readonly string[], existing: readonly { kind: string; name: string }[]): void {
  const named = principals
    .map((p) => ({ text: p, kind: p.slice(0, p.indexOf(":")), name: p.slice(p.indexOf(":") + 1) }))
    .filter((p) => p.kind === "user" || p.kind === "group");
  if (named.length === 0) return;
  const exists = new Set(existing.map((e) => `${e.kind}:${e.name}`));
  for (const p of named) {
    if (exists.has(p.text)) continue;
    const sk = nameSkeleton(p.name);
    const twin = existing.find((e) => canonicalName(e.name) !== p.name && nameSkeleton(e.name) === sk);
    if (twin) throw badRequest(`"${p.text}" names no ${p.kind} but looks like the existing ${twin.kind} "${twin.name}"`, "confusable_name");
  }
}

export class Accounts {
  /** Authenticated tokens by hash (see AccountsOptions.changes). */
  private readonly kept = new Map<string, KeptAuthentication>();
  /** Moves at every announcement: a lookup that began before one does not keep its result. */
  private keptGeneration = 0;

  constructor(
    /** Users, groups and tokens (`users`); several changes commit as one through `withTransaction`. */
    private readonly store: MetadataStore,
    private readonly options: AccountsOptions = {},
  ) {
    options.changes?.subscribe(TOPICS.accounts, () => this.forgetAuthentications());
  }

  /** Drops every kept authentication (an announcement, a resync). */
  forgetAuthentications(): void {
    this.keptGeneration++;
    this.kept.clear();
  }

  /** Whether authentications are kept (see AccountsOptions.changes). */
  private get keeping(): boolean {
    return this.options.keepAuthentications === true;
  }

  private get users(): UsersStore {
    return this.store.users;
  }

  roles(): RoleCatalog {
    return this.options.roles?.() ?? BUILTIN_ROLE_CATALOG;
  }

  /** `kind: "service"`: an integration's account, which only uses API tokens (it can never sign in). */
  async createUser(input: { name: string; role?: string; groups?: string[]; clearance?: number; kind?: "person" | "service" }): Promise<UserRow> {
    const role = input.role ?? "viewer";
    const name = newName("user", input.name);
    if (!this.roles().has(role)) throw badRequest(`unknown role "${role}" (known: ${this.roles().list().map((r) => r.name).join(", ")})`);
    this.checkClearance(input.clearance);
    const groups = (input.groups ?? []).map((g) => canonicalName(g)); // a missing one is created (and checked) by addToGroup
    return this.store.withTransaction(async (tx) => {
      if (await tx.users.byName(name)) throw new ServiceError(409, "conflict", `user "${name}" already exists`);
      await this.refuseLookAlike(tx.users, "user", name);
      const id = newId("usr");
      await tx.users.insert({ id, name, role, clearance: input.clearance ?? DEFAULT_CLEARANCE, kind: input.kind ?? "person" });
      for (const g of groups) await this.addToGroupIn(tx.users, g, "user", name, true);
      return (await tx.users.byId(id))!;
    });
  }

  /** Every stored user and group, users first. */
  private async principals(u: UsersStore): Promise<{ kind: "user" | "group"; name: string }[]> {
    return [...(await u.list()).map((x) => ({ kind: "user" as const, name: x.name })), ...(await u.listGroups()).map((g) => ({ kind: "group" as const, name: g.name }))];
  }

  /**
   * Refuses a new name that looks like an existing user or group (same UTS #39 skeleton) without
   * being it: `раураl` (Cyrillic) beside `paypal`, `rnike` beside `mike`.
   */
  private async refuseLookAlike(u: UsersStore, kind: "user" | "group", name: string): Promise<void> {
    const sk = nameSkeleton(name);
    const existing = await this.principals(u);
    // The same name of the other kind (user:hr beside group:hr) is not a look-alike: it is the same name.
    const twin = existing.find((p) => canonicalName(p.name) !== name && nameSkeleton(p.name) === sk);
    if (twin) throw badRequest(`${kind} name "${name}" looks like the existing ${twin.kind} "${twin.name}"; choose a name that cannot be mistaken for it`, "confusable_name");
  }

  /**
   * Refuses ACL entries naming a user or group that does not exist but looks like one that does
   * (`user:сосо` beside the user `coco`): such an entry grants or denies nobody, silently.
   */
  async refuseLookAlikePrincipals(principals: readonly string[]): Promise<void> {
    if (!principals.some(namesUserOrGroup)) return;
    refuseLookAlikePrincipalsAmong(principals, await this.principals(this.users));
  }

  /**
   * The stored name `name` refers to: its canonical form (any spelling finds it: NFC/NFD, case,
   * width), unless a user has exactly this name, i.e. a name stored before canonicalization and
   * left as it was because it collides (see principal-migration.ts): so it can still be found,
   * to be resolved, without ever being merged with the canonical one.
   */
  async userName(name: string, u: UsersStore = this.users): Promise<string> {
    return (await u.byName(name)) ? name : canonicalName(name);
  }

  /** As `userName`, for groups. */
  async groupName(name: string, u: UsersStore = this.users): Promise<string> {
    return (await u.groupExists(name)) ? name : canonicalName(name);
  }

  private memberName(u: UsersStore, kind: "user" | "group", name: string): Promise<string> {
    return kind === "user" ? this.userName(name, u) : this.groupName(name, u);
  }

  /** A user by id (sessions name their user by id), or undefined. */
  userById(id: string): Promise<UserRow | undefined> {
    return this.users.byId(id);
  }

  async getUser(name: string): Promise<UserRow> {
    const u = await this.users.byName(await this.userName(name));
    if (!u) throw notFound(`user "${name}"`);
    return u;
  }

  /**
   * Stored names that are not unambiguous: a name whose canonical form is shared with another
   * stored name (written before names were canonicalized), and principals that look alike.
   */
  async nameConflicts(): Promise<NameConflicts> {
    const stored = await this.principals(this.users);
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

  async listUsers(): Promise<(UserRow & { groups: string[] })[]> {
    const out: (UserRow & { groups: string[] })[] = [];
    for (const u of await this.users.list()) out.push({ ...u, groups: await this.users.directGroups(u.name) });
    return out;
  }

  /**
   * Creates a group with its members in one transaction: every member is checked first, and an
   * unknown member or a cycle leaves nothing behind. An existing group gets the members added
   * (the CLI's `groups add` is repeatable). Returns the group's canonical name.
   */
  async createGroup(name: string, description?: string, members: { kind: "user" | "group"; name: string }[] = []): Promise<string> {
    const canonical = newName("group", name);
    return this.store.withTransaction((tx) => this.createGroupIn(tx.users, canonical, description, members));
  }

  private async createGroupIn(u: UsersStore, canonical: string, description?: string, members: { kind: "user" | "group"; name: string }[] = []): Promise<string> {
    if (!(await u.groupExists(canonical))) await this.refuseLookAlike(u, "group", canonical);
    for (const m of members) await this.checkMember(u, canonical, m.kind, await this.memberName(u, m.kind, m.name));
    await u.insertGroup(canonical, description);
    for (const m of members) await u.addMember(canonical, m.kind, await this.memberName(u, m.kind, m.name));
    return canonical;
  }

  async groupExists(name: string): Promise<boolean> {
    return this.users.groupExists(await this.groupName(name));
  }

  /** Every group with its source (`local` or the directory that manages it) and display name. */
  listGroups(): Promise<GroupRow[]> {
    return this.users.listGroups();
  }

  /** A group with its source and display name, or undefined. */
  async group(name: string): Promise<GroupRow | undefined> {
    return this.users.group(await this.groupName(name));
  }

  /**
   * A group's direct membership rows with who wrote each: `manual` (an admin) or the directory
   * source whose sync replaces it. A membership written by both appears once per origin.
   */
  async memberRows(groupName: string): Promise<{ kind: "user" | "group"; name: string; origin: string }[]> {
    const group = await this.groupName(groupName);
    if (!(await this.users.groupExists(group))) throw notFound(`group "${group}"`);
    return this.users.memberRows(group);
  }

  /** Adds a user or group to a group; `createGroup` makes a missing group on the fly (CLI convenience). */
  async addToGroup(groupName: string, kind: "user" | "group", memberName: string, createGroup = false): Promise<void> {
    await this.store.withTransaction((tx) => this.addToGroupIn(tx.users, groupName, kind, memberName, createGroup));
  }

  private async addToGroupIn(u: UsersStore, groupName: string, kind: "user" | "group", memberName: string, createGroup: boolean): Promise<void> {
    const group = await this.groupName(groupName, u);
    const member = await this.memberName(u, kind, memberName);
    if (!(await u.groupExists(group))) {
      if (!createGroup) throw notFound(`group "${group}"`);
      await this.createGroupIn(u, newName("group", group));
    }
    await this.checkMember(u, group, kind, member);
    await u.addMember(group, kind, member);
  }

  /** Throws unless `member` may join `group`: it exists, and a group member makes no cycle. */
  private async checkMember(u: UsersStore, group: string, kind: "user" | "group", member: string): Promise<void> {
    if (kind === "user" && !(await u.byName(member))) throw notFound(`user "${member}"`);
    if (kind === "group" && !(await u.groupExists(member))) throw notFound(`group "${member}"`);
    if (kind === "group" && (member === group || (await u.groupAncestors(group)).includes(member))) {
      throw new ServiceError(409, "membership_cycle", `adding group "${member}" to "${group}" would make a cycle ("${group}" is already inside "${member}")`);
    }
  }

  /**
   * Removes an admin's (manual) membership row. A membership a directory source wrote is that
   * source's to change: removing it here would last only until its next sync, so it is refused
   * (409 `directory_membership`) unless a manual row is what is removed. Returns false when the
   * member is not in the group at all.
   */
  async removeFromGroup(groupName: string, kind: "user" | "group", memberName: string): Promise<boolean> {
    const group = await this.groupName(groupName);
    const member = await this.memberName(this.users, kind, memberName);
    return this.store.withTransaction(async (tx) => {
      if (!(await tx.users.groupExists(group))) throw notFound(`group "${group}"`);
      const origins = (await tx.users.memberRows(group)).filter((r) => r.kind === kind && r.name === member).map((r) => r.origin);
      if (origins.length === 0) return false;
      if (!origins.includes(MANUAL_ORIGIN)) {
        throw new ServiceError(
          409,
          "directory_membership",
          `${kind}:${member} is in group "${group}" through ${origins.join(", ")}: change it in the directory (it would come back at the next sync)`,
        );
      }
      await tx.users.removeMember(group, kind, member, MANUAL_ORIGIN);
      return true;
    });
  }

  async members(groupName: string): Promise<{ kind: "user" | "group"; name: string }[]> {
    const group = await this.groupName(groupName);
    if (!(await this.users.groupExists(group))) throw notFound(`group "${group}"`);
    return this.users.members(group);
  }

  async deleteGroup(groupName: string): Promise<void> {
    const name = await this.groupName(groupName);
    if (!(await this.users.groupExists(name))) throw notFound(`group "${name}"`);
    await this.users.deleteGroup(name);
  }

  private checkClearance(clearance: number | undefined): void {
    const max = CLASSIFICATIONS.length - 1;
    if (clearance !== undefined && (!Number.isInteger(clearance) || clearance < 0 || clearance > max)) throw badRequest(`invalid clearance ${clearance} (0..${max})`);
  }

  async updateUser(name: string, patch: { role?: string; clearance?: number; disabled?: boolean }): Promise<UserRow> {
    const user = await this.getUser(name);
    if (patch.role !== undefined && !this.roles().has(patch.role)) throw badRequest(`unknown role "${patch.role}"`);
    this.checkClearance(patch.clearance);
    const values = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
    if (Object.keys(values).length) await this.users.update(user.id, values);
    return (await this.users.byId(user.id))!;
  }

  /** Deletes a user, its tokens (cascade) and its memberships. */
  async deleteUser(name: string): Promise<void> {
    const user = await this.getUser(name);
    for (const g of await this.users.directGroups(user.name)) await this.users.removeMember(g, "user", user.name);
    await this.users.delete(user.id);
  }

  async directGroups(name: string): Promise<string[]> {
    return this.users.directGroups(await this.userName(name));
  }

  /** Each group of the user → the chain of groups through which the user belongs to it. */
  async membershipPaths(name: string): Promise<Record<string, string[]>> {
    return this.users.membershipPaths(await this.userName(name));
  }

  async actorFor(user: UserRow): Promise<Actor> {
    return {
      id: user.id,
      name: user.name,
      role: user.role,
      groups: await this.users.expandedGroups(user.name),
      clearance: user.clearance,
      capabilities: [...this.roles().capabilitiesOf(user.role)].sort(),
    };
  }

  async actorByName(name: string): Promise<Actor> {
    return this.actorFor(await this.getUser(name));
  }

  /** Creates a token and returns the secret once; it cannot be shown again. */
  async createToken(userName: string, options: NewTokenOptions = {}): Promise<{ token: string; info: TokenInfo }> {
    const user = await this.getUser(userName);
    let scopes: string[] | null = null;
    if (options.scopes !== undefined) {
      if (options.scopes.length === 0) throw badRequest("a token needs at least one scope (omit scopes for everything the user's role allows)", "invalid_scope");
      try {
        scopes = normalizeScopes(options.scopes);
      } catch (err) {
        throw badRequest((err as Error).message, "invalid_scope");
      }
    }
    const rate = options.rateLimitPerMinute;
    if (rate !== undefined && (!Number.isInteger(rate) || rate < 0 || rate > MAX_TOKEN_RATE_PER_MINUTE)) throw badRequest(`invalid rate limit ${rate} (0..${MAX_TOKEN_RATE_PER_MINUTE} requests per minute; 0: unlimited)`);
    const token = TOKEN_PREFIX + crypto.randomBytes(32).toString("base64url");
    const id = newId("tok");
    const expiresAt = options.expiresAt
      ? new Date(options.expiresAt).toISOString()
      : options.expiresInDays
        ? new Date(Date.now() + options.expiresInDays * 86_400_000).toISOString()
        : null;
    await this.users.insertToken({ id, userId: user.id, tokenHash: sha256Hex(token), name: options.name ?? null, expiresAt, scopes, rateLimitPerMinute: rate ?? null });
    return { token, info: (await this.tokenInfo(id, user.name))! };
  }

  private async tokenInfo(id: string, userName: string): Promise<TokenInfo | undefined> {
    const u = await this.users.byName(userName);
    const t = u && (await this.users.tokensOf(u.id)).find((x) => x.id === id);
    return t ? infoOf(t, userName) : undefined;
  }

  async listTokens(userName: string): Promise<TokenInfo[]> {
    const user = await this.getUser(userName);
    return (await this.users.tokensOf(user.id)).map((t) => infoOf(t, user.name));
  }

  async revokeToken(id: string): Promise<void> {
    if (!(await this.users.revokeToken(id, new Date().toISOString()))) throw notFound(`active token "${id}"`);
  }

  /** A token by id (never the secret), with its user's name. */
  async token(id: string): Promise<TokenInfo | undefined> {
    const t = await this.users.tokenById(id);
    const u = t && (await this.users.byId(t.userId));
    return t && u ? this.tokenInfo(t.id, u.name) : undefined;
  }

  async listAllTokens(): Promise<TokenInfo[]> {
    const names = new Map((await this.users.list()).map((u) => [u.id, u.name]));
    return (await this.users.allTokens()).map((t) => infoOf(t, names.get(t.userId) ?? "?"));
  }

  /** Sets (or clears, with null) a token's expiry; a time in the past expires it at once. */
  async expireToken(id: string, at: string | null = new Date().toISOString()): Promise<TokenInfo> {
    if (at !== null && Number.isNaN(Date.parse(at))) throw badRequest(`invalid time "${at}"`);
    if (!(await this.users.setTokenExpiry(id, at === null ? null : new Date(at).toISOString()))) throw notFound(`token "${id}"`);
    return (await this.token(id))!;
  }

  /**
   * Resolves a presented bearer token. The lookup is by SHA-256 (an index hit reveals
   * nothing usable about other tokens), and the stored hash is compared in constant time.
   * A revoked or expired token, or a disabled user, is refused at once: on SQLite every request
   * reads the rows; on PostgreSQL an authentication is kept (at most AUTH_CACHE_MAX_AGE_MS) with
   * the `accounts` version it was read at, and each request reads that version: every write
   * that can end or narrow a token's authentication bumps it (announceWrites, in the write's
   * transaction or right after it, before the writer answers), so a revocation through any
   * replica is refused by every replica's next request; the announcement only frees memory early.
   * A scoped token's actor has the role's capabilities narrowed to its scopes and carries the
   * scopes, which every policy check then requires (policies/scopes.ts): the one place where a
   * token's scopes apply, so every service sees the narrowed actor.
   */
  async authenticate(token: string): Promise<Authenticated | null> {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 200) return null;
    const hash = sha256Hex(token);
    const now = Date.now();
    const keeping = this.keeping;
    const version = keeping ? await this.store.changes.version(TOPICS.accounts) : 0;
    if (keeping) {
      const k = this.kept.get(hash);
      if (k && k.version === version && now - k.keptAt < AUTH_CACHE_MAX_AGE_MS && k.roles === this.roles() && !(k.expiresAt && k.expiresAt <= new Date(now).toISOString())) {
        if (now - k.usedRecordedAt >= TOKEN_USE_RECORD_MS) {
          k.usedRecordedAt = now;
          await this.recordUse(k.result.tokenId, k.user, k.name, now);
        }
        return k.result;
      }
      if (k) this.kept.delete(hash);
    }
    const generation = this.keptGeneration;
    const roles = this.roles();
    const row = await this.users.tokenByHash(hash);
    if (!row) return null;
    if (!crypto.timingSafeEqual(Buffer.from(row.tokenHash, "hex"), Buffer.from(hash, "hex"))) return null;
    if (row.revokedAt) return null;
    if (row.expiresAt && row.expiresAt <= new Date().toISOString()) return null;
    const user = await this.users.byId(row.userId);
    if (!user || user.disabled) return null;
    await this.recordUse(row.id, user.name, row.name, now);
    const actor = await this.actorFor(user);
    const result: Authenticated =
      row.scopes === null
        ? { actor: { ...actor, tokenId: row.id }, tokenId: row.id, rateLimitPerMinute: row.rateLimitPerMinute }
        : { actor: { ...actor, capabilities: scopedCapabilities(actor.capabilities ?? [], row.scopes), scopes: [...row.scopes], tokenId: row.id }, tokenId: row.id, rateLimitPerMinute: row.rateLimitPerMinute };
    // Kept only if no announcement came while the rows were read (it may concern them).
    if (keeping && generation === this.keptGeneration) {
      this.kept.set(hash, { result, version, expiresAt: row.expiresAt, roles, keptAt: now, usedRecordedAt: now, user: user.name, name: row.name });
      while (this.kept.size > AUTH_CACHE_MAX) this.kept.delete(this.kept.keys().next().value!);
    }
    return result;
  }

  /** Records a token's use (lastUsedAt, a `token.use` event) when its stored stamp is older than TOKEN_USE_RECORD_MS. */
  private async recordUse(tokenId: string, user: string, name: string | null, now: number): Promise<void> {
    if (await this.users.touchTokenIfStale(tokenId, new Date(now).toISOString(), new Date(now - TOKEN_USE_RECORD_MS).toISOString())) {
      await this.options.audit?.record(`user:${user}`, "token.use", tokenId, { name });
    }
  }
}
