/**
 * The policy folder (`KB_POLICY_DIR`, default `<data>/policies`): roles.json,
 * document-rules.json, oidc-providers.json and ldap-directories.json, all optional. Loaded and validated at start (an invalid file stops the
 * start with a clear error); afterwards re-read when a file changes (size, mtime or inode,
 * checked at most once per `checkIntervalMs` on use), so edits apply without a restart. An edit
 * that does not validate is logged and ignored: the last good version stays in force.
 */
import fs from "node:fs";
import path from "node:path";
import {
  BUILTIN_ROLE_CATALOG,
  DOCUMENT_RULES_FILE,
  NO_DOCUMENT_RULES,
  NO_OIDC_PROVIDERS,
  OIDC_PROVIDERS_FILE,
  parseOidcProvidersFile,
  type OidcProviders,
  parseDocumentRulesFile,
  parseRolesFile,
  PolicyConfigError,
  ROLES_FILE,
  type DocumentRules,
  type RoleCatalog,
} from "../../policies/index.ts";
import { LDAP_DIRECTORIES_FILE, NO_LDAP_DIRECTORIES, parseLdapDirectoriesFile, type LdapDirectories } from "../../policies/ldap-directories.ts";

interface Slot<T> {
  file: string;
  parse: (text: string, file: string) => T;
  empty: T;
  value: T;
  signature: string | null;
  loadedAt: string | null;
  error: string | null;
}

export interface PolicyFileStatus {
  file: string;
  present: boolean;
  loadedAt: string | null;
  /** Why the file on disk is not in force (the last good version is), if it is not. */
  error: string | null;
}

function signature(file: string): string | null {
  try {
    const st = fs.statSync(file);
    return `${st.size}:${st.mtimeMs}:${st.ino}`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

export class PolicyFiles {
  private readonly roleSlot: Slot<RoleCatalog>;
  private readonly ruleSlot: Slot<DocumentRules>;
  private readonly oidcSlot: Slot<OidcProviders>;
  private readonly ldapSlot: Slot<LdapDirectories>;
  private checkedAt = 0;

  constructor(
    readonly dir: string,
    private readonly options: {
      checkIntervalMs?: number;
      log?: (level: "info" | "error", msg: string) => void;
      /** The identity sources configured elsewhere (`scim:<id>`, `ldap:<id>`): an OIDC provider may not take their ids. */
      otherIdentitySources?: () => readonly string[];
    } = {},
  ) {
    this.roleSlot = { file: path.join(dir, ROLES_FILE), parse: parseRolesFile, empty: BUILTIN_ROLE_CATALOG, value: BUILTIN_ROLE_CATALOG, signature: null, loadedAt: null, error: null };
    this.ruleSlot = { file: path.join(dir, DOCUMENT_RULES_FILE), parse: parseDocumentRulesFile, empty: NO_DOCUMENT_RULES, value: NO_DOCUMENT_RULES, signature: null, loadedAt: null, error: null };
    // Source ids are unique across kinds: each file is checked against the others in force.
    const ldapSources = () => this.ldapSlot.value.directories.map((d) => `ldap:${d.id}`);
    const oidcSources = () => this.oidcSlot.value.providers.map((p) => `oidc:${p.id}`);
    const parseOidc = (text: string, file: string) => parseOidcProvidersFile(text, file, (role) => this.roleSlot.value.has(role), [...(this.options.otherIdentitySources?.() ?? []), ...ldapSources()]);
    this.oidcSlot = { file: path.join(dir, OIDC_PROVIDERS_FILE), parse: parseOidc, empty: NO_OIDC_PROVIDERS, value: NO_OIDC_PROVIDERS, signature: null, loadedAt: null, error: null };
    const parseLdap = (text: string, file: string) => parseLdapDirectoriesFile(text, file, [...(this.options.otherIdentitySources?.() ?? []), ...oidcSources()]);
    this.ldapSlot = { file: path.join(dir, LDAP_DIRECTORIES_FILE), parse: parseLdap, empty: NO_LDAP_DIRECTORIES, value: NO_LDAP_DIRECTORIES, signature: null, loadedAt: null, error: null };
  }

  private slots(): Slot<unknown>[] {
    return [this.roleSlot, this.ruleSlot, this.oidcSlot, this.ldapSlot] as Slot<unknown>[];
  }

  /** Loads the files; throws PolicyConfigError when one is invalid (used at start). */
  static load(dir: string, options: ConstructorParameters<typeof PolicyFiles>[1] = {}): PolicyFiles {
    const files = new PolicyFiles(dir, options);
    for (const slot of files.slots()) {
      files.reload(slot, true);
    }
    files.checkedAt = Date.now();
    return files;
  }

  /** Validates the files in a folder without loading them anywhere (`kb policy validate`). */
  static validate(dir: string): { file: string; present: boolean; ok: boolean; issues: string[]; summary: string }[] {
    const check = <T>(name: string, parse: (text: string, file: string) => T, summarize: (v: T) => string) => {
      const file = path.join(dir, name);
      if (!fs.existsSync(file)) return { file, present: false, ok: true, issues: [], summary: "absent (built-in defaults apply)" };
      try {
        return { file, present: true, ok: true, issues: [], summary: summarize(parse(fs.readFileSync(file, "utf8"), name)) };
      } catch (err) {
        if (err instanceof PolicyConfigError) return { file, present: true, ok: false, issues: err.issues, summary: "invalid" };
        throw err;
      }
    };
    return [
      check(ROLES_FILE, parseRolesFile, (c) => {
        const custom = c.list().filter((r) => !r.builtin);
        return `${custom.length} custom role(s)${custom.length ? `: ${custom.map((r) => `${r.name} [${r.capabilities.join(", ")}]`).join("; ")}` : ""}`;
      }),
      check(DOCUMENT_RULES_FILE, parseDocumentRulesFile, (r) => `${r.rules.length} rule(s)${r.rules.length ? `: ${r.rules.map((x) => x.name).join(", ")}` : ""}`),
      check(OIDC_PROVIDERS_FILE, parseOidcProvidersFile, (o) => `${o.providers.length} OpenID Connect provider(s)${o.providers.length ? `: ${o.providers.map((p) => `${p.id} (${p.issuer})`).join(", ")}` : ""}`),
      check(LDAP_DIRECTORIES_FILE, parseLdapDirectoriesFile, (l) => `${l.directories.length} directory(ies)${l.directories.length ? `: ${l.directories.map((d) => `ldap:${d.id} (${d.url})`).join(", ")}` : ""}`),
    ];
  }

  roles(): RoleCatalog {
    this.maybeRefresh();
    return this.roleSlot.value;
  }

  documentRules(): DocumentRules {
    this.maybeRefresh();
    return this.ruleSlot.value;
  }

  oidcProviders(): OidcProviders {
    this.maybeRefresh();
    return this.oidcSlot.value;
  }

  /** The LDAP / Active Directory servers (ldap-directories.json); none when absent. */
  ldapDirectories(): LdapDirectories {
    this.maybeRefresh();
    return this.ldapSlot.value;
  }

  /** Re-reads changed files now. */
  refresh(): void {
    this.checkedAt = Date.now();
    for (const slot of this.slots()) this.reload(slot, false);
  }

  status(): PolicyFileStatus[] {
    return this.slots().map((s) => ({ file: s.file, present: s.signature !== null, loadedAt: s.loadedAt, error: s.error }));
  }

  private maybeRefresh(): void {
    const interval = this.options.checkIntervalMs ?? 1000;
    if (Date.now() - this.checkedAt < interval) return;
    this.refresh();
  }

  private reload(slot: Slot<unknown>, strict: boolean): void {
    const sig = signature(slot.file);
    if (sig === slot.signature && (slot.loadedAt !== null || sig === null)) return;
    if (sig === null) {
      if (slot.signature !== null) this.options.log?.("info", `${slot.file} removed: built-in defaults apply`);
      slot.value = slot.empty;
      slot.signature = null;
      slot.loadedAt = null;
      slot.error = null;
      return;
    }
    try {
      slot.value = slot.parse(fs.readFileSync(slot.file, "utf8"), path.basename(slot.file));
      slot.loadedAt = new Date().toISOString();
      slot.error = null;
      if (!strict) this.options.log?.("info", `reloaded ${slot.file}`);
    } catch (err) {
      if (strict) throw err;
      slot.error = err instanceof Error ? err.message : String(err);
      this.options.log?.("error", `${slot.error}\n(keeping the last valid version of ${slot.file})`);
    }
    slot.signature = sig;
  }
}
