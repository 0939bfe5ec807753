/** Runs `kb …` commands in-process (the real command modules on a fresh commander program), or as the real `bin/kb.js`. */
import { spawn } from "node:child_process";
import path from "node:path";
import { Command } from "commander";
import { vi } from "vitest";

/**
 * What the commands registered by `register` print for `args` (console.log lines and direct
 * stdout writes, in order); console.error is silenced when `quietErrors`.
 */
export async function runKb(register: ((program: Command) => void)[], args: string[], options: { quietErrors?: boolean } = {}): Promise<string> {
  const program = new Command().exitOverride();
  for (const r of register) r(program);
  const lines: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void lines.push(a.join(" ")));
  const write = vi.spyOn(process.stdout, "write").mockImplementation((chunk: unknown) => (lines.push(String(chunk)), true));
  const err = options.quietErrors ? vi.spyOn(console, "error").mockImplementation(() => {}) : null;
  try {
    await program.parseAsync(["node", "kb", ...args]);
  } finally {
    log.mockRestore();
    write.mockRestore();
    err?.mockRestore();
  }
  return lines.join("\n");
}

/** `bin/kb.js args` in a child process with `input` on its standard input (a password, say); its exit code and output. */
export function spawnKb(args: string[], input: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.resolve("bin/kb.js"), ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}
