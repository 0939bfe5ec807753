/**
 * The admin CLI commands (kb policy, kb acl, kb audit, kb sensitive, kb users/groups/tokens
 * additions), run in-process through commander against a temporary data folder.
 */
import { runKb } from "./helpers/cli.ts";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { registerAccountCommands } from "../src/cli/commands/accounts.ts";
import { registerAdminCommands } from "../src/cli/commands/admin.ts";
import { registerQueryCommands } from "../src/cli/commands/query.ts";
import { loadConfig } from "../src/config.ts";
import { openKb } from "../src/services/container.ts";
import { PolicyFiles } from "../src/services/policy-files.ts";
import { ingestNow, storeForFolder, writeFiles } from "./helpers/kb.ts";

let dir: string;
let docId: string;
let store: Awaited<ReturnType<typeof storeForFolder>>;
const saved = { ...process.env };

async function kb(...args: string[]): Promise<string> {
  return runKb([registerAccountCommands, registerAdminCommands, registerQueryCommands], args);
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-admin-cli-"));
  store = await storeForFolder(); // on PostgreSQL (KB_TEST_DATABASE_URL), a database of its own
  Object.assign(process.env, { KB_DATA_DIR: path.join(dir, "data"), KB_EMBED_MODEL: "none", KB_LOG_LEVEL: "silent", ...store.env });
  const k = await openKb(loadConfig(process.env), { logger: pino({ level: "silent" }) });
  try {
    await k.admin.createGroup(SYSTEM_ACTOR, "hr");
    await k.admin.createGroup(SYSTEM_ACTOR, "seoul");
    await k.admin.addMember(SYSTEM_ACTOR, "hr", "group:seoul");
    await k.admin.createUser(SYSTEM_ACTOR, { name: "kim", role: "viewer", groups: ["seoul"] });
    const [file] = writeFiles(path.join(dir, "docs", "hr"), { "pay.txt": "Pay scale. Call payroll at 010-3456-7890 for questions about the pay scale." });
    const { documents } = await ingestNow(k, [{ source: file!, path: file!, allow: ["group:hr"] }]);
    docId = documents[0]!.id;
  } finally {
    await k.close();
  }
});
afterAll(async () => {
  process.env = saved;
  await store?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("kb admin commands", () => {
  it("explains access through nested groups, and changes ACLs", async () => {
    const out = await kb("policy", "explain", "--as", "kim", docId);
    expect(out).toContain(`ALLOWED: user:kim may read ${docId}`);
    expect(out).toContain("allow list grants access to group:hr (member via group:seoul → group:hr)");

    expect(await kb("acl", "set", docId, "--add-deny", "group:seoul")).toMatch(/deny=\[\] internal\n\s+→ allow=\[group:hr\] deny=\[group:seoul\]/);
    expect(await kb("policy", "explain", "--as", "kim", docId)).toContain("DENIED: the deny list names group:seoul (member via direct membership) (deny wins over allow)");
    expect(await kb("search", "pay scale", "--as", "kim")).not.toContain("Pay scale");
    expect(await kb("acl", "bulk", "--prefix", path.join(dir, "docs"), "--remove-deny", "group:seoul", "--dry-run")).toMatch(/1 matched, 1 would change/);
    expect(await kb("acl", "bulk", "--prefix", path.join(dir, "docs"), "--remove-deny", "group:seoul")).toMatch(/1 matched, 1 changed/);
  });

  it("masks personal data in CLI search for users without view_sensitive, not for the operator", async () => {
    const asKim = await kb("search", "pay scale payroll", "--as", "kim");
    expect(asKim).toContain("[REDACTED:phone]");
    expect(asKim).not.toContain("010-3456-7890");
    expect(await kb("search", "pay scale payroll")).toContain("010-3456-7890");
    expect(await kb("sensitive", "report")).toMatch(new RegExp(`${docId}\\t.*pay\\.txt\\tphone=1`));
  });

  it("exports the audit log as JSON lines, with the searches and ACL changes", async () => {
    const lines = (await kb("audit", "--jsonl")).trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
    expect(lines.some((l) => l.action === "search" && l.actor === "user:kim" && l.details.via === "cli")).toBe(true);
    expect(lines.find((l) => l.action === "document.acl" && l.target === docId).details.after.deny).toEqual([]);
  });

  it("manages users, groups and tokens", async () => {
    expect(await kb("users", "set", "kim", "--clearance", "confidential")).toContain("kim\tviewer\tclearance=2\tenabled");
    expect(await kb("groups", "members", "hr")).toBe("group:seoul\tmanual");
    expect(await kb("users", "show", "kim")).toContain("group:hr\tvia seoul → hr");
    const token = (await kb("tokens", "create", "kim")).trim();
    expect(token).toMatch(/^kb_/);
    const id = (await kb("tokens", "list", "kim")).split("\t")[0]!;
    expect(await kb("tokens", "expire", id)).toMatch(new RegExp(`${id}\\texpires=20`));
    expect(await kb("groups", "remove-member", "hr", "group:seoul")).toContain("removed group:seoul from hr");
  });

  it("creates a group with its members or not at all, takes any spelling of a name, and reports name conflicts", async () => {
    await expect(kb("groups", "add", "ghosts", "--members", "user:kim,user:nobody")).rejects.toThrow(/user "nobody" not found/);
    expect(await kb("groups", "list")).not.toContain("ghosts");
    expect(await kb("groups", "add", "Ghosts", "--members", "user:KIM")).toBe("group ghosts ready");
    expect(await kb("groups", "members", "GHOSTS")).toBe("user:kim\tmanual");
    expect(await kb("users", "conflicts")).toBe("no conflicts");
  });

  it("runs the account commands through AdminService: audited like the admin API, as the operator", async () => {
    expect(await kb("users", "add", "lee", "--groups", "hr")).toBe("created user lee (viewer)");
    const token = (await kb("tokens", "create", "lee", "--name", "laptop")).trim();
    expect(token).toMatch(/^kb_/);
    const id = (await kb("tokens", "list", "lee")).split("\t")[0]!;
    expect(await kb("tokens", "revoke", id)).toBe(`revoked ${id}`);
    await expect(kb("tokens", "revoke", "tok_missing")).rejects.toThrow(/not found/);
    const events = (await kb("audit", "--jsonl")).trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const created = events.find((e) => e.action === "user.create" && e.target === "user:lee");
    // The same event AdminService writes for POST /api/v1/admin/users: the whole user after the change.
    expect(created).toMatchObject({ actor: "user:system", details: { after: { name: "lee", role: "viewer", groups: ["hr"], disabled: false } } });
    expect(events.find((e) => e.action === "token.create" && e.target === "user:lee")).toMatchObject({ actor: "user:system", details: { tokenId: id, name: "laptop" } });
    expect(events.find((e) => e.action === "token.revoke" && e.target === id)).toMatchObject({ actor: "user:system", details: { user: "lee", before: { revokedAt: null } } });
  });

  it("creates a service account and a scoped, rate-limited token for it", async () => {
    expect(await kb("users", "create-service", "crawler", "--role", "viewer")).toMatch(/^created service account crawler \(viewer\)/);
    expect(await kb("users", "list")).toMatch(/^crawler\tviewer\tclearance=1\tkind=service\tsource=local\t/m);
    const token = (await kb("tokens", "create", "crawler", "--scope", "search", "--scope", "ask", "--rate", "60")).trim();
    expect(token).toMatch(/^kb_/);
    expect(await kb("tokens", "list", "crawler")).toMatch(/\tscopes=ask,search\trate=60\tactive$/);
    await expect(kb("tokens", "create", "crawler", "--scope", "everything")).rejects.toThrow(/unknown scope "everything"/);
    // Disabling revokes its tokens at once (and enabling again does not revive them).
    expect(await kb("users", "set", "crawler", "--disable")).toMatch(/\tdisabled$/);
    expect(await kb("tokens", "list", "crawler")).toMatch(/\tREVOKED$/);
    expect(await kb("tokens", "list", "crawler")).not.toMatch(/\tactive$/m);
    await kb("users", "set", "crawler", "--enable");
    expect(await kb("tokens", "list", "crawler")).not.toMatch(/\tactive$/m);
    const events = (await kb("audit", "--jsonl")).trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
    expect(events.find((e) => e.action === "user.create" && e.target === "user:crawler")).toMatchObject({ details: { after: { kind: "service" } } });
    expect(events.find((e) => e.action === "token.create" && e.target === "user:crawler")).toMatchObject({ details: { scopes: ["ask", "search"], rateLimitPerMinute: 60 } });
  });

  it("scans for personal data through the sensitive-data service (audited; only for those who manage every document)", async () => {
    expect(await kb("sensitive", "scan")).toMatch(/^scanned \d+ chunks of 1 documents: 1 contain personal data$/);
    const events = (await kb("audit", "--jsonl")).trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
    expect(events.find((e) => e.action === "sensitive.scan")).toMatchObject({ actor: "user:system", details: { documents: 1, withPersonalData: 1 } });
    const k = await openKb(loadConfig(process.env), { logger: pino({ level: "silent" }) });
    try {
      await expect(k.sensitive.scan(await k.accounts.actorByName("kim"))).rejects.toThrow(/not allowed to scan/);
    } finally {
      await k.close();
    }
  });

  it("purges a user's conversations and feedback (kb users purge-history), audited, keeping the account", async () => {
    await kb("ask", "What is the pay scale?", "--as", "kim");
    const k = await openKb(loadConfig(process.env), { logger: pino({ level: "silent" }) });
    try {
      const kimActor = await k.accounts.actorByName("kim");
      const [c] = (await k.conversations.list(kimActor)).conversations;
      const answer = (await k.conversations.get(kimActor, c!.id)).messages.find((m) => m.role === "assistant")!;
      await k.feedback.give(kimActor, { messageId: answer.id, rating: "down" });
    } finally {
      await k.close();
    }
    expect(await kb("users", "purge-history", "kim")).toBe("purged kim: 1 conversations, 1 feedback");
    const k2 = await openKb(loadConfig(process.env), { logger: pino({ level: "silent" }) });
    try {
      expect((await k2.conversations.list(await k2.accounts.actorByName("kim"))).total).toBe(0);
      expect((await k2.feedback.list(SYSTEM_ACTOR, {})).total).toBe(0);
      expect((await k2.audit.query(SYSTEM_ACTOR, { action: "user.purge_history" })).items[0]).toMatchObject({ actor: "user:system", target: "user:kim", details: { conversations: 1, feedback: 1 } });
      expect((await k2.accounts.listUsers()).some((u) => u.name === "kim")).toBe(true);
    } finally {
      await k2.close();
    }
  });

  it("validates policy files", async () => {
    const policyDir = path.join(dir, "data", "policies");
    fs.mkdirSync(policyDir, { recursive: true });
    fs.writeFileSync(path.join(policyDir, "roles.json"), JSON.stringify({ roles: { auditor: { extends: "viewer", capabilities: ["view_audit"] } } }));
    fs.writeFileSync(path.join(policyDir, "document-rules.json"), JSON.stringify({ rules: [{ name: "bad", match: { path: "a**" }, allow: ["hr"] }] }));
    const out = await kb("policy", "validate");
    expect(out).toContain("1 custom role(s): auditor [search, view_audit]");
    expect(out).toMatch(/INVALID .*document-rules\.json/);
    expect(out).toMatch(/rules\.0\.allow\.0: invalid principal "hr"/);
    expect(process.exitCode).toBe(1);
    process.exitCode = 0;
    // An invalid file stops a start with the same clear error.
    expect(() => PolicyFiles.load(policyDir)).toThrow(/document-rules\.json is invalid/);
    // Examples shipped with the code are valid.
    expect(PolicyFiles.validate(path.resolve("policies/examples")).every((r) => r.ok && r.present)).toBe(true);
  });
});
