/**
 * Sign-in in the browser: a wrong password is refused, the right one opens the app, sign-out
 * ends the session (the app and the API refuse it afterwards), a session that expired on the
 * server sends the user back to sign in with a message, and repeated failures lock the account
 * even against the right password. axe checks the sign-in and ask screens.
 */
import { describe, expect, it } from "vitest";
import { askQuestion, signIn, signInToAsk, signOut, TIMEOUT } from "./app.ts";
import { USERS } from "./fixtures.ts";
import { expectAccessible, skipReason, sql, webTestLifecycle } from "./harness.ts";

/** What the sign-in page says to every refused sign-in (the server's one 401 for all of them). */
const INVALID = "Wrong user name or password, or the account is locked for a while after too many failed attempts. Try again later or ask an admin.";

describe.skipIf(skipReason())("sign-in", () => {
  const web = webTestLifecycle();

  it("refuses a wrong password, signs in with the right one, and signs out", async () => {
    const server = await web.server();
    const session = await web.session(server);
    const { page } = session;

    await page.goto("/");
    await page.getByRole("heading", { name: "Sign in" }).waitFor({ timeout: TIMEOUT }); // not signed in: the sign-in page
    await expectAccessible(page, "sign-in");
    await signIn(page, USERS.minji.name, "not-the-password");
    await expect(page.getByRole("alert").filter({ hasText: INVALID }).waitFor({ timeout: TIMEOUT })).resolves.toBeUndefined();
    expect(page.url()).toMatch(/\/signin$/);

    await signInToAsk(page, USERS.minji.name, USERS.minji.password);
    await expectAccessible(page, "ask (empty)");
    const cookies = await session.context.cookies();
    const sessionCookie = cookies.find((c) => c.httpOnly);
    expect(sessionCookie, `an HttpOnly session cookie among ${JSON.stringify(cookies.map((c) => c.name))}`).toBeDefined();
    expect(sessionCookie!.sameSite).toBe("Strict");
    expect(await page.evaluate(() => (globalThis as unknown as { document: { cookie: string } }).document.cookie)).not.toContain(sessionCookie!.value);

    await signOut(page, USERS.minji.name);
    // The old cookie no longer authenticates (sign-out ended the session on the server too).
    const res = await fetch(`${server.url}/api/v1/auth/session`, { headers: { cookie: `${sessionCookie!.name}=${sessionCookie!.value}` } });
    expect(res.status).toBe(401);
    await page.goto("/documents");
    await page.getByRole("heading", { name: "Sign in" }).waitFor({ timeout: TIMEOUT });
  });

  it("sends the user back to sign in, saying so, when the session expired on the server", async () => {
    const server = await web.server();
    const session = await web.session(server);
    const { page } = session;
    await signInToAsk(page, USERS.minji.name, USERS.minji.password);

    // The server ends the session (as its idle/absolute expiry would): no waiting for a clock.
    const ended = await sql(server, "UPDATE sessions SET expires_at = ?, last_seen_at = ? WHERE revoked_at IS NULL RETURNING id", "2000-01-01T00:00:00.000Z", "2000-01-01T00:00:00.000Z");
    expect(ended).toHaveLength(1);
    await askQuestion(page, "연차 휴가는 며칠인가요?");
    await page.getByRole("heading", { name: "Sign in" }).waitFor({ timeout: TIMEOUT });
    await page.getByRole("status").filter({ hasText: "Your session ended. Sign in again." }).waitFor({ timeout: TIMEOUT });
    await expectAccessible(page, "sign-in (session ended)");
    await signInToAsk(page, USERS.minji.name, USERS.minji.password);
  });

  it("locks the account after repeated wrong passwords, even against the right one", async () => {
    const server = await web.server({ loginLockAfter: 3 });
    const session = await web.session(server);
    const { page } = session;
    const refused = async (password: string) => {
      await signIn(page, USERS.hana.name, password);
      // The server gives one answer for every failure (no telling a locked account from a wrong
      // password); the message says what that answer means, lock-out and what to do included.
      await page.getByRole("alert").filter({ hasText: INVALID }).waitFor({ timeout: TIMEOUT });
      expect(new URL(page.url()).pathname).toBe("/signin");
    };
    for (let i = 0; i < 3; i++) await refused(`wrong-${i}`);
    await refused(USERS.hana.password); // locked: the right password is refused too
    await expectAccessible(page, "sign-in (refused)");
    // Another account is not affected.
    await signInToAsk(page, USERS.minji.name, USERS.minji.password);
    await signOut(page, USERS.minji.name);
    // It was the lock that refused hana's right password: lifted (as its expiry would), it works.
    const [row] = await sql(server, "SELECT c.locked_until AS locked_until FROM user_credentials c JOIN users u ON u.id = c.user_id WHERE u.name = ?", USERS.hana.name);
    expect(Date.parse(String(row?.locked_until ?? ""))).toBeGreaterThan(Date.now());
    await sql(server, "UPDATE user_credentials SET locked_until = NULL");
    await signInToAsk(page, USERS.hana.name, USERS.hana.password);
  });
});
