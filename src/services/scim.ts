/**
 * SCIM 2.0 provisioning (RFC 7643/7644): identity providers (Entra ID, Okta …) push users and
 * groups to /scim/v2 with a SCIM token; this service turns each request into directory changes
 * (`DirectoryService`, source `scim:<id>`), which audit them, and keeps the SCIM view of each
 * resource (what the client sent, `scim_resources`) so it can be shown back and filtered.
 *
 * Identity: the SCIM `id` is a UUID assigned here at creation and stored as the directory's
 * stable id, so the principal (`<id>~<uuid>`) never changes when the IdP renames a user
 * (userName is mutable, externalId is optional and the IdP's to change). A user that is
 * deactivated (`active: false`, Entra's "False" included) or deleted is disabled, and every API
 * token and web session of it revoked at once, by the directory in one transaction.
 *
 * Writes are applied one at a time in this process (the uniqueness checks and the directory
 * calls are separate transactions; the unique index on userName guards other processes).
 */
import crypto from "node:crypto";
import { authorize, ScimTokens, type Actor } from "../../policies/index.ts";
import { CORE_GROUP, CORE_USER, LIST_RESPONSE, getAttr, type Json, type JsonObject } from "../domain/scim/attributes.ts";
import { MAX_RESULTS } from "../domain/scim/discovery.ts";
import { invalidValue, ScimError, scimNotFound } from "../domain/scim/errors.ts";
import { matches, parseFilter, simpleEquality, type Filter } from "../domain/scim/filter.ts";
import { applyPatch, parsePatchRequest } from "../domain/scim/patch.ts";
import { attributeList, groupFacts, project, schemasOf, userFacts, type GroupMember } from "../domain/scim/resources.ts";
import { isUniqueViolation, type MetadataStore, type ScimResourceRow, type ScimResourceType, type ScimTokenRow } from "../stores/metadata.ts";
import { newId, sha256Hex } from "../stores/ids.ts";
import type { AuditLog } from "./audit.ts";
import { ServiceError, notFound } from "./errors.ts";

export const SCIM_TOKEN_PREFIX = "kbscim_";
/** A token's use is recorded (lastUsedAt and a `scim.token.use` event) at most once per this interval. */
const TOKEN_USE_RECORD_MS = 60_000;

/** Who is calling /scim: a SCIM token, for one directory source. */
export interface ScimClient {
  tokenId: string;
  name: string | null;
  source: string;
}

export interface ScimTokenInfo {
  id: string;
  source: string;
  name: string | null;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

interface DirectoryContext {
  actor?: Actor | string | null;
  reason?: string;
}

/** What this service needs of the directory (src/services/directory.ts, `kb.directory`). */
export interface ScimDirectory {
  upsertUser(
    source: string,
    input: { externalId: string; displayName?: string | null; email?: string | null; active?: boolean },
    ctx?: DirectoryContext,
  ): Promise<{ user: { name: string }; created: boolean; changed: boolean }>;
  upsertGroup(source: string, input: { externalId: string; displayName?: string | null }, ctx?: DirectoryContext): Promise<{ name: string; created: boolean }>;
  setGroupMembers(source: string, groupName: string, members: { kind: "user" | "group"; name: string }[], ctx?: DirectoryContext): Promise<unknown>;
  deactivateUser(userName: string, ctx?: DirectoryContext): Promise<{ tokensRevoked: number; sessionsRevoked: number }>;
  removeGroup(source: string, externalId: string, ctx?: DirectoryContext): Promise<boolean>;
}

export interface ScimServiceOptions {
  store: MetadataStore;
  directory: ScimDirectory;
  audit: AuditLog;
  /** The source's id (`KB_SCIM_SOURCE`): resources go to directory source `scim:<id>`. */
  sourceId: string;
}

/** The query of a list request, as received (strings; checked here). */
export interface ScimListQuery {
  filter?: string;
  startIndex?: string;
  count?: string;
  attributes?: string;
  excludedAttributes?: string;
}

/** `attributes` / `excludedAttributes` of a single-resource request. */
export type ScimProjection = Pick<ScimListQuery, "attributes" | "excludedAttributes">;

/** A resource and where it lives (for a 201's Location header). */
export interface ScimResult {
  resource: JsonObject;
  location: string;
}

const ENDPOINT: Record<ScimResourceType, string> = { User: "Users", Group: "Groups" };
const CORE: Record<ScimResourceType, string> = { User: CORE_USER, Group: CORE_GROUP };
/** Attributes an index answers `eq` on (the IdPs' lookups). */
const INDEXED: Record<ScimResourceType, string[]> = { User: ["id", "userName", "externalId"], Group: ["id", "displayName", "externalId"] };

const nameKey = (s: string) => s.normalize("NFC").toLowerCase();

function integerParam(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined || value.trim() === "") return fallback;
  if (!/^-?\d+$/.test(value.trim())) throw invalidValue(`${name} must be an integer`);
  return Number.parseInt(value, 10);
}

export class ScimService {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: ScimServiceOptions) {}

  /** The directory source SCIM writes (`scim:<id>`). */
  get source(): string {
    return `scim:${this.options.sourceId}`;
  }

  private get store(): MetadataStore {
    return this.options.store;
  }

  // ---- Tokens -------------------------------------------------------------------------------

  /** Creates a SCIM token for this server's SCIM source; the secret is returned once. */
  async createToken(actor: Actor, options: { name?: string; expiresInDays?: number } = {}): Promise<{ token: string; info: ScimTokenInfo }> {
    authorize(actor, "create", ScimTokens, null);
    if (options.expiresInDays !== undefined && !(Number.isFinite(options.expiresInDays) && options.expiresInDays > 0)) {
      throw new ServiceError(400, "bad_request", "expiry must be a positive number of days");
    }
    const token = SCIM_TOKEN_PREFIX + crypto.randomBytes(32).toString("base64url");
    const id = newId("scimtok");
    const expiresAt = options.expiresInDays ? new Date(Date.now() + options.expiresInDays * 86_400_000).toISOString() : null;
    await this.store.scimTokens.insert({ id, source: this.source, tokenHash: sha256Hex(token), name: options.name ?? null, expiresAt });
    await this.options.audit.record(actor, "scim.token.created", id, { source: this.source, name: options.name ?? null, expiresAt });
    return { token, info: this.info((await this.store.scimTokens.byId(id))!) };
  }

  async listTokens(actor: Actor): Promise<ScimTokenInfo[]> {
    authorize(actor, "list", ScimTokens, null);
    return (await this.store.scimTokens.list()).map((t) => this.info(t));
  }

  async revokeToken(actor: Actor, id: string): Promise<void> {
    authorize(actor, "revoke", ScimTokens, null);
    if (!(await this.store.scimTokens.revoke(id, new Date().toISOString()))) throw notFound(`active SCIM token "${id}"`);
    await this.options.audit.record(actor, "scim.token.revoked", id, { source: this.source });
  }

  private info(t: ScimTokenRow): ScimTokenInfo {
    return { id: t.id, source: t.source, name: t.name, createdAt: t.createdAt, expiresAt: t.expiresAt, revokedAt: t.revokedAt, lastUsedAt: t.lastUsedAt };
  }

  /**
   * The client a presented bearer token belongs to, or null: only SCIM tokens (`kbscim_…`) of
   * this server's SCIM source, neither revoked nor expired. Looked up by SHA-256, compared in
   * constant time, never cached (a revoked token is refused at once).
   */
  async authenticate(token: string): Promise<ScimClient | null> {
    if (!token.startsWith(SCIM_TOKEN_PREFIX) || token.length > 200) return null;
    const hash = sha256Hex(token);
    const row = await this.store.scimTokens.byHash(hash);
    if (!row || !crypto.timingSafeEqual(Buffer.from(row.tokenHash, "hex"), Buffer.from(hash, "hex"))) return null;
    if (row.revokedAt || (row.expiresAt && row.expiresAt <= new Date().toISOString())) return null;
    if (row.source !== this.source) return null; // made for another SCIM source id (KB_SCIM_SOURCE changed)
    const now = Date.now();
    if (await this.store.scimTokens.touchIfStale(row.id, new Date(now).toISOString(), new Date(now - TOKEN_USE_RECORD_MS).toISOString())) {
      await this.options.audit.record(`scim-token:${row.id}`, "scim.token.use", row.id, { name: row.name, source: row.source });
    }
    return { tokenId: row.id, name: row.name, source: row.source };
  }

  /**
   * A refused provisioning request (a SCIM error answered with 4xx/5xx), for the audit log:
   * the changes themselves are recorded by the directory as `directory.*` events.
   */
  async recordFailure(client: ScimClient | null, request: string, failure: { status: number; scimType: string | null; detail: string }): Promise<void> {
    try {
      await this.options.audit.record(client ? `scim-token:${client.tokenId}` : null, "scim.request", request, { source: this.source, ...failure }, "error");
    } catch {
      // The error is still answered; a database failure surfaces on the next write.
    }
  }

  // ---- Shared -------------------------------------------------------------------------------

  /** Runs provisioning writes one at a time (check-then-write stays consistent in this process). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private ctx(client: ScimClient, what: string): DirectoryContext {
    return { actor: `scim-token:${client.tokenId}`, reason: `SCIM ${what}${client.name ? ` (token "${client.name}")` : ""}` };
  }

  private async row(type: ScimResourceType, id: string): Promise<ScimResourceRow> {
    const row = await this.store.scimResources.get(this.source, type, id);
    if (!row) throw scimNotFound(`${type} ${JSON.stringify(id)} not found`);
    return row;
  }

  private meta(row: ScimResourceRow, base: string): JsonObject {
    return {
      resourceType: row.resourceType,
      created: row.createdAt,
      lastModified: row.updatedAt,
      version: `W/"${row.version}"`,
      location: `${base}/${ENDPOINT[row.resourceType]}/${row.id}`,
    };
  }

  private async toResource(row: ScimResourceRow, base: string, withMembers = true): Promise<JsonObject> {
    const attributes = row.attributes as JsonObject;
    if (row.resourceType === "User") {
      return { schemas: schemasOf(CORE_USER, attributes), id: row.id, ...attributes, active: (getAttr(attributes, "active") as boolean | undefined) ?? true, meta: this.meta(row, base) };
    }
    const stored = (attributes.members as unknown as GroupMember[] | undefined) ?? [];
    const { members: _omit, ...rest } = attributes;
    const out: JsonObject = { schemas: schemasOf(CORE_GROUP, rest), id: row.id, ...rest };
    if (withMembers) {
      const shown: Json[] = [];
      for (const m of stored) {
        const target = (await this.store.scimResources.get(this.source, "User", m.value)) ?? (await this.store.scimResources.get(this.source, "Group", m.value));
        if (!target) continue;
        const a = target.attributes as JsonObject;
        const display = (target.resourceType === "User" ? (getAttr(a, "displayName") ?? getAttr(a, "userName")) : getAttr(a, "displayName")) ?? null;
        shown.push({ value: m.value, ...(typeof display === "string" ? { display } : {}), type: target.resourceType, $ref: `${base}/${ENDPOINT[target.resourceType]}/${m.value}` });
      }
      out.members = shown;
    }
    out.meta = this.meta(row, base);
    return out;
  }

  /** The stored JSON a PATCH works on (what GET shows, members as stored). */
  private patchable(row: ScimResourceRow): JsonObject {
    return { id: row.id, ...(row.attributes as JsonObject) };
  }

  // ---- Reading ------------------------------------------------------------------------------

  async list(_client: ScimClient, type: ScimResourceType, q: ScimListQuery, base: string): Promise<JsonObject> {
    const filter: Filter | null = q.filter !== undefined && q.filter.trim() !== "" ? parseFilter(q.filter) : null;
    // RFC 7644 §3.4.2.4: startIndex below 1 is 1; a negative count is 0.
    const startIndex = Math.max(1, integerParam(q.startIndex, "startIndex", 1));
    const count = Math.min(MAX_RESULTS, Math.max(0, integerParam(q.count, "count", 100)));
    const attributes = attributeList(q.attributes);
    const excluded = attributeList(q.excludedAttributes);
    const eq = filter && simpleEquality(filter, INDEXED[type], CORE[type]);
    let rows: ScimResourceRow[];
    if (eq?.attr === "id") rows = [await this.store.scimResources.get(this.source, type, eq.value)].filter((r): r is ScimResourceRow => r !== undefined);
    else if (eq?.attr === "externalId") rows = await this.store.scimResources.byExternalId(this.source, type, eq.value);
    else if (eq) rows = [await this.store.scimResources.byNameKey(this.source, type, nameKey(eq.value))].filter((r): r is ScimResourceRow => r !== undefined);
    else rows = await this.store.scimResources.list(this.source, type);
    // Members are shown (and read) only when asked for, and only for the page.
    const membersWanted = type === "Group" && !(excluded ?? []).some((a) => a.toLowerCase() === "members") && (!attributes || attributes.some((a) => a.toLowerCase().startsWith("members")));
    const filterNeedsMembers = type === "Group" && filter !== null && /members/i.test(q.filter ?? "");
    const matched: { row: ScimResourceRow; json: JsonObject }[] = [];
    for (const row of rows) {
      const json = await this.toResource(row, base, filterNeedsMembers);
      if (filter === null || matches(json, filter, CORE[type])) matched.push({ row, json });
    }
    const page = matched.slice(startIndex - 1, startIndex - 1 + count);
    const resources: JsonObject[] = [];
    for (const { row, json } of page) {
      const full = membersWanted && !filterNeedsMembers ? await this.toResource(row, base, true) : json;
      if (!membersWanted && type === "Group") delete full.members;
      resources.push(project(full, CORE[type], attributes, excluded));
    }
    return { schemas: [LIST_RESPONSE], totalResults: matched.length, startIndex, itemsPerPage: resources.length, Resources: resources };
  }

  async get(_client: ScimClient, type: ScimResourceType, id: string, q: ScimProjection, base: string): Promise<JsonObject> {
    const row = await this.row(type, id);
    const excluded = attributeList(q.excludedAttributes);
    const withMembers = !(excluded ?? []).some((a) => a.toLowerCase() === "members");
    return project(await this.toResource(row, base, withMembers), CORE[type], attributeList(q.attributes), excluded);
  }

  // ---- Users --------------------------------------------------------------------------------

  createUser(client: ScimClient, body: unknown, base: string): Promise<ScimResult> {
    return this.serial(async () => {
      const facts = userFacts(body, { requireSchemas: true });
      const key = nameKey(facts.userName);
      if (await this.store.scimResources.byNameKey(this.source, "User", key)) throw new ScimError(409, "uniqueness", `userName ${JSON.stringify(facts.userName)} is taken`);
      const id = crypto.randomUUID();
      const active = facts.active ?? true;
      const { user } = await this.options.directory.upsertUser(
        this.source,
        { externalId: id, displayName: facts.displayName, email: facts.email, active },
        this.ctx(client, `create user ${facts.userName}`),
      );
      try {
        await this.store.scimResources.insert({ source: this.source, id, resourceType: "User", principal: user.name, nameKey: key, externalId: facts.externalId, attributes: { ...facts.attributes, active } });
      } catch (err) {
        // Another process took the userName meanwhile: the user made above must not stay usable.
        await this.options.directory.deactivateUser(user.name, this.ctx(client, `undo create user ${facts.userName}`));
        if (isUniqueViolation(err)) throw new ScimError(409, "uniqueness", `userName ${JSON.stringify(facts.userName)} is taken`);
        throw err;
      }
      const row = await this.row("User", id);
      return { resource: await this.toResource(row, base), location: `${base}/Users/${id}` };
    });
  }

  replaceUser(client: ScimClient, id: string, body: unknown, base: string): Promise<JsonObject> {
    return this.serial(async () => {
      const row = await this.row("User", id);
      return this.writeUser(client, row, userFacts(body, { requireSchemas: true }), base, "replace");
    });
  }

  patchUser(client: ScimClient, id: string, body: unknown, base: string): Promise<JsonObject> {
    return this.serial(async () => {
      const ops = parsePatchRequest(body);
      const row = await this.row("User", id);
      const patched = applyPatch(this.patchable(row), ops, CORE_USER);
      return this.writeUser(client, row, userFacts(patched, { requireSchemas: false }), base, "patch");
    });
  }

  private async writeUser(client: ScimClient, row: ScimResourceRow, facts: ReturnType<typeof userFacts>, base: string, how: string): Promise<JsonObject> {
    const key = nameKey(facts.userName);
    if (key !== row.nameKey) {
      const other = await this.store.scimResources.byNameKey(this.source, "User", key);
      if (other && other.id !== row.id) throw new ScimError(409, "uniqueness", `userName ${JSON.stringify(facts.userName)} is taken`);
    }
    // A PUT without `active` keeps the current state (disabling someone by omission would be worse).
    const active = facts.active ?? ((getAttr(row.attributes as JsonObject, "active") as boolean | undefined) ?? true);
    await this.options.directory.upsertUser(
      this.source,
      { externalId: row.id, displayName: facts.displayName, email: facts.email, active },
      this.ctx(client, `${how} user ${facts.userName}${active ? "" : " (active: false)"}`),
    );
    try {
      await this.store.scimResources.update(this.source, row.id, { nameKey: key, externalId: facts.externalId, attributes: { ...facts.attributes, active } });
    } catch (err) {
      if (isUniqueViolation(err)) throw new ScimError(409, "uniqueness", `userName ${JSON.stringify(facts.userName)} is taken`);
      throw err;
    }
    return this.toResource(await this.row("User", row.id), base);
  }

  /** Deprovisioning: the user is disabled (tokens and sessions revoked at once) and leaves every SCIM group; SCIM no longer shows it. */
  deleteUser(client: ScimClient, id: string): Promise<void> {
    return this.serial(async () => {
      const row = await this.row("User", id);
      const ctx = this.ctx(client, `delete user ${String(getAttr(row.attributes as JsonObject, "userName"))}`);
      await this.options.directory.deactivateUser(row.principal, ctx);
      await this.dropMember(row.id, ctx);
      await this.store.scimResources.delete(this.source, row.id);
    });
  }

  /** Removes `id` from every SCIM group that lists it. */
  private async dropMember(id: string, ctx: DirectoryContext): Promise<void> {
    for (const g of await this.store.scimResources.list(this.source, "Group")) {
      const members = ((g.attributes as JsonObject).members as unknown as GroupMember[] | undefined) ?? [];
      if (!members.some((m) => m.value === id)) continue;
      const kept = members.filter((m) => m.value !== id);
      await this.options.directory.setGroupMembers(this.source, g.principal, await this.principals(kept), ctx);
      await this.store.scimResources.update(this.source, g.id, { nameKey: g.nameKey, externalId: g.externalId, attributes: { ...(g.attributes as JsonObject), members: kept as unknown as Json } });
    }
  }

  // ---- Groups -------------------------------------------------------------------------------

  /** The directory principals of SCIM members (each must be a user or group provisioned here). */
  private async principals(members: GroupMember[]): Promise<{ kind: "user" | "group"; name: string }[]> {
    const out: { kind: "user" | "group"; name: string }[] = [];
    for (const m of members) {
      const user = m.type !== "Group" ? await this.store.scimResources.get(this.source, "User", m.value) : undefined;
      const group = !user && m.type !== "User" ? await this.store.scimResources.get(this.source, "Group", m.value) : undefined;
      if (user) out.push({ kind: "user", name: user.principal });
      else if (group) out.push({ kind: "group", name: group.principal });
      else throw invalidValue(`member ${JSON.stringify(m.value)} is not a ${m.type ?? "user or group"} provisioned here`);
    }
    return out;
  }

  /** Members as stored: the SCIM id and its resource type. */
  private async typed(members: GroupMember[]): Promise<GroupMember[]> {
    const out: GroupMember[] = [];
    for (const m of members) {
      const isUser = m.type !== "Group" && (await this.store.scimResources.get(this.source, "User", m.value)) !== undefined;
      out.push({ value: m.value, type: isUser ? "User" : "Group" });
    }
    return out;
  }

  createGroup(client: ScimClient, body: unknown, base: string): Promise<ScimResult> {
    return this.serial(async () => {
      const facts = groupFacts(body, { requireSchemas: true });
      const key = nameKey(facts.displayName);
      if (await this.store.scimResources.byNameKey(this.source, "Group", key)) throw new ScimError(409, "uniqueness", `a group named ${JSON.stringify(facts.displayName)} exists`);
      const members = await this.principals(facts.members);
      const id = crypto.randomUUID();
      const ctx = this.ctx(client, `create group ${facts.displayName}`);
      const { name } = await this.options.directory.upsertGroup(this.source, { externalId: id, displayName: facts.displayName }, ctx);
      if (members.length) await this.options.directory.setGroupMembers(this.source, name, members, ctx);
      try {
        await this.store.scimResources.insert({
          source: this.source,
          id,
          resourceType: "Group",
          principal: name,
          nameKey: key,
          externalId: facts.externalId,
          attributes: { ...facts.attributes, members: (await this.typed(facts.members)) as unknown as Json },
        });
      } catch (err) {
        await this.options.directory.removeGroup(this.source, id, this.ctx(client, `undo create group ${facts.displayName}`));
        if (isUniqueViolation(err)) throw new ScimError(409, "uniqueness", `a group named ${JSON.stringify(facts.displayName)} exists`);
        throw err;
      }
      return { resource: await this.toResource(await this.row("Group", id), base), location: `${base}/Groups/${id}` };
    });
  }

  replaceGroup(client: ScimClient, id: string, body: unknown, base: string): Promise<JsonObject> {
    return this.serial(async () => {
      const row = await this.row("Group", id);
      await this.writeGroup(client, row, groupFacts(body, { requireSchemas: true }), "replace");
      return this.toResource(await this.row("Group", id), base);
    });
  }

  /** Returns the group after the change (the route answers 204 unless asked for attributes). */
  patchGroup(client: ScimClient, id: string, body: unknown, base: string): Promise<JsonObject> {
    return this.serial(async () => {
      const ops = parsePatchRequest(body);
      const row = await this.row("Group", id);
      const patched = applyPatch(this.patchable(row), ops, CORE_GROUP);
      await this.writeGroup(client, row, groupFacts(patched, { requireSchemas: false }), "patch");
      return this.toResource(await this.row("Group", id), base);
    });
  }

  private async writeGroup(client: ScimClient, row: ScimResourceRow, facts: ReturnType<typeof groupFacts>, how: string): Promise<void> {
    const key = nameKey(facts.displayName);
    if (key !== row.nameKey) {
      const other = await this.store.scimResources.byNameKey(this.source, "Group", key);
      if (other && other.id !== row.id) throw new ScimError(409, "uniqueness", `a group named ${JSON.stringify(facts.displayName)} exists`);
    }
    if (facts.members.some((m) => m.value === row.id)) throw invalidValue("a group cannot be its own member");
    const members = await this.principals(facts.members);
    const ctx = this.ctx(client, `${how} group ${facts.displayName}`);
    await this.options.directory.upsertGroup(this.source, { externalId: row.id, displayName: facts.displayName }, ctx);
    await this.options.directory.setGroupMembers(this.source, row.principal, members, ctx);
    try {
      await this.store.scimResources.update(this.source, row.id, {
        nameKey: key,
        externalId: facts.externalId,
        attributes: { ...facts.attributes, members: (await this.typed(facts.members)) as unknown as Json },
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new ScimError(409, "uniqueness", `a group named ${JSON.stringify(facts.displayName)} exists`);
      throw err;
    }
  }

  deleteGroup(client: ScimClient, id: string): Promise<void> {
    return this.serial(async () => {
      const row = await this.row("Group", id);
      const ctx = this.ctx(client, `delete group ${String(getAttr(row.attributes as JsonObject, "displayName"))}`);
      await this.dropMember(row.id, ctx);
      await this.options.directory.removeGroup(this.source, row.id, ctx);
      await this.store.scimResources.delete(this.source, row.id);
    });
  }
}
