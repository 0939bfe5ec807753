/**
 * First start: an admin user with a token written to a 0600 file, and the bundled demo
 * corpus ingested, so a new installation answers questions at once.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { SYSTEM_ACTOR } from "../../policies/index.ts";
import { writePrivateFile } from "../stores/private-files.ts";
import type { Kb } from "./container.ts";

export const DEMO_DIR = fileURLToPath(new URL("../../data/demo", import.meta.url));

/** Creates user "admin" with a token if there are no users; returns the token file path. */
export function ensureAdmin(kb: Kb): { tokenFile: string; created: boolean } {
  const tokenFile = path.join(kb.config.dataDir, "admin-token");
  if (kb.accounts.listUsers().length > 0) return { tokenFile, created: false };
  kb.accounts.createUser({ name: "admin", role: "admin", clearance: 3 });
  const { token, info } = kb.accounts.createToken("admin", { name: "first admin token" });
  writePrivateFile(tokenFile, `${token}\n`);
  kb.audit.record("system", "token.create", "user:admin", { tokenId: info.id, reason: "first start" });
  return { tokenFile, created: true };
}

/** Submits the demo corpus once, on an empty knowledge base. Returns the job id, if any. */
export async function ensureDemoCorpus(kb: Kb): Promise<string | null> {
  if ((await kb.status.documentCount()) > 0 || !fs.existsSync(DEMO_DIR)) return null;
  const files = fs
    .readdirSync(DEMO_DIR)
    .filter((f) => !f.startsWith("."))
    .sort()
    .map((f) => path.join(DEMO_DIR, f));
  if (files.length === 0) return null;
  return (await kb.ingest.submit(SYSTEM_ACTOR, files.map((f) => ({ source: `demo/${path.basename(f)}`, path: f })))).jobId;
}
