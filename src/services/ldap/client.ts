/**
 * One LDAP / Active Directory server as this product reads it (ldapts underneath): connect
 * (ldaps:// or StartTLS with the configured CA), bind as the service account, find a user by
 * login name, check a user's password by binding as them, read users and groups with paged
 * searches. Values typed by users only ever reach a filter through ldapts' filter classes
 * (EqualityFilter encodes the value as an octet string: no filter injection).
 */
import fs from "node:fs";
import tls from "node:tls";
import { AndFilter, Client, EqualityFilter, FilterParser, InvalidCredentialsError, NoSuchObjectError, type Entry, type Filter } from "ldapts";
import type { LdapDirectory, SecretSpec } from "../../../policies/ldap-directories.ts";

export type ReadSecret = (spec: SecretSpec, what: string) => string;

export interface DirectoryUserEntry {
  dn: string;
  /** The stable id (entryUUID, or objectGUID as its GUID string). */
  id: string;
  login: string | null;
  displayName: string | null;
  email: string | null;
  /** Groups' DNs from memberOf (memberOf style only). */
  memberOf: string[];
}

export interface DirectoryGroupEntry {
  dn: string;
  id: string;
  name: string | null;
  /** Members' DNs (member style) . */
  members: string[];
  /** The groups this group is in (memberOf style). */
  memberOf: string[];
}

/** The directory could not be used (unreachable, TLS, service account refused, base missing). */
export class DirectoryUnavailableError extends Error {
  constructor(
    readonly directory: string,
    message: string,
  ) {
    super(`directory ldap:${directory}: ${message}`);
    this.name = "DirectoryUnavailableError";
  }
}

/** objectGUID's 16 bytes as Microsoft writes the GUID (the first three fields little-endian). */
export function guidString(b: Buffer): string {
  if (b.length !== 16) throw new Error(`a GUID has 16 bytes, not ${b.length}`);
  const hex = (x: Buffer) => x.toString("hex");
  const le = (start: number, len: number) => hex(Buffer.from(b.subarray(start, start + len)).reverse());
  return `${le(0, 4)}-${le(4, 2)}-${le(6, 2)}-${hex(b.subarray(8, 10))}-${hex(b.subarray(10, 16))}`;
}

/** A DN in one spelling for comparisons: RDNs trimmed, `=` without spaces, lower case. */
export function normalizeDn(dn: string): string {
  return dn
    .split(/(?<!\\),/)
    .map((rdn) => rdn.trim().replace(/^([^=]+?)\s*=\s*/, "$1=").toLowerCase())
    .join(",");
}

const BINARY_IDS = new Set(["objectguid"]);

function attr(entry: Entry, name: string): Buffer | Buffer[] | string[] | string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(entry)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

function strings(entry: Entry, name: string): string[] {
  const v = attr(entry, name);
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map((x) => (Buffer.isBuffer(x) ? x.toString("utf8") : x));
}

function first(entry: Entry, name: string | null): string | null {
  return name ? (strings(entry, name)[0] ?? null) : null;
}

function stableId(entry: Entry, name: string): string | null {
  const v = attr(entry, name);
  const one = Array.isArray(v) ? v[0] : v;
  if (one === undefined) return null;
  if (BINARY_IDS.has(name.toLowerCase())) return Buffer.isBuffer(one) ? guidString(one) : null;
  return Buffer.isBuffer(one) ? one.toString("utf8") : one;
}

export class LdapConnection {
  private constructor(
    private readonly dir: LdapDirectory,
    private readonly client: Client,
    private readonly tlsOptions: tls.ConnectionOptions,
  ) {}

  private static tlsOptionsOf(dir: LdapDirectory): tls.ConnectionOptions {
    const host = new URL(dir.url.replace(/^ldaps?:/i, "http:")).hostname;
    const ip = /^[\d.]+$|:/.test(host);
    return {
      ...(dir.caFile ? { ca: fs.readFileSync(dir.caFile) } : {}),
      servername: ip ? undefined : host,
      // The certificate must name the host of the URL (StartTLS upgrades a socket whose host Node does not know).
      checkServerIdentity: (_name, cert) => tls.checkServerIdentity(host.replace(/^\[|\]$/g, ""), cert),
      rejectUnauthorized: true,
    };
  }

  /** A connected client (TLS set up), not bound. */
  private static async connect(dir: LdapDirectory, tlsOptions: tls.ConnectionOptions): Promise<Client> {
    // ldapts speaks TLS from the start whenever tlsOptions are given: only for ldaps://.
    const ldaps = dir.url.toLowerCase().startsWith("ldaps://");
    const client = new Client({ url: dir.url, timeout: dir.timeoutSeconds * 1000, connectTimeout: dir.timeoutSeconds * 1000, ...(ldaps ? { tlsOptions } : {}) });
    if (dir.startTls) await client.startTLS(tlsOptions);
    return client;
  }

  /** Connects and binds as the service account (or searches anonymously without one). */
  static async open(dir: LdapDirectory, readSecret: ReadSecret): Promise<LdapConnection> {
    let tlsOptions: tls.ConnectionOptions;
    try {
      tlsOptions = LdapConnection.tlsOptionsOf(dir);
    } catch (err) {
      throw new DirectoryUnavailableError(dir.id, `cannot read caFile: ${(err as Error).message}`);
    }
    const password = dir.bindDn && dir.bindPassword ? readSecret(dir.bindPassword, `ldap:${dir.id} bindPassword`) : null;
    let client: Client | null = null;
    try {
      client = await LdapConnection.connect(dir, tlsOptions);
      if (dir.bindDn) await client.bind(dir.bindDn, password!);
      return new LdapConnection(dir, client, tlsOptions);
    } catch (err) {
      await client?.unbind().catch(() => {});
      throw new DirectoryUnavailableError(dir.id, err instanceof InvalidCredentialsError ? "the service account (bindDn) was refused: check bindPassword" : describe(err));
    }
  }

  async close(): Promise<void> {
    await this.client.unbind().catch(() => {});
  }

  private userAttributes(): string[] {
    const u = this.dir.users;
    const list = [u.loginAttribute, u.idAttribute, u.displayNameAttribute, u.emailAttribute, this.dir.groups.style === "memberOf" ? "memberOf" : null];
    return [...new Set(list.filter((x): x is string => x !== null))];
  }

  private binary(): string[] {
    return [this.dir.users.idAttribute, this.dir.groups.idAttribute].filter((a) => BINARY_IDS.has(a.toLowerCase()));
  }

  private toUser(e: Entry): DirectoryUserEntry | null {
    const id = stableId(e, this.dir.users.idAttribute);
    if (!id) return null;
    return {
      dn: e.dn,
      id,
      login: first(e, this.dir.users.loginAttribute),
      displayName: first(e, this.dir.users.displayNameAttribute),
      email: first(e, this.dir.users.emailAttribute),
      memberOf: this.dir.groups.style === "memberOf" ? strings(e, "memberOf") : [],
    };
  }

  private toGroup(e: Entry): DirectoryGroupEntry | null {
    const id = stableId(e, this.dir.groups.idAttribute);
    if (!id) return null;
    const g = this.dir.groups;
    return { dn: e.dn, id, name: first(e, g.nameAttribute), members: g.style === "member" ? strings(e, g.memberAttribute) : [], memberOf: g.style === "memberOf" ? strings(e, "memberOf") : [] };
  }

  private async search(base: string, filter: Filter, attributes: string[], onPage?: (n: number) => void, scope: "sub" | "base" = "sub"): Promise<Entry[]> {
    const out: Entry[] = [];
    try {
      // A base search of a DN that is gone (a stale memberOf value): no entry.
      if (scope === "base") return (await this.client.search(base, { scope, filter, attributes, explicitBufferAttributes: this.binary() })).searchEntries;
      for await (const page of this.client.searchPaginated(base, { scope, filter, attributes, explicitBufferAttributes: this.binary(), paged: { pageSize: this.dir.pageSize } })) {
        out.push(...page.searchEntries);
        onPage?.(out.length);
      }
    } catch (err) {
      if (scope === "base" && err instanceof NoSuchObjectError) return [];
      throw new DirectoryUnavailableError(this.dir.id, `search under "${base}" failed: ${describe(err)}`);
    }
    return out;
  }

  /** The user a login name names, or null when none or more than one entry has it. */
  async findUser(login: string): Promise<DirectoryUserEntry | null> {
    const filter = new AndFilter({ filters: [FilterParser.parseString(this.dir.users.filter), new EqualityFilter({ attribute: this.dir.users.loginAttribute, value: login })] });
    const found = (await this.search(this.dir.users.base, filter, this.userAttributes(), undefined)).map((e) => this.toUser(e)).filter((u) => u !== null);
    return found.length === 1 ? found[0]! : null;
  }

  /**
   * Whether `password` is the password of `dn`: a bind as that DN on a connection of its own.
   * An empty password is refused here too (RFC 4513 5.1.2: an empty password is an
   * unauthenticated bind, which many servers answer with success).
   */
  async checkPassword(dn: string, password: string): Promise<boolean> {
    if (password.length === 0) return false;
    let client: Client | null = null;
    try {
      client = await LdapConnection.connect(this.dir, this.tlsOptions);
      await client.bind(dn, password);
      return true;
    } catch (err) {
      if (err instanceof InvalidCredentialsError) return false;
      throw new DirectoryUnavailableError(this.dir.id, `bind failed: ${describe(err)}`);
    } finally {
      await client?.unbind().catch(() => {});
    }
  }

  /** Every user under the users base that matches the filter (paged). */
  async users(onPage?: (n: number) => void): Promise<DirectoryUserEntry[]> {
    const entries = await this.search(this.dir.users.base, FilterParser.parseString(this.dir.users.filter), this.userAttributes(), onPage);
    return entries.map((e) => this.toUser(e)).filter((u) => u !== null);
  }

  private groupAttributes(): string[] {
    const g = this.dir.groups;
    return [...new Set([g.idAttribute, g.nameAttribute, g.style === "member" ? g.memberAttribute : "memberOf"])];
  }

  /** Every group under the groups base that matches the filter (paged). */
  async groups(onPage?: (n: number) => void): Promise<DirectoryGroupEntry[]> {
    const entries = await this.search(this.dir.groups.base, FilterParser.parseString(this.dir.groups.filter), this.groupAttributes(), onPage);
    if (this.dir.groups.style === "member") for (const e of entries) await this.completeRange(e, this.dir.groups.memberAttribute);
    return entries.map((e) => this.toGroup(e)).filter((g) => g !== null);
  }

  /**
   * Active Directory sends a multi-valued attribute with more values than its MaxValRange (1500)
   * as `member;range=0-1499`, and the rest only when asked range by range; an incomplete member
   * list would remove members, so the rest is read here (or the sync fails). Written to AD's
   * documented behaviour; untested (OpenLDAP never sends ranges).
   */
  private async completeRange(entry: Entry, attribute: string): Promise<void> {
    const prefix = `${attribute.toLowerCase()};range=`;
    const rangedKey = (e: Entry) => Object.keys(e).find((k) => k.toLowerCase().startsWith(prefix));
    let key = rangedKey(entry);
    if (!key) return;
    const values = strings(entry, key);
    delete entry[key];
    for (let rounds = 0; !key.endsWith("-*"); rounds++) {
      const end = /-(\d+)$/.exec(key);
      if (!end || rounds > 100_000) throw new DirectoryUnavailableError(this.dir.id, `unexpected ranged attribute "${key}" on ${entry.dn}`);
      const [next] = await this.search(entry.dn, FilterParser.parseString("(objectClass=*)"), [`${attribute};range=${Number(end[1]) + 1}-*`], undefined, "base");
      const nextKey = next ? rangedKey(next) : undefined;
      if (!next || !nextKey) throw new DirectoryUnavailableError(this.dir.id, `could not read all values of ${attribute} of ${entry.dn}`);
      values.push(...strings(next, nextKey));
      key = nextKey;
    }
    entry[attribute] = values;
  }

  /** The groups an entry (user or group) is a direct member of. */
  async groupsOf(entry: { dn: string; memberOf: string[] }): Promise<DirectoryGroupEntry[]> {
    const g = this.dir.groups;
    if (g.style === "member") {
      const filter = new AndFilter({ filters: [FilterParser.parseString(g.filter), new EqualityFilter({ attribute: g.memberAttribute, value: entry.dn })] });
      return (await this.search(g.base, filter, this.groupAttributes())).map((e) => this.toGroup(e)).filter((x) => x !== null);
    }
    const out: DirectoryGroupEntry[] = [];
    const base = normalizeDn(g.base);
    for (const dn of entry.memberOf) {
      if (!normalizeDn(dn).endsWith(base)) continue;
      for (const e of await this.search(dn, FilterParser.parseString(g.filter), this.groupAttributes(), undefined, "base")) {
        const group = this.toGroup(e);
        if (group) out.push(group);
      }
    }
    return out;
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}
