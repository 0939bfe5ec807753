/** Runs `kb …` commands in-process (the real command modules on a fresh commander program). */
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
