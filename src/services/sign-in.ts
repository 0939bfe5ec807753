/**
 * Sign-in for the web app: local passwords (argon2id) and cookie sessions.
 *
 * - Passwords are hashed with argon2id at OWASP's parameters (19 MiB, 2 passes, 1 lane) and
 *   stored encoded (algorithm, parameters and salt inside), in their own table.
 * - A session token is 256 random bits; only its SHA-256 is stored. A session ends at its
 *   absolute expiry (sign-in + KB_SESSION_MAX_HOURS), after KB_SESSION_IDLE_MINUTES without a
 *   request, or when revoked (sign-out, password change or reset, a disabled or deleted user,
 *   an admin). Activity is recorded at most once a minute, so idle expiry is minute-precise.
 * - The CSRF token of a session is derived from its token (SHA-256 with another prefix): only
 *   a holder of the cookie can compute it, and nothing more is stored.
 * - Failed passwords: every attempt goes to the per-address failure log (auth-failures.ts); an
 *   account with a password is locked for KB_LOGIN_LOCK_MINUTES after KB_LOGIN_LOCK_AFTER
 *   failures in a row. Unknown names, accounts without a password, disabled and locked accounts
 *   and wrong passwords all get the same 401 `invalid_credentials` after one argon2 verification
 *   (a dummy hash when there is nothing to verify against), so neither the answer nor its time
 *   says which it was. A locked account does not even accept its right password until the lock
 *   ends; an admin's password reset ends it at once.
 */
import crypto from "node:crypto";
import { hash, verify, type Options as Argon2Options } from "@node-rs/argon2";
import { authorize, Users, type Actor } from "../../policies/index.ts";
import type { MetadataStore, SessionRow, UserRow } from "../stores/metadata.ts";
import { newId, sha256Hex } from "../stores/ids.ts";
import type { Accounts } from "./accounts.ts";
import type { AuditLog } from "./audit.ts";
import type { AuthFailureLog } from "./auth-failures.ts";
import { badRequest, notFound, ServiceError } from "./errors.ts";

/** OWASP Password Storage Cheat Sheet, argon2id: m=19456 KiB, t=2, p=1. */
// `algorithm: 2` is Algorithm.Argon2id (a const enum, which this build's module settings cannot import).
export const ARGON2_OPTIONS: Argon2Options = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 };
export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 256;
export const SESSION_TOKEN_PREFIX = "kbs_";
/** A session's last activity is written at most this often. */
export const SESSION_TOUCH_MS = 60_000;

export interface SignInOptions {
  idleMs: number;
  maxMs: number;
  /** Failures in a row that lock an account (0: never). */
  lockAfter: number;
  lockMs: number;
  /** The clock (tests move it). */
  now?: () => number;
}

export interface SessionView {
  id: string;
  createdAt: string;
  lastSeenAt: string;
  /** When it ends unless used again: the idle deadline or the absolute expiry, whichever is first. */
  expiresAt: string;
  absoluteExpiresAt: string;
  client: string | null;
  userAgent: string | null;
  /** How the user signed in: "password" or "oidc" (then `provider` is the provider's id). */
  method: string;
  provider: string | null;
}

/** A sign-in method besides passwords: a button on the sign-in page. */
export interface SignInProvider {
  id: string;
  /** The label in English (the fallback). */
  name: string;
  /** The label per language, when the configuration gives them. */
  labels: { en: string; ko?: string };
  /** Where the button goes (starts the sign-in). */
  url: string;
}

/** Single sign-on as SignInService sees it (OidcSignInService, wired by the container). */
export interface SingleSignOn {
  providers(): SignInProvider[];
  /** Where the browser goes after our sign-out to end the provider's session too (RP-initiated logout), or null. */
  endSessionUrl(row: SessionRow, appOrigin: string): Promise<string | null>;
}

/** A request authenticated by its session cookie. */
export interface SessionAuth {
  actor: Actor;
  session: SessionView;
  csrfToken: string;
}

export interface SignedIn extends SessionAuth {
  /** The cookie value: shown once, never stored. */
  token: string;
}

/** What the web app needs to know about whoever is signed in (GET /auth/session). */
export interface WhoAmI {
  user: { name: string; displayName?: string };
  role: string;
  capabilities: string[];
  /** How the request was authenticated. */
  via: "session" | "token";
  /** Send it as X-CSRF-Token with every cookie-authenticated write; absent for bearer tokens. */
  csrfToken?: string;
  expiresAt?: string;
  /** How this session was signed in (absent for bearer tokens). */
  signedInWith?: { method: string; provider: string | null };
}

/**
 * Directories users sign in against with their directory password (services/ldap): asked when
 * a name is not a local user with a password.
 */
export interface DirectorySignIn {
  configured(): boolean;
  /** The directory account of a login name, or null; throws when a directory cannot be searched. */
  account(login: string): Promise<{
    source: string;
    /** What failures and lock-outs are counted under. */
    key: string;
    checkPassword(password: string): Promise<boolean>;
    /** Creates or updates the user and their groups from the directory; the user's name. */
    admit(): Promise<string>;
    close(): Promise<void>;
  } | null>;
}

/** A directory account's failures in a row and lock (the settings store; local accounts keep theirs with the password). */
interface DirectoryLock {
  failedCount: number;
  lockedUntil: string | null;
}

export const INVALID_CREDENTIALS_MESSAGE = "wrong name or password (an account is also locked for a while after repeated failures)";

const invalidCredentials = () => new ServiceError(401, "invalid_credentials", INVALID_CREDENTIALS_MESSAGE);

const iso = (ms: number) => new Date(ms).toISOString();

/** Passwords are compared in one Unicode form, so the same typed characters always match. */
const normalize = (password: string) => password.normalize("NFKC");

/** Throws a 400 naming the rule a new password breaks. */
export function checkNewPassword(password: string): string {
  const p = normalize(password);
  const length = [...p].length;
  if (length < PASSWORD_MIN_LENGTH) throw badRequest(`the password must be at least ${PASSWORD_MIN_LENGTH} characters long (it has ${length})`, "password_too_short");
  if (length > PASSWORD_MAX_LENGTH) throw badRequest(`the password must be at most ${PASSWORD_MAX_LENGTH} characters long`, "password_too_long");
  return p;
}

/** A random password of 20 characters (120 bits): letters, digits, `-` and `_`. */
export function generatePassword(): string {
  return crypto.randomBytes(15).toString("base64url");
}

/** How a password sign-in is described in its audit events (single sign-on names its own method and provider). */
const PASSWORD_METHOD = { method: "password", provider: "local" } as const;

export function hashPassword(password: string): Promise<string> {
  return hash(normalize(password), ARGON2_OPTIONS);
}

export function csrfTokenOf(sessionToken: string): string {
  return crypto.createHash("sha256").update(`csrf:${sessionToken}`).digest("base64url");
}

/** Constant-time equality of two strings (false for different lengths). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

export class SignInService {
  private readonly now: () => number;
  private dummy: Promise<string> | null = null;
  private lastPurge = 0;
  private sso: SingleSignOn | null = null;
  private directories: DirectorySignIn | null = null;

  constructor(
    private readonly store: Pick<MetadataStore, "credentials" | "sessions" | "settings" | "withTransaction">,
    private readonly accounts: Accounts,
    private readonly audit: AuditLog,
    private readonly failures: AuthFailureLog | null,
    private readonly options: SignInOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Wires LDAP / Active Directory sign-in in (services/ldap; the container). */
  useDirectories(directories: DirectorySignIn): void {
    this.directories = directories;
  }

  /** Wires single sign-on in (the container, once both services exist). */
  useSingleSignOn(sso: SingleSignOn): void {
    this.sso = sso;
  }

  /** A hash to verify against when there is no account or password, so the time is the same. */
  private dummyHash(): Promise<string> {
    this.dummy ??= hash(generatePassword(), ARGON2_OPTIONS);
    return this.dummy;
  }

  private async verifyAgainst(encoded: string | undefined, password: string): Promise<boolean> {
    try {
      return await verify(encoded ?? (await this.dummyHash()), normalize(password));
    } catch {
      return false; // a malformed stored hash never signs anyone in
    }
  }

  private async userOf(name: string) {
    try {
      return await this.accounts.getUser(name);
    } catch {
      return undefined; // unknown (or not a valid name at all)
    }
  }

  /**
   * Checks a name and password and opens a session. Every failure is the same 401; `client`
   * (the client address) is where the per-address failure log charges it.
   */
  async login(input: { name: string; password: string; client: string; userAgent?: string; target?: string }): Promise<SignedIn> {
    const now = this.now();
    await this.purgeEndedSessions(now);
    const user = await this.userOf(input.name);
    const credential = user ? await this.store.credentials.get(user.id) : undefined;
    const locked = credential?.lockedUntil != null && Date.parse(credential.lockedUntil) > now;
    // Always one verification, whatever the account's state: the time does not tell them apart.
    const passwordOk = await this.verifyAgainst(credential?.passwordHash, input.password);
    const fail = async (reason: string): Promise<never> => {
      await this.failures?.record(input.client, input.target ?? "POST /api/v1/auth/login", reason);
      throw invalidCredentials();
    };
    // No local password: a configured directory may know the name (never for a service account).
    if ((!user || !credential) && user?.kind !== "service" && this.directories?.configured()) return this.directoryLogin(input, fail);
    // A failure for an existing account is an `auth.login.failed` event on it, saying why (the
    // answer does not). An unknown name is only in the per-address failure log: the typed name
    // may be anything (a password typed into the wrong field), so it is not written down.
    const recordFailed = (reason: string, details: Record<string, unknown> = {}) =>
      this.audit.record(null, "auth.login.failed", `user:${user!.name}`, { client: input.client, ...PASSWORD_METHOD, reason, ...details }, "denied");
    const failFor = async (reason: string): Promise<never> => {
      await recordFailed(reason);
      return fail(reason);
    };
    if (!user) return fail("unknown user");
    // A service account uses API tokens only (set_password refuses it; this covers a password stored any other way).
    if (user.kind === "service") return failFor("service account");
    if (!credential) return failFor("no password set");
    if (user.disabled) return failFor("disabled user");
    if (locked) return failFor("account locked");
    if (!passwordOk) {
      const lockAfter = this.options.lockAfter > 0 ? this.options.lockAfter : Number.POSITIVE_INFINITY;
      const after = await this.store.credentials.recordFailure(user.id, lockAfter, iso(now + this.options.lockMs));
      const nowLocked = after?.lockedUntil != null && Date.parse(after.lockedUntil) > now;
      await recordFailed("wrong password", { failures: nowLocked ? this.options.lockAfter : after?.failedCount });
      if (nowLocked) await this.audit.record(null, "auth.lockout", `user:${user.name}`, { client: input.client, ...PASSWORD_METHOD, until: after!.lockedUntil, failures: this.options.lockAfter }, "denied");
      return fail("wrong password");
    }
    if (credential.failedCount > 0 || credential.lockedUntil) await this.store.credentials.clearFailures(user.id);
    return this.openSession(user, { method: "password", client: input.client, userAgent: input.userAgent, details: { provider: PASSWORD_METHOD.provider } });
  }

  /**
   * Sign-in with a directory password (LDAP bind): the same single 401 for every failure, the
   * same failure count and lock-out as local passwords (kept per directory account), audited
   * with method "ldap". An empty password is refused before anything is sent (an LDAP bind with
   * an empty password is an unauthenticated bind, which servers answer with success).
   */
  private async directoryLogin(input: { name: string; password: string; client: string; userAgent?: string }, fail: (reason: string) => Promise<never>): Promise<SignedIn> {
    if (input.password.length === 0) return await fail("empty password");
    let account: Awaited<ReturnType<DirectorySignIn["account"]>>;
    try {
      account = await this.directories!.account(input.name);
    } catch (err) {
      await this.audit.record(null, "auth.login.failed", null, { client: input.client, method: "ldap", error: (err as Error).message }, "error");
      return await fail("directory unavailable");
    }
    if (!account) return await fail("unknown user");
    try {
      const now = this.now();
      const lockKey = `signin.directory.${account.key}`;
      const lock = (await this.store.settings.get<DirectoryLock>(lockKey)) ?? { failedCount: 0, lockedUntil: null };
      const target = { client: input.client, method: "ldap", source: account.source };
      if (lock.lockedUntil && Date.parse(lock.lockedUntil) > now) return await fail("account locked");
      let ok: boolean;
      try {
        ok = await account.checkPassword(input.password);
      } catch (err) {
        await this.audit.record(null, "auth.login.failed", account.source, { ...target, error: (err as Error).message }, "error");
        return await fail("directory unavailable");
      }
      if (!ok) {
        // Read again and counted in one transaction: concurrent failures all count.
        const { after, lockNow } = await this.store.withTransaction(async (tx) => {
          const failed = ((await tx.settings.get<DirectoryLock>(lockKey))?.failedCount ?? 0) + 1;
          const lockNow = this.options.lockAfter > 0 && failed >= this.options.lockAfter;
          const after: DirectoryLock = lockNow ? { failedCount: 0, lockedUntil: iso(now + this.options.lockMs) } : { failedCount: failed, lockedUntil: null };
          await tx.settings.set(lockKey, after);
          return { after, lockNow };
        });
        await this.audit.record(null, "auth.login.failed", account.source, { ...target, login: input.name, failures: lockNow ? this.options.lockAfter : after.failedCount }, "denied");
        if (lockNow) await this.audit.record(null, "auth.lockout", account.source, { ...target, login: input.name, until: after.lockedUntil, failures: this.options.lockAfter }, "denied");
        return await fail("wrong password");
      }
      if (lock.failedCount > 0 || lock.lockedUntil) await this.store.settings.delete(lockKey);
      const name = await account.admit();
      const user = await this.accounts.getUser(name);
      if (user.disabled) return await fail("disabled user");
      return await this.openSession(user, { method: "ldap", provider: account.source, client: input.client, userAgent: input.userAgent });
    } finally {
      await account.close();
    }
  }

  /**
   * Opens a session for a user whose identity was just proven (a password here, an OpenID
   * provider's ID token in oidc-sign-in.ts) and audits `auth.login` with the method.
   */
  async openSession(
    user: UserRow,
    input: { method: "password" | "oidc" | "ldap"; client: string; userAgent?: string; provider?: string; opSid?: string | null; idToken?: string | null; details?: Record<string, unknown> },
  ): Promise<SignedIn> {
    // A service account uses API tokens only, whichever way its identity was proven.
    if (user.kind === "service") throw invalidCredentials();
    const now = this.now();
    await this.purgeEndedSessions(now);
    const token = SESSION_TOKEN_PREFIX + crypto.randomBytes(32).toString("base64url");
    const row: SessionRow = {
      id: newId("ses"),
      userId: user.id,
      tokenHash: sha256Hex(token),
      createdAt: iso(now),
      lastSeenAt: iso(now),
      expiresAt: iso(now + this.options.maxMs),
      revokedAt: null,
      client: input.client,
      userAgent: input.userAgent ? input.userAgent.slice(0, 256) : null,
      method: input.method,
      provider: input.provider ?? null,
      opSid: input.opSid ?? null,
      idToken: input.idToken ?? null,
    };
    await this.store.sessions.insert(row);
    await this.audit.record(`user:${user.name}`, "auth.login", `session:${row.id}`, { client: input.client, method: input.method, ...(input.provider ? { provider: input.provider } : {}), ...input.details });
    return { token, actor: await this.accounts.actorFor(user), session: this.view(row), csrfToken: csrfTokenOf(token) };
  }

  /** The session a cookie names, if it is live (and its user enabled); records activity. */
  async authenticate(token: string): Promise<SessionAuth | null> {
    if (!token.startsWith(SESSION_TOKEN_PREFIX) || token.length > 200) return null;
    const tokenHash = sha256Hex(token);
    const row = await this.store.sessions.byTokenHash(tokenHash);
    if (!row || !safeEqual(row.tokenHash, tokenHash) || row.revokedAt) return null;
    const now = this.now();
    if (!this.isLive(row, now)) return null;
    const user = await this.accounts.userById(row.userId);
    // A service account never holds a session, whichever sign-in path would have opened one.
    if (!user || user.disabled || user.kind === "service") return null;
    if (now - Date.parse(row.lastSeenAt) >= SESSION_TOUCH_MS) {
      row.lastSeenAt = iso(now);
      await this.store.sessions.touch(row.id, row.lastSeenAt);
    }
    return { actor: await this.accounts.actorFor(user), session: this.view(row), csrfToken: csrfTokenOf(token) };
  }

  private isLive(row: SessionRow, now: number): boolean {
    return !row.revokedAt && now < Date.parse(row.expiresAt) && now < Date.parse(row.lastSeenAt) + this.options.idleMs;
  }

  private view(row: SessionRow): SessionView {
    const idleEnd = Date.parse(row.lastSeenAt) + this.options.idleMs;
    return {
      id: row.id,
      createdAt: row.createdAt,
      lastSeenAt: row.lastSeenAt,
      expiresAt: iso(Math.min(idleEnd, Date.parse(row.expiresAt))),
      absoluteExpiresAt: row.expiresAt,
      client: row.client,
      userAgent: row.userAgent,
      method: row.method,
      provider: row.provider,
    };
  }

  /**
   * Ends the session a signed-in user is using (sign-out). For a session opened through an
   * OpenID provider, returns the provider's end-session URL (RP-initiated logout), which the
   * browser follows to end the provider's session too; null otherwise.
   */
  async logout(actor: Actor, sessionId: string, appOrigin = ""): Promise<{ endSessionUrl: string | null }> {
    const row = await this.store.sessions.byId(sessionId);
    if (await this.store.sessions.revoke(sessionId, iso(this.now()))) await this.audit.record(actor, "auth.logout", `session:${sessionId}`, row?.provider ? { method: row.method, provider: row.provider } : undefined);
    const endSessionUrl = row?.method === "oidc" && this.sso ? await this.sso.endSessionUrl(row, appOrigin) : null;
    return { endSessionUrl };
  }

  /** Who is signed in, with what the web app shows or hides by. */
  whoAmI(actor: Actor, session?: SessionAuth): WhoAmI {
    const base = { user: { name: actor.name }, role: actor.role, capabilities: [...(actor.capabilities ?? this.accounts.roles().capabilitiesOf(actor.role))].sort() };
    return session
      ? { ...base, via: "session", csrfToken: session.csrfToken, expiresAt: session.session.expiresAt, signedInWith: { method: session.session.method, provider: session.session.provider } }
      : { ...base, via: "token" };
  }

  /** Sign-in methods besides passwords: the OpenID providers of oidc-providers.json. */
  providers(): SignInProvider[] {
    return this.sso?.providers() ?? [];
  }

  /**
   * Stores a new password and ends the user's sessions (all, or all but `keep`) in one
   * transaction: never a changed password with the old sessions still open. Hashing happens
   * before, outside the transaction (it runs on libuv's threads).
   */
  private async replacePassword(userId: string, password: string, keep?: string): Promise<number> {
    const encoded = await hashPassword(password);
    const at = iso(this.now());
    return this.store.withTransaction(async (tx) => {
      await tx.credentials.set(userId, encoded, at);
      if (keep === undefined) return tx.sessions.revokeAllOf(userId, at);
      let n = 0;
      for (const s of await tx.sessions.liveOf(userId, at)) if (s.id !== keep && (await tx.sessions.revoke(s.id, at))) n++;
      return n;
    });
  }

  /**
   * An admin (or the operator through `kb users passwd`) sets or resets a user's password:
   * the given one, or a generated one that is returned once. Ends the user's sessions and any
   * lock-out.
   */
  async setPassword(actor: Actor, name: string, input: { password?: string; generate?: boolean }): Promise<{ generated?: string; sessionsRevoked: number }> {
    name = await this.accounts.userName(name);
    authorize(actor, "set_password", Users, { name });
    const user = await this.accounts.getUser(name);
    if (user.kind === "service") throw badRequest(`"${user.name}" is a service account: it signs in with API tokens only, never a password`, "service_account");
    if ((input.password === undefined) === !input.generate) throw badRequest("give either a password or generate: true", "invalid_request");
    const password = input.generate ? generatePassword() : checkNewPassword(input.password!);
    const sessionsRevoked = await this.replacePassword(user.id, password);
    await this.audit.record(actor, "user.password.set", `user:${user.name}`, { generated: input.generate === true, sessionsRevoked });
    return { ...(input.generate ? { generated: password } : {}), sessionsRevoked };
  }

  /**
   * A signed-in user changes their own password, giving the current one. A wrong current
   * password counts as a failed sign-in (lock-out included). Ends the user's other sessions.
   */
  async changeOwnPassword(actor: Actor, input: { currentPassword: string; newPassword: string; keepSession?: string }): Promise<{ sessionsRevoked: number }> {
    authorize(actor, "change_password", Users, { name: actor.name });
    const user = await this.accounts.getUser(actor.name);
    const credential = await this.store.credentials.get(user.id);
    const now = this.now();
    const locked = credential?.lockedUntil != null && Date.parse(credential.lockedUntil) > now;
    const ok = await this.verifyAgainst(credential?.passwordHash, input.currentPassword);
    if (!credential || locked || !ok) {
      if (credential && !locked) {
        const lockAfter = this.options.lockAfter > 0 ? this.options.lockAfter : Number.POSITIVE_INFINITY;
        const after = await this.store.credentials.recordFailure(user.id, lockAfter, iso(now + this.options.lockMs));
        if (after?.lockedUntil && Date.parse(after.lockedUntil) > now) await this.audit.record(actor, "auth.lockout", `user:${user.name}`, { until: after.lockedUntil, failures: this.options.lockAfter }, "denied");
      }
      await this.audit.record(actor, "user.password.change", `user:${user.name}`, { reason: "wrong current password" }, "denied");
      throw new ServiceError(403, "wrong_password", "the current password is wrong (or the account is locked for a while after repeated failures)");
    }
    const password = checkNewPassword(input.newPassword);
    const sessionsRevoked = await this.replacePassword(user.id, password, input.keepSession ?? "");
    await this.audit.record(actor, "user.password.change", `user:${user.name}`, { sessionsRevoked });
    return { sessionsRevoked };
  }

  /** Whether a user has a password, since when, and whether it is locked now (admins, or oneself). */
  async passwordStatus(actor: Actor, name: string): Promise<{ set: boolean; updatedAt: string | null; lockedUntil: string | null }> {
    name = await this.accounts.userName(name);
    authorize(actor, "read", Users, { name });
    const user = await this.accounts.getUser(name);
    const c = await this.store.credentials.get(user.id);
    const locked = c?.lockedUntil != null && Date.parse(c.lockedUntil) > this.now() ? c.lockedUntil : null;
    return { set: c !== undefined, updatedAt: c?.updatedAt ?? null, lockedUntil: locked };
  }

  /** Whether a user has a password (first start). */
  async hasPassword(name: string): Promise<boolean> {
    const user = await this.userOf(name);
    return user !== undefined && (await this.store.credentials.get(user.id)) !== undefined;
  }

  /** A user's live sessions (an admin's, or one's own). */
  async listSessions(actor: Actor, name: string): Promise<SessionView[]> {
    name = await this.accounts.userName(name);
    authorize(actor, "list_sessions", Users, { name });
    const user = await this.accounts.getUser(name);
    const now = this.now();
    return (await this.store.sessions.liveOf(user.id, iso(now))).filter((s) => this.isLive(s, now)).map((s) => this.view(s));
  }

  /** Ends one session (an admin's, or one's own). */
  async revokeSession(actor: Actor, id: string): Promise<void> {
    const row = await this.store.sessions.byId(id);
    const user = row ? await this.accounts.userById(row.userId) : undefined;
    if (!row || !user) throw notFound(`session "${id}"`);
    authorize(actor, "revoke_sessions", Users, { name: user.name });
    if (!(await this.store.sessions.revoke(id, iso(this.now())))) throw notFound(`live session "${id}"`);
    await this.audit.record(actor, "session.revoke", `session:${id}`, { user: user.name });
  }

  /** Ends every session of a user. */
  async revokeSessionsOf(actor: Actor, name: string): Promise<number> {
    name = await this.accounts.userName(name);
    authorize(actor, "revoke_sessions", Users, { name });
    const user = await this.accounts.getUser(name);
    const n = await this.store.sessions.revokeAllOf(user.id, iso(this.now()));
    await this.audit.record(actor, "session.revoke_all", `user:${user.name}`, { sessionsRevoked: n });
    return n;
  }

  /** Ends the sessions opened through an OpenID provider that match its session id and/or a user (back-channel logout). */
  revokeOidcSessions(provider: string, match: { opSid?: string; userId?: string }): Promise<number> {
    return this.store.sessions.revokeOidc(provider, match, iso(this.now()));
  }

  /** Ends every session of a user without an actor's check (a user disabled by an authorized change). */
  revokeAllForUser(userId: string): Promise<number> {
    return this.store.sessions.revokeAllOf(userId, iso(this.now()));
  }

  /**
   * First start: gives a user without a password a generated one (returned once); null when the
   * user already has one.
   */
  async ensureInitialPassword(actor: Actor, name: string): Promise<string | null> {
    if (await this.hasPassword(name)) return null;
    return (await this.setPassword(actor, name, { generate: true })).generated!;
  }

  /** Removes ended sessions now and then (at most hourly, on sign-in). */
  private async purgeEndedSessions(now: number): Promise<void> {
    if (now - this.lastPurge < 3_600_000) return;
    this.lastPurge = now;
    await this.store.sessions.purgeEnded(iso(now), iso(now - this.options.idleMs));
  }
}
