/**
 * One ask use case for every channel: `kb ask` is authorized and audited exactly like
 * POST /api/v1/ask (the CLI used to record a thinner event and skip the collection check).
 * The real server and the real CLI command (in-process, through commander) on one data folder.
 */
import { runKb } from "./helpers/cli.ts";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { registerQueryCommands } from "../src/cli/commands/query.ts";
import { ingestNow, startTestServer, writeFiles, type TestServer } from "./helpers/kb.ts";

let t: TestServer;
let policyDir: string;
const saved = { ...process.env };

async function cli(...args: string[]): Promise<string> {
  return runKb([registerQueryCommands], args);
}

const QUESTION = "How many days of annual leave after one year?";

async function askEvents(actor: string) {
  return (await t.kb.audit.query(SYSTEM_ACTOR, { action: "ask", actor })).items;
}

beforeAll(async () => {
  // A role that may not search: neither channel may ask with it.
  policyDir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-ask-policies-"));
  fs.writeFileSync(path.join(policyDir, "roles.json"), JSON.stringify({ roles: { "audit-only": { capabilities: ["view_audit"] } } }));
  t = await startTestServer({ policyDir });
  await t.kb.admin.createGroup(SYSTEM_ACTOR, "hr");
  const [file] = writeFiles(path.join(t.dir, "docs"), { "leave.txt": "Annual leave. After one year of service an employee gets 15 days of annual leave." });
  await ingestNow(t.kb, [{ source: file!, path: file!, allow: ["group:hr"] }]);
  Object.assign(process.env, { ...t.env, KB_MODELS_DIR: t.kb.config.modelsDir, KB_POLICY_DIR: t.kb.config.policyDir, KB_EMBED_MODEL: "none", KB_LOG_LEVEL: "silent" });
});
afterAll(async () => {
  process.env = saved;
  await t?.close();
  fs.rmSync(policyDir, { recursive: true, force: true });
});

describe("kb ask and POST /api/v1/ask", () => {
  it("record the same audit event (question, retrieval, mode, chunks, found, citations, conversation)", async () => {
    const kimToken = await t.tokenFor("kim", "viewer", ["hr"]);
    const res = await t.fetchAs(kimToken, "/api/v1/ask", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ question: QUESTION }) });
    expect(res.status).toBe(200);
    const http = (await res.json()) as { found: boolean; citations: unknown[]; conversationId: string };
    expect(http.found).toBe(true);
    expect(http.citations.length).toBeGreaterThan(0);

    const out = await cli("ask", QUESTION, "--as", "kim", "--json");
    const printed = JSON.parse(out) as { conversationId: string; found: boolean };
    expect(printed.found).toBe(true);

    const [fromCli, fromHttp] = await askEvents("user:kim");
    expect(fromHttp!.details).toMatchObject({ conversationId: http.conversationId });
    expect(fromCli!.details).toMatchObject({ conversationId: printed.conversationId, via: "cli" });
    const { conversationId: _a, via: _v, ...cliEvent } = fromCli!.details as Record<string, unknown>;
    const { conversationId: _b, ...httpEvent } = fromHttp!.details as Record<string, unknown>;
    expect(cliEvent).toEqual(httpEvent);
    expect(httpEvent.citations).toHaveLength(http.citations.length);
  });

  it("keep the CLI conversation like the HTTP one: a follow-up continues it", async () => {
    const first = JSON.parse(await cli("ask", QUESTION, "--as", "kim", "--json")) as { conversationId: string };
    const second = JSON.parse(await cli("ask", "and after two years?", "--as", "kim", "--json", "--conversation", first.conversationId)) as { conversationId: string };
    expect(second.conversationId).toBe(first.conversationId);
    expect((await t.kb.conversations.get(await t.kb.accounts.actorByName("kim"), first.conversationId)).messages).toHaveLength(4);
  });

  it("refuse a user whose role may not search, on both channels", async () => {
    const token = await t.tokenFor("auditor", "audit-only");
    const res = await t.fetchAs(token, "/api/v1/ask", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ question: QUESTION }) });
    expect(res.status).toBe(403);
    await expect(cli("ask", QUESTION, "--as", "auditor")).rejects.toThrow(/not allowed|forbidden|may not/i);
    expect(await askEvents("user:auditor")).toEqual([]);
  });
});
