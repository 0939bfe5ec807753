/**
 * First start: an admin user with a token and a sign-in password, each written to a 0600 file,
 * and the bundled demo corpus ingested, so a new installation answers questions at once.
 */
import fs from "node:fs";
import path from "node:path";
import { SYSTEM_ACTOR } from "../../policies/index.ts";
import { writePrivateFile } from "../stores/private-files.ts";
import type { Kb } from "./container.ts";
import { packagePath } from "../paths.ts";

export const DEMO_DIR = packagePath("data", "demo");

export const ADMIN_TOKEN_FILE = "admin-token";
export const ADMIN_CREDENTIALS_FILE = "admin-credentials";

/** The first admin's sign-in name and password as written to `admin-credentials`. */
export function formatCredentials(name: string, password: string): string {
  return `# private-kb: the first admin's sign-in for the web app (change the password after signing in)\nname: ${name}\npassword: ${password}\n`;
}

/**
 * Creates user "admin" with a token if there are no users, and gives "admin" a generated
 * password when it has none and `admin-credentials` does not exist yet (a first start, or the
 * first start of a version with sign-in on an older data folder). Both secrets are written to
 * 0600 files in the data folder; returns their paths.
 */
export async function ensureAdmin(kb: Kb): Promise<{ tokenFile: string; created: boolean; credentialsFile: string | null; passwordCreated: boolean }> {
  const tokenFile = path.join(kb.config.dataDir, ADMIN_TOKEN_FILE);
  const credentialsFile = path.join(kb.config.dataDir, ADMIN_CREDENTIALS_FILE);
  let created = false;
  if ((await kb.accounts.listUsers()).length === 0) {
    await kb.accounts.createUser({ name: "admin", role: "admin", clearance: 3 });
    const { token, info } = await kb.accounts.createToken("admin", { name: "first admin token" });
    writePrivateFile(tokenFile, `${token}\n`);
    await kb.audit.record("system", "token.create", "user:admin", { tokenId: info.id, reason: "first start" });
    created = true;
  }
  const admin = (await kb.accounts.listUsers()).find((u) => u.name === "admin" && u.role === "admin" && !u.disabled);
  let passwordCreated = false;
  if (admin && !fs.existsSync(credentialsFile)) {
    const password = await kb.signIn.ensureInitialPassword(SYSTEM_ACTOR, admin.name);
    if (password !== null) {
      writePrivateFile(credentialsFile, formatCredentials(admin.name, password));
      passwordCreated = true;
    }
  }
  return { tokenFile, created, credentialsFile: fs.existsSync(credentialsFile) ? credentialsFile : null, passwordCreated };
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
