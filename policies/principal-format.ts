/** Parsing and validation of principals (`user:kim`, `group:hr`, `role:editor`). */
const NAME = /^[\p{L}\p{N}._@-]{1,64}$/u;

export type PrincipalKind = "user" | "group" | "role";

export function isValidName(name: string): boolean {
  return NAME.test(name);
}

export function parsePrincipal(text: string): { kind: PrincipalKind; name: string } {
  const m = /^(user|group|role):(.+)$/.exec(text.trim());
  if (!m || !isValidName(m[2]!)) {
    throw new Error(`invalid principal "${text}": expected user:<name>, group:<name> or role:<name> (letters, digits, . _ @ -)`);
  }
  return { kind: m[1] as PrincipalKind, name: m[2]! };
}

/** "group:hr, user:kim" → ["group:hr", "user:kim"] (validated, deduplicated, sorted). */
export function parsePrincipalList(text: string | undefined | null): string[] {
  if (!text) return [];
  const out = new Set<string>();
  for (const part of text.split(",")) {
    if (!part.trim()) continue;
    const p = parsePrincipal(part);
    out.add(`${p.kind}:${p.name}`);
  }
  return [...out].sort();
}
