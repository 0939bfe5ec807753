/**
 * What a sign-in costs, and whether its time tells the failure cases apart: argon2id hashing at
 * the stored parameters, and `SignInService.login` for a right password, a wrong one, an unknown
 * name, an account without a password and a locked account (interleaved, so machine load falls
 * on all cases alike). Usage: npm run bench:sign-in [-- rounds=40]; writes its section of
 * docs/benchmarks.md.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { loadConfig } from "../src/config.ts";
import { openKb } from "../src/services/container.ts";
import { ARGON2_OPTIONS, hashPassword } from "../src/services/sign-in.ts";
import { replaceSection } from "./report.ts";

const ROUNDS = Number(process.argv[2] ?? 40);
const PASSWORD = "correct horse battery staple";
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sign-in-bench-"));
const kb = await openKb(loadConfig({}, { dataDir: dir, modelsDir: path.join(dir, "models"), embedModel: "none", logLevel: "silent", loginLockAfter: 1, loginLockMs: 3_600_000 }), { logger: pino({ level: "silent" }) });
try {
  for (const name of ["kim", "locked"]) {
    await kb.accounts.createUser({ name, role: "viewer" });
    await kb.signIn.setPassword(SYSTEM_ACTOR, name, { password: PASSWORD });
  }
  await kb.accounts.createUser({ name: "nopass", role: "viewer" });
  await kb.signIn.login({ name: "locked", password: "wrong once", client: "bench" }).catch(() => {}); // lockAfter 1: locked now

  const time = async (f: () => Promise<unknown>) => {
    const t0 = performance.now();
    await f().catch(() => {});
    return performance.now() - t0;
  };
  const cases: Record<string, () => Promise<unknown>> = {
    "hash a new password": () => hashPassword(PASSWORD),
    "sign-in, right password": () => kb.signIn.login({ name: "kim", password: PASSWORD, client: "bench" }),
    "sign-in, wrong password": () => kb.signIn.login({ name: "kim", password: "not the password", client: "bench" }),
    "sign-in, unknown name": () => kb.signIn.login({ name: "nobody", password: "not the password", client: "bench" }),
    "sign-in, no password set": () => kb.signIn.login({ name: "nopass", password: "not the password", client: "bench" }),
    "sign-in, locked account": () => kb.signIn.login({ name: "locked", password: PASSWORD, client: "bench" }),
  };
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (const f of Object.values(cases)) await f().catch(() => {}); // warm-up (the dummy hash is made on first use)
  for (let r = 0; r < ROUNDS; r++) for (const [k, f] of Object.entries(cases)) samples[k]!.push(await time(f));
  const pct = (a: number[], p: number) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(a.length * p))]!;
  const rows = Object.entries(samples).map(([k, a]) => `| ${k} | ${pct(a, 0.5).toFixed(1)} ms | ${pct(a, 0.9).toFixed(1)} ms |`);
  const body = [
    `Measured ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${os.cpus()[0]?.model.split(" ").slice(0, 2).join(" ")}, Node ${process.version}, load average ${os.loadavg()[0]!.toFixed(1)} at the end, command \`npm run bench:sign-in\` (${ROUNDS} rounds, cases interleaved).`,
    `argon2id m=${ARGON2_OPTIONS.memoryCost} KiB, t=${ARGON2_OPTIONS.timeCost}, p=${ARGON2_OPTIONS.parallelism} (@node-rs/argon2).`,
    "",
    "| case | median | p90 |",
    "|---|---|---|",
    ...rows,
  ].join("\n");
  console.log(body);
  replaceSection(path.resolve("docs/benchmarks.md"), "sign-in", body);
} finally {
  await kb.close();
  fs.rmSync(dir, { recursive: true, force: true });
}
