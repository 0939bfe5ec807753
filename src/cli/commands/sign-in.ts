/**
 * `kb users passwd` and `kb users sessions`: web sign-in from the command line, through the same
 * SignInService as the admin API (as the operator, with the same audit events).
 */
import readline from "node:readline";
import type { Command } from "commander";
import { SYSTEM_ACTOR } from "../../../policies/index.ts";
import { readStdin, withKb } from "../context.ts";

/** Asks for a new password twice on the terminal, without echoing what is typed. */
async function newPasswordFromUser(): Promise<string> {
  if (!process.stdin.isTTY) return readStdin();
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  const out = rl as unknown as { _writeToOutput: (s: string) => void };
  let muted = false;
  out._writeToOutput = (s: string) => {
    if (!muted) process.stderr.write(s);
  };
  const ask = (question: string) =>
    new Promise<string>((resolve) => {
      muted = false;
      rl.question(question, (answer) => {
        process.stderr.write("\n");
        resolve(answer);
      });
      muted = true; // the prompt is out; what is typed is not echoed
    });
  try {
    const first = await ask("new password: ");
    const second = await ask("again: ");
    if (first !== second) throw new Error("the two passwords differ; nothing was changed");
    return first;
  } finally {
    rl.close();
  }
}

export function registerSignInCommands(program: Command): void {
  const users = program.commands.find((c) => c.name() === "users") ?? program.command("users").description("manage users");
  users
    .command("passwd <name>")
    .description("set a user's web sign-in password: read from standard input (--password-stdin, or asked on a terminal), or --generate one and print it; ends the user's sessions and any lock-out")
    .option("--password-stdin", "read the password from standard input (one line)")
    .option("--generate", "generate a random password and print it")
    .action(async (name: string, o: { passwordStdin?: boolean; generate?: boolean }) => {
      if (o.passwordStdin && o.generate) throw new Error("give either --password-stdin or --generate");
      // Read before opening the knowledge base, so nothing is held while someone types.
      const password = o.generate ? undefined : o.passwordStdin ? await readStdin() : await newPasswordFromUser();
      await withKb(async (kb) => {
        const r = await kb.signIn.setPassword(SYSTEM_ACTOR, name, o.generate ? { generate: true } : { password });
        if (r.generated) process.stdout.write(`${r.generated}\n`);
        console.error(`password of ${await kb.accounts.userName(name)} set; ${r.sessionsRevoked} session(s) ended`);
      });
    });
  users
    .command("sessions <name>")
    .description("list a user's live web sessions; --revoke ends them all")
    .option("--revoke", "end every session of the user")
    .action(async (name: string, o: { revoke?: boolean }) =>
      withKb(async (kb) => {
        if (o.revoke) {
          console.log(`${await kb.signIn.revokeSessionsOf(SYSTEM_ACTOR, name)} session(s) ended`);
          return;
        }
        for (const s of await kb.signIn.listSessions(SYSTEM_ACTOR, name)) console.log(`${s.id}\tsince=${s.createdAt}\tlast=${s.lastSeenAt}\tends=${s.expiresAt}\t${s.client ?? ""}\t${s.userAgent ?? ""}`);
      }),
    );
}
