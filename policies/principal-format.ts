/**
 * Parsing, canonical form and validation of principals (`user:kim`, `group:hr`, `role:editor`).
 *
 * A principal name is compared and stored in one canonical form, `canonicalName`: NFKC, then
 * case folding. Every boundary (HTTP, CLI, policy files, ACL changes, uploads, `--as`) passes
 * names through it before comparing or storing them, so NFC and NFD spellings of 김철수, `Kim`
 * and `kim`, or fullwidth `ｋｉｍ` and `kim` are one principal everywhere, including in the
 * LanceDB allow/deny columns the retrieval filter compares literally.
 */
import crypto from "node:crypto";
import { skeleton } from "./confusables.ts";

const NAME = /^[\p{L}\p{N}._@-]{1,64}$/u;

export type PrincipalKind = "user" | "group" | "role";

/** Syntax only (letters, digits, . _ @ -; 1-64), for tags and rule names; principals use `checkName`. */
export function isValidName(name: string): boolean {
  return NAME.test(name);
}

/**
 * NFKC_Casefold, approximated with what JavaScript has: NFKC; lower → upper → lower case (the
 * upper-case step gives full folding's expansions, e.g. ß/ẞ → ss, which `toLowerCase` alone
 * keeps); final sigma ς → σ (folding's only context-free difference left for names); NFKC again
 * because case mapping can produce non-NFKC sequences. Idempotent.
 */
export function canonicalName(name: string): string {
  return name.normalize("NFKC").toLowerCase().toUpperCase().toLowerCase().replaceAll("ς", "σ").normalize("NFKC");
}

/**
 * UTS #39 "highly restrictive": every letter from one script, or from one of the mixes Latin +
 * Han + Hiragana + Katakana, Latin + Han + Bopomofo, Latin + Han + Hangul; Common and Inherited
 * characters (digits, . _ @ -) go with any. Scripts are limited to UAX #31's recommended ones,
 * since a name's script can only be told for scripts we know of.
 */
const RECOMMENDED_SCRIPTS = [
  "Latin", "Han", "Hangul", "Hiragana", "Katakana", "Bopomofo", "Cyrillic", "Greek", "Armenian", "Georgian", "Hebrew", "Arabic", "Thaana",
  "Devanagari", "Bengali", "Gurmukhi", "Gujarati", "Oriya", "Tamil", "Telugu", "Kannada", "Malayalam", "Sinhala", "Thai", "Lao", "Tibetan",
  "Myanmar", "Khmer", "Ethiopic",
] as const;
const SCRIPT_RX = RECOMMENDED_SCRIPTS.map((s) => [s, new RegExp(`^\\p{Script_Extensions=${s}}$`, "u")] as const);
const COMMON_OR_INHERITED = /^[\p{Script=Common}\p{Script=Inherited}]$/u;
const ALLOWED_MIXES: ReadonlySet<string>[] = [
  new Set(["Latin", "Han", "Hiragana", "Katakana"]),
  new Set(["Latin", "Han", "Bopomofo"]),
  new Set(["Latin", "Han", "Hangul"]),
];

function scriptsOf(ch: string): string[] {
  return SCRIPT_RX.filter(([, rx]) => rx.test(ch)).map(([s]) => s);
}

/** Null when the name is highly restrictive, else why not. */
export function scriptProblem(name: string): string | null {
  const letters = [...name].filter((ch) => !COMMON_OR_INHERITED.test(ch));
  if (letters.length === 0) return null;
  const perChar = letters.map((ch) => ({ ch, scripts: scriptsOf(ch) }));
  const unknown = perChar.find((c) => c.scripts.length === 0);
  if (unknown) return `"${unknown.ch}" is not in a script allowed in names`;
  const candidates: ReadonlySet<string>[] = [...perChar[0]!.scripts.map((s) => new Set([s])), ...ALLOWED_MIXES];
  if (candidates.some((set) => perChar.every((c) => c.scripts.some((s) => set.has(s))))) return null;
  const seen = [...new Set(perChar.map((c) => c.scripts[0]!))];
  return `mixes scripts ${seen.join(" + ")} (one script, or Latin + Han with Hangul, Kana or Bopomofo)`;
}

export class PrincipalNameError extends Error {
  constructor(
    readonly code: "invalid_name" | "mixed_script" | "compatibility_characters",
    message: string,
  ) {
    super(message);
    this.name = "PrincipalNameError";
  }
}

/**
 * Directory principals. A user or group from a directory (OIDC, LDAP, SCIM) is named
 * `<source id>~<key>`: `~` cannot occur in a local name, so a directory entry never shares a
 * name with one an admin typed, and two sources never share one either. The key is the entry's
 * stable id (objectGUID, entryUUID, `sub`), never its display name, which changes ("인사 팀"
 * becoming "인사팀" must not change who may read what). UUIDs and GUIDs are case-insensitive and
 * kept readable (lower case, braces removed); any other id (an OIDC `sub` is case-sensitive and
 * arbitrary) is hashed instead of folded, so two ids that differ only in case stay two people.
 */
export const SOURCE_ID = /^[a-z][a-z0-9-]{0,15}$/;
const DIRECTORY_NAME = /^([a-z][a-z0-9-]{0,15})~([a-z0-9-]{1,40})$/;
const UUID_LIKE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/;

export function directoryPrincipalName(sourceId: string, stableId: string): string {
  if (!SOURCE_ID.test(sourceId)) throw new PrincipalNameError("invalid_name", `invalid directory source id "${sourceId}": a-z, 0-9, -; 1-16, starting with a letter`);
  if (!stableId) throw new PrincipalNameError("invalid_name", `directory source "${sourceId}" gave an empty id`);
  const bare = stableId.trim().replace(/^\{(.*)\}$/, "$1").toLowerCase();
  const key = UUID_LIKE.test(bare) ? bare : `h${crypto.createHash("sha256").update(stableId, "utf8").digest("hex").slice(0, 32)}`;
  return `${sourceId}~${key}`;
}

export function isDirectoryName(name: string): boolean {
  return DIRECTORY_NAME.test(name);
}

/** The source id part of a directory name (`corp` of `corp~6b3c…`), or null for a local name. */
export function directorySourceOf(name: string): string | null {
  return DIRECTORY_NAME.exec(name)?.[1] ?? null;
}

/** The canonical form of a principal name, or a PrincipalNameError saying what is wrong with it. */
export function checkName(name: string): string {
  const trimmed = name.trim();
  // Directory names are written by us, already canonical; only their exact form is accepted.
  if (DIRECTORY_NAME.test(trimmed)) return trimmed;
  const canonical = canonicalName(trimmed);
  if (!NAME.test(canonical)) throw new PrincipalNameError("invalid_name", `invalid name "${name}": 1-64 letters, digits, . _ @ -`);
  const problem = scriptProblem(canonical);
  if (problem) throw new PrincipalNameError("mixed_script", `invalid name "${name}": ${problem}`);
  return canonical;
}

/**
 * A name for a new user or group: `checkName`, and refused when it is written with
 * compatibility characters (fullwidth ｋｉｍ, halfwidth ｷﾑ, ligatures): such a spelling is only
 * ever a look-alike of its NFKC form, so the creator is told to write that form.
 */
export function checkNewName(name: string): string {
  if (DIRECTORY_NAME.test(name.trim())) throw new PrincipalNameError("invalid_name", `invalid name "${name}": names with "~" are reserved for directory users and groups`);
  const canonical = checkName(name);
  const nfc = name.trim().normalize("NFC");
  if (nfc !== nfc.normalize("NFKC")) {
    throw new PrincipalNameError("compatibility_characters", `invalid name "${name}": contains compatibility characters (fullwidth, halfwidth or ligature forms); write it as "${canonical}"`);
  }
  return canonical;
}

/** The UTS #39 skeleton of a name's canonical form: names that look alike share it. */
export function nameSkeleton(name: string): string {
  return skeleton(canonicalName(name));
}

export function parsePrincipal(text: string): { kind: PrincipalKind; name: string } {
  const m = /^(user|group|role):(.+)$/.exec(text.trim());
  if (!m) throw new Error(`invalid principal "${text}": expected user:<name>, group:<name> or role:<name> (letters, digits, . _ @ -)`);
  if (m[1] === "role" && DIRECTORY_NAME.test(m[2]!.trim())) throw new Error(`invalid principal "${text}": roles are not directory entries`);
  try {
    return { kind: m[1] as PrincipalKind, name: checkName(m[2]!) };
  } catch (err) {
    throw new Error(`invalid principal "${text}": ${(err as Error).message}`);
  }
}

/** The canonical text of a principal (`user:Kim` → `user:kim`); throws like `parsePrincipal`. */
export function canonicalPrincipal(text: string): string {
  const p = parsePrincipal(text);
  return `${p.kind}:${p.name}`;
}

/** "group:hr, user:kim" → ["group:hr", "user:kim"] (validated, canonical, deduplicated, sorted). */
export function parsePrincipalList(text: string | undefined | null): string[] {
  if (!text) return [];
  const out = new Set<string>();
  for (const part of text.split(",")) {
    if (!part.trim()) continue;
    out.add(canonicalPrincipal(part));
  }
  return [...out].sort();
}
