/**
 * Users, groups and API tokens, and turning a bearer token into an Actor.
 * Tokens are random 256-bit secrets; only their SHA-256 is stored.
 */
import crypto from "node:crypto";
import { isRole, isValidName, type Actor } from "../../policies/index.ts";
import { DEFAULT_CLEARANCE } from "../../policies/classification.ts";
import { newId, sha256Hex } from "../stores/ids.ts";
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

export class Accounts {
  constructor(private readonly users: UsersRepo) {}

  createUser(input: { name: string; role?: string; groups?: string[]; clearance?: number }): UserRow {
    const role = input.role ?? "viewer";
    if (!isValidName(input.name)) throw badRequest(`invalid user name "${input.name}" (letters, digits, . _ @ -; at most 64)`);
    if (!isRole(role)) throw badRequest(`unknown role "${role}"`);
    if (this.users.byName(input.name)) throw new ServiceError(409, "conflict", `user "${input.name}" already exists`);
    const id = newId("usr");
    this.users.insert({ id, name: input.name, role, clearance: input.clearance ?? DEFAULT_CLEARANCE });
    for (const g of input.groups ?? []) this.addToGroup(g, "user", input.name, true);
    return this.users.byId(id)!;
  }

  getUser(name: string): UserRow {
    const u = this.users.byName(name);
    if (!u) throw notFound(`user "${name}"`);
    return u;
  }

  listUsers(): (UserRow & { groups: string[] })[] {
    return this.users.list().map((u) => ({ ...u, groups: this.users.directGroups(u.name) }));
  }

  createGroup(name: string, description?: string): void {
    if (!isValidName(name)) throw badRequest(`invalid group name "${name}"`);
    this.users.insertGroup(name, description);
  }

  listGroups() {
    return this.users.listGroups();
  }

  /** Adds a user or group to a group; `createGroup` makes a missing group on the fly (CLI convenience). */
  addToGroup(group: string, kind: "user" | "group", member: string, createGroup = false): void {
    if (!this.users.groupExists(group)) {
      if (!createGroup) throw notFound(`group "${group}"`);
      this.createGroup(group);
    }
    if (kind === "user" && !this.users.byName(member)) throw notFound(`user "${member}"`);
    if (kind === "group" && !this.users.groupExists(member)) throw notFound(`group "${member}"`);
    this.users.addMember(group, kind, member);
  }

  actorFor(user: UserRow): Actor {
    return { id: user.id, name: user.name, role: user.role, groups: this.users.expandedGroups(user.name), clearance: user.clearance };
  }

  actorByName(name: string): Actor {
    return this.actorFor(this.getUser(name));
  }

  /** Creates a token and returns the secret once; it cannot be shown again. */
  createToken(userName: string, options: { name?: string; expiresInDays?: number } = {}): { token: string; info: TokenInfo } {
    const user = this.getUser(userName);
    const token = TOKEN_PREFIX + crypto.randomBytes(32).toString("base64url");
    const id = newId("tok");
    const expiresAt = options.expiresInDays ? new Date(Date.now() + options.expiresInDays * 86_400_000).toISOString() : null;
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
    this.users.touchToken(row.id, new Date().toISOString());
    return { actor: this.actorFor(user), tokenId: row.id };
  }
}
