/**
 * Local passwords and web sessions (schema.ts `user_credentials`, `sessions`). Synchronous
 * underneath; services use them as metadata.ts's CredentialStore and SessionStore
 * (metadata-store.ts).
 */
import { and, asc, eq, gt, isNull, lt, or } from "drizzle-orm";
import type { Db } from "./db.ts";
import { sessions, userCredentials } from "./schema.ts";

export type CredentialRow = typeof userCredentials.$inferSelect;
export type SessionRow = typeof sessions.$inferSelect;

export class CredentialsRepo {
  constructor(private readonly db: Db) {}

  get(userId: string): CredentialRow | undefined {
    return this.db.select().from(userCredentials).where(eq(userCredentials.userId, userId)).get();
  }

  /** Sets the password hash and clears the failure count and any lock. */
  set(userId: string, passwordHash: string, at: string): void {
    this.db
      .insert(userCredentials)
      .values({ userId, passwordHash, updatedAt: at, failedCount: 0, lockedUntil: null })
      .onConflictDoUpdate({ target: userCredentials.userId, set: { passwordHash, updatedAt: at, failedCount: 0, lockedUntil: null } })
      .run();
  }

  /**
   * Counts one failed sign-in; the `lockAfter`-th consecutive one sets `lockedUntil` and starts
   * the count again. Returns the row after the change (undefined without a password).
   */
  recordFailure(userId: string, lockAfter: number, lockedUntil: string): CredentialRow | undefined {
    return this.db.transaction(
      (tx) => {
        const row = tx.select().from(userCredentials).where(eq(userCredentials.userId, userId)).get();
        if (!row) return undefined;
        const failed = row.failedCount + 1;
        const lock = failed >= lockAfter;
        tx.update(userCredentials)
          .set(lock ? { failedCount: 0, lockedUntil } : { failedCount: failed })
          .where(eq(userCredentials.userId, userId))
          .run();
        return tx.select().from(userCredentials).where(eq(userCredentials.userId, userId)).get();
      },
      { behavior: "immediate" },
    );
  }

  /** After a successful sign-in: no failures, no lock. */
  clearFailures(userId: string): void {
    this.db.update(userCredentials).set({ failedCount: 0, lockedUntil: null }).where(eq(userCredentials.userId, userId)).run();
  }
}

export class SessionsRepo {
  constructor(private readonly db: Db) {}

  insert(row: typeof sessions.$inferInsert): void {
    this.db.insert(sessions).values(row).run();
  }

  byTokenHash(tokenHash: string): SessionRow | undefined {
    return this.db.select().from(sessions).where(eq(sessions.tokenHash, tokenHash)).get();
  }

  byId(id: string): SessionRow | undefined {
    return this.db.select().from(sessions).where(eq(sessions.id, id)).get();
  }

  /** Records activity (idle expiry counts from it). */
  touch(id: string, at: string): void {
    this.db.update(sessions).set({ lastSeenAt: at }).where(eq(sessions.id, id)).run();
  }

  /** Revokes one session; false when it was already revoked or does not exist. */
  revoke(id: string, at: string): boolean {
    return this.db.update(sessions).set({ revokedAt: at }).where(and(eq(sessions.id, id), isNull(sessions.revokedAt))).run().changes > 0;
  }

  /** Revokes every session of a user that is not revoked yet; returns how many. */
  revokeAllOf(userId: string, at: string): number {
    return this.db.update(sessions).set({ revokedAt: at }).where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt))).run().changes;
  }

  /**
   * Revokes the sessions opened through an OpenID provider that match an OP session id and/or
   * a user (back-channel logout: `sid`, `sub`, or both); returns how many.
   */
  revokeOidc(provider: string, match: { opSid?: string; userId?: string }, at: string): number {
    if (match.opSid === undefined && match.userId === undefined) return 0;
    const conditions = [eq(sessions.provider, provider), eq(sessions.method, "oidc"), isNull(sessions.revokedAt)];
    if (match.opSid !== undefined) conditions.push(eq(sessions.opSid, match.opSid));
    if (match.userId !== undefined) conditions.push(eq(sessions.userId, match.userId));
    return this.db.update(sessions).set({ revokedAt: at }).where(and(...conditions)).run().changes;
  }

  /** A user's sessions that are neither revoked nor past their absolute expiry, oldest first. */
  liveOf(userId: string, now: string): SessionRow[] {
    return this.db
      .select()
      .from(sessions)
      .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, now)))
      .orderBy(asc(sessions.createdAt))
      .all();
  }

  /** Removes sessions that have ended: past their absolute expiry, revoked, or idle since before `idleBefore`. */
  purgeEnded(now: string, idleBefore: string): number {
    return this.db.delete(sessions).where(or(lt(sessions.expiresAt, now), lt(sessions.revokedAt, now), lt(sessions.lastSeenAt, idleBefore))).run().changes;
  }
}
