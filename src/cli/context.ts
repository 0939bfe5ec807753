/** Shared CLI plumbing: opening the knowledge base from the environment and printing errors. */
import { loadConfig, type Config } from "../config.ts";
import type { Kb } from "../services/container.ts";
import { SYSTEM_ACTOR, type Actor } from "../../policies/index.ts";

export async function withKb<T>(fn: (kb: Kb) => Promise<T>, overrides: Partial<Config> = {}): Promise<T> {
  // The LLM (if configured) loads at the first question only: most commands never ask.
  // The container (stores, extractors, models) is imported here, not at the top: `kb --help`
  // and commands that never open the knowledge base start without loading any of it.
  const { openKb } = await import("../services/container.ts");
  const kb = await openKb(loadConfig(process.env, overrides), { llmLoad: "lazy", rerankerLoad: "lazy" });
  try {
    return await fn(kb);
  } finally {
    await kb.close();
  }
}

/** `--as <user>` runs a command with that user's permissions; without it, as the operator (admin). */
export async function actorFor(kb: Kb, as: string | undefined): Promise<Actor> {
  return as ? kb.accounts.actorByName(as) : SYSTEM_ACTOR;
}

export function splitList(v: string | undefined): string[] {
  return (v ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The whole of standard input (a pipe or file), without one trailing line break: passwords are read this way, never from arguments (which `ps` shows). */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}
