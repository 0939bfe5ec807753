/**
 * Issue 13 part 5 through the real HTTP server: every password sign-in, success or failure, is
 * audited with its method and provider (a failure on an existing account with the reason, which
 * the answer does not give); an unknown name only reaches the per-address failure log.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { startTestServer, withoutRequestId, type TestServer } from "./helpers/kb.ts";

const PASSWORD = "correct horse battery staple";

describe("sign-in audit", () => {
  let t: TestServer;
  const login = (name: string, password: string) =>
    fetch(`${t.url}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name, password }) });
  const events = (action: string) => t.kb.audit.repository.query({ action, limit: 100 });

  beforeAll(async () => {
    t = await startTestServer({ rateLimitPerMinute: 0, loginLockAfter: 2 });
    for (const name of ["kim", "lee", "off", "nopass"]) await t.kb.accounts.createUser({ name, role: "viewer" });
    await t.kb.accounts.createUser({ name: "bot", role: "viewer", kind: "service" });
    for (const name of ["kim", "lee", "off"]) await t.kb.signIn.setPassword(SYSTEM_ACTOR, name, { password: PASSWORD });
    await t.kb.admin.updateUser(SYSTEM_ACTOR, "off", { disabled: true });
  });
  afterAll(() => t?.close());

  it("records a success with method and provider", async () => {
    expect((await login("kim", PASSWORD)).status).toBe(200);
    const ok = (await events("auth.login")).find((e) => e.actor === "user:kim");
    expect(ok).toMatchObject({ outcome: "ok", details: { method: "password", provider: "local" } });
  });

  it("records every failure on an existing account with its reason, method and provider; the answers are alike", async () => {
    const answers = [await login("kim", "wrong password!!"), await login("off", PASSWORD), await login("nopass", PASSWORD), await login("bot", PASSWORD), await login("nobody-here", PASSWORD)];
    // Alike but for the request id each answer carries (random, per request).
    const bodies = (await Promise.all(answers.map((r) => r.json()))).map((b) => JSON.stringify(withoutRequestId(b)));
    for (const [i, r] of answers.entries()) {
      expect(r.status).toBe(401);
      expect(bodies[i]).toBe(bodies[0]);
    }
    const failed = await events("auth.login.failed");
    const reasonOf = (user: string) => failed.find((e) => e.target === `user:${user}`)?.details;
    expect(reasonOf("kim")).toMatchObject({ method: "password", provider: "local", reason: "wrong password", failures: 1 });
    expect(reasonOf("off")).toMatchObject({ method: "password", provider: "local", reason: "disabled user" });
    expect(reasonOf("nopass")).toMatchObject({ method: "password", provider: "local", reason: "no password set" });
    expect(reasonOf("bot")).toMatchObject({ method: "password", provider: "local", reason: "service account" });
    // The typed unknown name is not written into the audit log; the per-address log counts it.
    expect(JSON.stringify(failed)).not.toContain("nobody-here");
    await t.kb.authFailures.flush();
    const aggregated = await events("auth.failed");
    expect(aggregated.some((e) => JSON.stringify(e.details).includes("unknown user"))).toBe(true);
  });

  it("records a lock-out, and a refused sign-in while locked", async () => {
    await login("lee", "wrong password!!");
    await login("lee", "wrong password!!");
    const lockout = (await events("auth.lockout")).find((e) => e.target === "user:lee");
    expect(lockout).toMatchObject({ outcome: "denied", details: { method: "password", provider: "local", failures: 2 } });
    expect((await login("lee", PASSWORD)).status).toBe(401);
    const reasons = (await events("auth.login.failed")).filter((e) => e.target === "user:lee").map((e) => (e.details as { reason: string }).reason);
    expect(reasons).toEqual(["account locked", "wrong password", "wrong password"]); // newest first
  });
});
