/**
 * SCIM 2.0 provisioning (issue 13 part 3) through the real HTTP server on loopback, a real SQLite
 * database and the real directory, with the request bodies Microsoft Entra ID and Okta publish
 * (test/fixtures/scim/, SOURCE.md names the pages): users and groups created, found, patched
 * (Entra's "Replace", "False" and `members[value eq "…"]`), paged and deprovisioned, and a
 * document ACL'd to a SCIM group found by a SCIM user exactly while PATCH has them in it.
 */
import { runKb } from "./helpers/cli.ts";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { registerScimCommands } from "../src/cli/commands/scim.ts";
import { isUniqueViolation } from "../src/stores/metadata.ts";
import { ingestNow, openTestKb, sqlRows, startTestServer, storeForFolder, writeFiles, type TestServer } from "./helpers/kb.ts";

const FIXTURES = path.join(import.meta.dirname, "fixtures", "scim");
const SCIM_TYPE = "application/scim+json; charset=utf-8";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const PASSWORD = "correct horse battery staple";

/** A published example, with its ids (keys) replaced by this server's (values). */
function fixture(name: string, ids: Record<string, string> = {}): any {
  let text = fs.readFileSync(path.join(FIXTURES, name), "utf8");
  for (const [from, to] of Object.entries(ids)) {
    if (!text.includes(from)) throw new Error(`${name} does not name ${from}`);
    text = text.replaceAll(from, to);
  }
  return JSON.parse(text);
}

interface Scim {
  (pathname: string, init?: { method?: string; body?: unknown; token?: string | null }): Promise<{ status: number; type: string | null; body: any; headers: Headers }>;
}

function scimClient(t: TestServer, token: string): Scim {
  return async (pathname, init = {}) => {
    const headers = new Headers({ accept: "application/scim+json" });
    const bearer = init.token === undefined ? token : init.token;
    if (bearer) headers.set("authorization", `Bearer ${bearer}`);
    if (init.body !== undefined) headers.set("content-type", "application/scim+json");
    const res = await fetch(`${t.url}/scim/v2${pathname}`, { method: init.method ?? "GET", headers, body: init.body === undefined ? undefined : typeof init.body === "string" ? init.body : JSON.stringify(init.body) });
    const text = await res.text();
    return { status: res.status, type: res.headers.get("content-type"), body: text ? JSON.parse(text) : null, headers: res.headers };
  };
}

const q = (filter: string, extra = "") => `?filter=${encodeURIComponent(filter)}${extra}`;

/** A minimal user body (RFC 7643 §8.1). */
const userBody = (userName: string, extra: Record<string, unknown> = {}) => ({ schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName, ...extra });

async function auditOf(t: TestServer, action: string) {
  return t.kb.audit.repository.query({ action, limit: 500 });
}

describe("SCIM 2.0 provisioning", () => {
  let t: TestServer;
  let scim: Scim;
  let scimToken: string;
  let admin: string;
  /** The directory principal (user or group name) of a SCIM id. */
  const principalOf = async (id: string) => {
    const row = (await t.kb.metadata.scimResources.get("scim:scim", "User", id)) ?? (await t.kb.metadata.scimResources.get("scim:scim", "Group", id));
    if (!row) throw new Error(`no SCIM resource ${id}`);
    return row.principal;
  };
  const createUser = async (body: unknown) => {
    const res = await scim("/Users", { method: "POST", body });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { id: string; userName: string; [k: string]: any };
  };
  const createGroup = async (body: unknown) => {
    const res = await scim("/Groups", { method: "POST", body });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    return res.body as { id: string; displayName: string; [k: string]: any };
  };
  const membersOf = async (groupId: string) => ((await scim(`/Groups/${groupId}`)).body.members as { value: string }[]).map((m) => m.value).sort();

  beforeAll(async () => {
    t = await startTestServer();
    scimToken = (await t.kb.scim.createToken(SYSTEM_ACTOR, { name: "entra" })).token;
    scim = scimClient(t, scimToken);
    admin = await t.tokenFor("admin", "admin");
  });
  afterAll(() => t?.close());

  describe("authentication", () => {
    it("takes SCIM tokens only: a user API token is refused at /scim, a SCIM token at /api and /v1", async () => {
      expect(scimToken).toMatch(/^kbscim_[A-Za-z0-9_-]{43}$/);
      const withApiToken = await scim("/Users", { token: admin });
      expect(withApiToken.status).toBe(401);
      expect(withApiToken.type).toBe(SCIM_TYPE);
      expect(withApiToken.body).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "401" });
      expect(withApiToken.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect((await scim("/Users", { token: null })).status).toBe(401);
      expect((await scim("/Users")).status).toBe(200);

      expect((await t.fetchAs(scimToken, "/api/v1/documents")).status).toBe(401);
      expect((await t.fetchAs(scimToken, "/v1/models")).status).toBe(401);
      expect((await t.fetchAs(admin, "/api/v1/documents")).status).toBe(200);
    });

    it("stores only the token's SHA-256, and a revoked token stops at once", async () => {
      const { token, info } = await t.kb.scim.createToken(SYSTEM_ACTOR, { name: "okta" });
      const stored = (await sqlRows(t.kb, "SELECT token_hash FROM scim_tokens")) as { token_hash: string }[];
      expect(stored.some((r) => r.token_hash.includes(token.slice(7)))).toBe(false);
      expect((await scim("/Users", { token })).status).toBe(200);
      await t.kb.scim.revokeToken(SYSTEM_ACTOR, info.id);
      expect((await scim("/Users", { token })).status).toBe(401);
      const listed = await t.kb.scim.listTokens(SYSTEM_ACTOR);
      expect(listed.find((x) => x.id === info.id)?.revokedAt).not.toBeNull();
      expect((await auditOf(t, "scim.token.revoked")).map((e) => e.target)).toContain(info.id);
      // Only admins (manage_users) make them.
      const viewer = await t.kb.accounts.actorByName((await t.kb.accounts.createUser({ name: "plain-viewer" })).name);
      await expect(t.kb.scim.createToken(viewer)).rejects.toThrow(/not allowed/);
    });
  });

  it("describes itself: ServiceProviderConfig, ResourceTypes, Schemas", async () => {
    const spc = await scim("/ServiceProviderConfig");
    expect(spc.type).toBe(SCIM_TYPE);
    expect(spc.body).toMatchObject({ schemas: ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"], patch: { supported: true }, filter: { supported: true }, bulk: { supported: false } });
    const types = await scim("/ResourceTypes");
    expect(types.body.Resources.map((r: any) => [r.id, r.endpoint, r.schema])).toEqual([
      ["User", "/Users", "urn:ietf:params:scim:schemas:core:2.0:User"],
      ["Group", "/Groups", "urn:ietf:params:scim:schemas:core:2.0:Group"],
    ]);
    const schemas = await scim("/Schemas");
    expect(schemas.body.totalResults).toBe(3);
    const user = (await scim("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")).body;
    expect(user.attributes.find((a: any) => a.name === "userName")).toMatchObject({ required: true, caseExact: false, uniqueness: "server" });
    expect((await scim("/Nope")).status).toBe(404);
  });

  describe("users, with Entra ID's requests", () => {
    let id: string;

    it("creates a user (201, Location, a UUID id) and keeps the IdP's externalId", async () => {
      const res = await scim("/Users", { method: "POST", body: fixture("entra/create-user.json") });
      expect(res.status).toBe(201);
      expect(res.type).toBe(SCIM_TYPE);
      id = res.body.id;
      expect(id).toMatch(UUID);
      expect(res.headers.get("location")).toBe(`${t.url}/scim/v2/Users/${id}`);
      expect(res.body).toMatchObject({
        schemas: expect.arrayContaining(["urn:ietf:params:scim:schemas:core:2.0:User"]),
        externalId: "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        userName: "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
        active: true,
        name: { formatted: "givenName familyName", familyName: "familyName", givenName: "givenName" },
        emails: [{ primary: true, type: "work", value: "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com" }],
        meta: { resourceType: "User", location: `${t.url}/scim/v2/Users/${id}` },
      });
      // In the directory: user `scim~<id>`, enabled.
      const principal = await principalOf(id);
      expect(principal).toBe(`scim~${id}`);
      const user = await t.kb.accounts.getUser(principal);
      expect(user).toMatchObject({ disabled: false, role: "viewer", source: "scim:scim", externalId: id, displayName: "givenName familyName", email: "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com" });
      const created = (await auditOf(t, "directory.user.created")).find((e) => e.target === `user:${principal}`)!;
      expect(created.actor).toMatch(/^scim-token:scimtok_/);
      expect((created.details as any).source).toBe("scim:scim");
    });

    it("refuses a second user with the same userName in any case (409 uniqueness)", async () => {
      const body = fixture("entra/create-user.json");
      body.userName = body.userName.toUpperCase();
      const res = await scim("/Users", { method: "POST", body });
      expect(res.status).toBe(409);
      expect(res.body).toMatchObject({ status: "409", scimType: "uniqueness" });
    });

    it("finds it with Entra's query (userName eq, case-insensitive), by externalId and by id; zero results are an empty ListResponse", async () => {
      const found = await scim(`/Users${q('userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"')}`);
      expect(found.body).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], totalResults: 1, startIndex: 1, itemsPerPage: 1 });
      expect(found.body.Resources[0].id).toBe(id);
      expect((await scim(`/Users${q('USERNAME eq "test_user_00AA00AA-bb11-cc22-dd33-44ee44ee44ee"')}`)).body.totalResults).toBe(1);
      expect((await scim(`/Users${q('externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"')}`)).body.Resources.map((r: any) => r.id)).toEqual([id]);
      expect((await scim(`/Users${q(`id eq "${id}"`)}`)).body.totalResults).toBe(1);
      expect((await scim(`/Users${q('emails[type eq "work"].value eq "TEST_USER_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"')}`)).body.totalResults).toBe(1);
      expect((await scim(`/Users${q('userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee" and active eq true')}`)).body.totalResults).toBe(1);
      expect((await scim(`/Users${q('userName eq "nobody" or name.familyName pr')}`)).body.totalResults).toBeGreaterThanOrEqual(1);
      const none = await scim(`/Users${q('userName eq "non-existent user"')}`);
      expect(none.status).toBe(200);
      expect(none.body).toMatchObject({ totalResults: 0, Resources: [] });
      const missing = await scim("/Users/5171a35d82074e068ce2");
      expect(missing.status).toBe(404);
      expect(missing.body).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "404" });
    });

    it('applies "Replace" operations: a filtered multi-valued path, a sub-attribute, a no-path object with path keys, an extension', async () => {
      let res = await scim(`/Users/${id}`, { method: "PATCH", body: fixture("entra/update-user-multivalued.json") });
      expect(res.status).toBe(200);
      expect(res.body.emails).toEqual([{ primary: true, type: "work", value: "updatedEmail@microsoft.com" }]);
      expect(res.body.name).toMatchObject({ familyName: "updatedFamilyName", givenName: "givenName" });

      res = await scim(`/Users/${id}`, { method: "PATCH", body: fixture("entra/replace-multiple-with-flag.json") });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        displayName: "Bjfe",
        name: { givenName: "Kkom", familyName: "Unua" },
        emails: [{ type: "work", value: "TestMhvaes@test.microsoft.com" }],
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { employeeNumber: "Aklq" },
      });
      expect(res.body.schemas).toContain("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User");

      // The directory shows the new display name and e-mail.
      expect(await t.kb.accounts.getUser(await principalOf(id))).toMatchObject({ displayName: "Bjfe", email: "TestMhvaes@test.microsoft.com" });

      res = await scim(`/Users/${id}`, { method: "PATCH", body: fixture("entra/add-single-value-without-flag.json") });
      expect(res.body.nickName).toBe("Babs");
      // What GET shows afterwards is what PATCH answered.
      expect((await scim(`/Users/${id}`)).body).toEqual(res.body);
    });

    it("renames the user (userName) without changing who it is: same id, same directory principal", async () => {
      const before = await principalOf(id);
      const res = await scim(`/Users/${id}`, { method: "PATCH", body: fixture("entra/update-user-single-valued.json") });
      expect(res.status).toBe(200);
      expect(res.body.userName).toBe("5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com");
      expect(res.body.id).toBe(id);
      expect(await principalOf(id)).toBe(before);
      expect((await scim(`/Users${q('userName eq "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"')}`)).body.totalResults).toBe(1);
      expect((await scim(`/Users${q('userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"')}`)).body.totalResults).toBe(0);
    });

    it("projects attributes and excludedAttributes (id and schemas always)", async () => {
      const only = (await scim(`/Users/${id}?attributes=userName,name.givenName`)).body;
      expect(Object.keys(only).sort()).toEqual(["id", "name", "schemas", "userName"]);
      expect(only.name).toEqual({ givenName: "Kkom" });
      const without = (await scim(`/Users/${id}?excludedAttributes=emails,id`)).body;
      expect(without.emails).toBeUndefined();
      expect(without.id).toBe(id);
    });
  });

  describe("users, with Okta's requests", () => {
    const lookup = "/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100";
    let id: string;

    it("looks the user up, creates it (never keeping the password), finds it, replaces it with PUT", async () => {
      expect((await scim(lookup)).body).toMatchObject({ totalResults: 0, startIndex: 1, itemsPerPage: 0, Resources: [] });
      const created = await createUser(fixture("okta/create-user.json"));
      id = created.id;
      expect(created).toMatchObject({ userName: "test.user@okta.local", displayName: "Test User", locale: "en-US", externalId: "00ujl29u0le5T6Aj10h7", active: true });
      expect(created.password).toBeUndefined();
      const raw = JSON.stringify(await sqlRows(t.kb, "SELECT * FROM scim_resources"));
      expect(raw).not.toContain("1mz050nq");
      const found = await scim(lookup);
      expect(found.body.totalResults).toBe(1);
      expect(found.body.Resources[0].id).toBe(id);

      const put = await scim(`/Users/${id}`, { method: "PUT", body: fixture("okta/update-user-put.json", { "23a35c27-23d3-4c03-b4c5-6443c09e7173": id }) });
      expect(put.status).toBe(200);
      expect(put.body).toMatchObject({ id, name: { givenName: "Another", middleName: "Excited", familyName: "User" }, active: true });
      // A PUT replaces: what the new body leaves out is gone.
      expect(put.body.locale).toBeUndefined();
    });
  });

  describe("deprovisioning", () => {
    /** A SCIM user with an API token and a signed-in web session, both working. */
    async function provisionedWithAccess(userName: string) {
      const user = await createUser(userBody(userName, { emails: [{ value: userName, primary: "True" }] }));
      const principal = await principalOf(user.id);
      const token = (await t.kb.accounts.createToken(principal)).token;
      await t.kb.signIn.setPassword(SYSTEM_ACTOR, principal, { password: PASSWORD });
      const login = await fetch(`${t.url}/api/v1/auth/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: principal, password: PASSWORD }) });
      expect(login.status).toBe(200);
      const cookie = login.headers
        .getSetCookie()
        .find((c) => c.startsWith("kb_session="))!
        .split(";")[0]!;
      const works = async () => ({
        token: (await t.fetchAs(token, "/api/v1/documents")).status,
        session: (await fetch(`${t.url}/api/v1/auth/session`, { headers: { cookie } })).status,
      });
      expect(await works()).toEqual({ token: 200, session: 200 });
      return { user, principal, works };
    }

    it('Entra\'s "active": "False" disables the user and its API token and session stop working at once', async () => {
      const { user, principal, works } = await provisionedWithAccess("leaver.entra@example.com");
      const res = await scim(`/Users/${user.id}`, { method: "PATCH", body: fixture("entra/disable-user-without-flag.json") });
      expect(res.status).toBe(200);
      expect(res.body.active).toBe(false); // a boolean, whatever the client sent
      expect(await works()).toEqual({ token: 401, session: 401 });
      expect((await t.kb.accounts.getUser(principal)).disabled).toBe(true);
      expect((await scim(`/Users${q("active eq false")}`)).body.Resources.map((r: any) => r.id)).toContain(user.id);
      const event = (await auditOf(t, "directory.user.deactivated")).find((e) => e.target === `user:${principal}`)!;
      expect(event.details).toMatchObject({ source: "scim:scim", tokensRevoked: 1, sessionsRevoked: 1 });
      expect(event.actor).toMatch(/^scim-token:/);

      // Re-enabled (Entra's compliant form with a boolean): the account works again, the revoked token and session do not.
      const back = await scim(`/Users/${user.id}`, { method: "PATCH", body: { ...fixture("entra/disable-user.json"), Operations: [{ op: "Replace", path: "active", value: true }] } });
      expect(back.body.active).toBe(true);
      expect((await t.kb.accounts.getUser(principal)).disabled).toBe(false);
      expect(await works()).toEqual({ token: 401, session: 401 });
    });

    it("Okta's no-path replace {active: false} does the same", async () => {
      const { user, works } = await provisionedWithAccess("leaver.okta@example.com");
      const res = await scim(`/Users/${user.id}`, { method: "PATCH", body: fixture("okta/deactivate-user.json") });
      expect(res.status).toBe(200);
      expect(res.body.active).toBe(false);
      expect(await works()).toEqual({ token: 401, session: 401 });
    });

    it("DELETE disables the user, revokes its access, drops it from its SCIM groups and forgets it (404 after)", async () => {
      const { user, principal, works } = await provisionedWithAccess("leaver.deleted@example.com");
      const group = await createGroup({ schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "Leavers' team", members: [{ value: user.id }] });
      expect(await membersOf(group.id)).toEqual([user.id]);
      const res = await scim(`/Users/${user.id}`, { method: "DELETE" });
      expect(res.status).toBe(204);
      expect(await works()).toEqual({ token: 401, session: 401 });
      expect((await t.kb.accounts.getUser(principal)).disabled).toBe(true);
      expect((await scim(`/Users/${user.id}`)).status).toBe(404);
      expect(await membersOf(group.id)).toEqual([]);
      expect((await t.kb.accounts.members(await principalOf(group.id))).filter((m) => m.name === principal)).toEqual([]);
    });
  });

  describe("groups", () => {
    let a: string;
    let b: string;
    let group: string;

    beforeAll(async () => {
      a = (await createUser(userBody("member.a@example.com", { displayName: "김철수" }))).id;
      b = (await createUser(userBody("member.b@example.com"))).id;
    });

    it("creates Entra's group (empty members) and refuses a second group of the same displayName", async () => {
      const created = await createGroup(fixture("entra/create-group.json"));
      group = created.id;
      expect(created).toMatchObject({ displayName: "displayName", externalId: "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", members: [], meta: { resourceType: "Group" } });
      expect(await principalOf(group)).toBe(`scim~${group}`);
      expect(await t.kb.accounts.groupExists(`scim~${group}`)).toBe(true);
      const again = await scim("/Groups", { method: "POST", body: fixture("entra/create-group.json") });
      expect(again.status).toBe(409);
      expect(again.body.scimType).toBe("uniqueness");
    });

    it('adds and removes members with Entra\'s "Add" / "Remove" (204), and the directory follows', async () => {
      const add = await scim(`/Groups/${group}`, { method: "PATCH", body: fixture("entra/update-group-add-members.json", { f648f8d5ea4e4cd38e9c: a }) });
      expect(add.status).toBe(204);
      const shown = (await scim(`/Groups/${group}`)).body.members;
      expect(shown).toEqual([{ value: a, display: "김철수", type: "User", $ref: `${t.url}/scim/v2/Users/${a}` }]);
      expect(await t.kb.accounts.members(`scim~${group}`)).toEqual([{ kind: "user", name: `scim~${a}` }]);
      // Entra's lookups: excludedAttributes=members, by displayName, and members[value eq].
      expect((await scim(`/Groups/${group}?excludedAttributes=members`)).body.members).toBeUndefined();
      const byName = await scim(`/Groups${q('displayName eq "displayName"', "&excludedAttributes=members")}`);
      expect(byName.body.totalResults).toBe(1);
      expect(byName.body.Resources[0].members).toBeUndefined();
      expect((await scim(`/Groups${q(`members[value eq "${a}"]`)}`)).body.Resources.map((r: any) => r.id)).toEqual([group]);

      const remove = await scim(`/Groups/${group}`, { method: "PATCH", body: fixture("entra/update-group-remove-members.json", { f648f8d5ea4e4cd38e9c: a }) });
      expect(remove.status).toBe(204);
      expect(await membersOf(group)).toEqual([]);
      expect(await t.kb.accounts.members(`scim~${group}`)).toEqual([]);
    });

    it("follows Okta's membership PATCH (remove by filter + add), the full replace, Entra's members[value eq] remove, and remove-all", async () => {
      const sorted = (...ids: string[]) => [...ids].sort();
      await scim(`/Groups/${group}`, { method: "PATCH", body: { schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [{ op: "add", path: "members", value: [{ value: b }] }] } });
      expect(await membersOf(group)).toEqual([b]);
      const ids = { "89bb1940-b905-4575-9e7f-6f887cfb368e": b, "23a35c27-23d3-4c03-b4c5-6443c09e7173": a };
      expect((await scim(`/Groups/${group}`, { method: "PATCH", body: fixture("okta/update-group-membership.json", ids) })).status).toBe(204);
      expect(await membersOf(group)).toEqual([a]);
      expect((await scim(`/Groups/${group}`, { method: "PATCH", body: fixture("okta/replace-group-members.json", ids) })).status).toBe(204);
      expect(await membersOf(group)).toEqual(sorted(a, b));
      expect((await t.kb.accounts.members(`scim~${group}`)).map((m) => m.name).sort()).toEqual(sorted(`scim~${a}`, `scim~${b}`));
      await scim(`/Groups/${group}`, { method: "PATCH", body: fixture("entra/remove-member-with-flag.json", { "7f4bc1a3-285e-48ae-8202-5accb43efb0e": b }) });
      expect(await membersOf(group)).toEqual([a]);
      await scim(`/Groups/${group}`, { method: "PATCH", body: { schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [{ op: "remove", path: "members" }] } });
      expect(await membersOf(group)).toEqual([]);
      expect(await t.kb.accounts.members(`scim~${group}`)).toEqual([]);
    });

    it("renames with Okta's no-path replace (its own id accepted, another id refused) and Entra's Replace; answers the group when asked", async () => {
      const okta = await scim(`/Groups/${group}?attributes=displayName`, { method: "PATCH", body: fixture("okta/update-group-name.json", { "abf4dd94-a4c0-4f67-89c9-76b03340cb9b": group }) });
      expect(okta.status).toBe(200);
      expect(okta.body).toMatchObject({ id: group, displayName: "Test SCIMv2" });
      const other = await scim(`/Groups/${group}`, { method: "PATCH", body: fixture("okta/update-group-name.json") });
      expect(other.status).toBe(400);
      expect(other.body.scimType).toBe("mutability");
      await scim(`/Groups/${group}`, { method: "PATCH", body: fixture("entra/update-group-display-name.json") });
      expect((await scim(`/Groups/${group}`)).body.displayName).toBe("1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName");
    });

    it("creates Okta's group and replaces a group with PUT; refuses unknown members; deletes", async () => {
      const okta = await createGroup(fixture("okta/create-group.json"));
      expect(okta.members).toEqual([]);
      const aiw = await scim(`/Groups/${okta.id}`, { method: "PUT", body: fixture("okta/update-group-put.json", { "23a35c27-23d3-4c03-b4c5-6443c09e7173": b }) });
      expect(aiw.status).toBe(200);
      expect(aiw.body).toMatchObject({ id: okta.id, displayName: "Test SCIMv2", members: [{ value: b, display: "member.b@example.com", type: "User" }] });
      expect(await t.kb.accounts.members(`scim~${okta.id}`)).toEqual([{ kind: "user", name: `scim~${b}` }]);
      const put = await scim(`/Groups/${okta.id}`, { method: "PUT", body: { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "Okta team", members: [{ value: a }, { value: group, type: "Group" }] } });
      expect(put.status).toBe(200);
      expect(put.body.members.map((m: any) => [m.value, m.type]).sort()).toEqual([[a, "User"], [group, "Group"]].sort());
      expect((await t.kb.accounts.members(`scim~${okta.id}`)).sort((x, y) => x.kind.localeCompare(y.kind))).toEqual([
        { kind: "group", name: `scim~${group}` },
        { kind: "user", name: `scim~${a}` },
      ]);
      const unknown = await scim(`/Groups/${okta.id}`, { method: "PATCH", body: fixture("entra/update-group-add-members.json") });
      expect(unknown.status).toBe(400);
      expect(unknown.body.scimType).toBe("invalidValue");
      expect((await scim(`/Groups/${okta.id}`, { method: "DELETE" })).status).toBe(204);
      expect((await scim(`/Groups/${okta.id}`)).status).toBe(404);
      expect(await t.kb.accounts.groupExists(`scim~${okta.id}`)).toBe(false);
    });
  });

  it("pages lists by startIndex and count (RFC 7644 §3.4.2.4) in a stable order", async () => {
    const made: string[] = [];
    for (let i = 1; i <= 7; i++) made.push((await createUser(userBody(`page-${i}@example.com`))).id);
    const filter = q('userName sw "page-"');
    const first = (await scim(`/Users${filter}&startIndex=1&count=3`)).body;
    expect(first).toMatchObject({ totalResults: 7, startIndex: 1, itemsPerPage: 3 });
    const seen: string[] = [];
    for (let start = 1; start <= 7; start += 3) {
      const page = (await scim(`/Users${filter}&startIndex=${start}&count=3`)).body;
      expect(page.totalResults).toBe(7);
      expect(page.itemsPerPage).toBe(page.Resources.length);
      seen.push(...page.Resources.map((r: any) => r.id));
    }
    expect(seen).toEqual(made);
    expect((await scim(`/Users${filter}&startIndex=7&count=3`)).body.Resources.map((r: any) => r.id)).toEqual([made[6]]);
    expect((await scim(`/Users${filter}&startIndex=0&count=2`)).body).toMatchObject({ startIndex: 1, itemsPerPage: 2 });
    expect((await scim(`/Users${filter}&count=0`)).body).toMatchObject({ totalResults: 7, itemsPerPage: 0, Resources: [] });
    expect((await scim(`/Users${filter}&startIndex=99`)).body).toMatchObject({ totalResults: 7, itemsPerPage: 0, Resources: [] });
    const bad = await scim(`/Users${filter}&count=three`);
    expect(bad.status).toBe(400);
    expect(bad.body.scimType).toBe("invalidValue");
  });

  it("answers malformed requests with SCIM errors and their scimType, and audits them", async () => {
    const user = await createUser(userBody("errors@example.com"));
    const cases: [string, Parameters<Scim>[1], number, string][] = [
      [`/Users${q("userName eq")}`, {}, 400, "invalidFilter"],
      [`/Users${q('userName xx "a"')}`, {}, 400, "invalidFilter"],
      [`/Groups${q('displayName eq "x" and (')}`, {}, 400, "invalidFilter"],
      ["/Users", { method: "POST", body: { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"] } }, 400, "invalidValue"],
      ["/Users", { method: "POST", body: { userName: "no-schemas" } }, 400, "invalidValue"],
      ["/Users", { method: "POST", body: "{not json" }, 400, "invalidSyntax"],
      [`/Users/${user.id}`, { method: "PATCH", body: { schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [{ op: "move", path: "userName" }] } }, 400, "invalidSyntax"],
      [`/Users/${user.id}`, { method: "PATCH", body: { schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [{ op: "remove" }] } }, 400, "noTarget"],
      [`/Users/${user.id}`, { method: "PATCH", body: { schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [{ op: "replace", path: "name..x", value: 1 }] } }, 400, "invalidPath"],
      [`/Users/${user.id}`, { method: "PATCH", body: { schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [{ op: "replace", path: "id", value: "mine" }] } }, 400, "mutability"],
      [`/Users/${user.id}`, { method: "PATCH", body: { schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [{ op: "replace", path: "active", value: "maybe" }] } }, 400, "invalidValue"],
      [`/Users/${user.id}`, { method: "PATCH", body: { schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [{ op: "replace", path: 'emails[type eq "work" or type eq "home"].value', value: "x@y" }] } }, 400, "noTarget"],
    ];
    for (const [pathname, init, status, scimType] of cases) {
      const res = await scim(pathname, init);
      expect(res.status, `${init?.method ?? "GET"} ${pathname}`).toBe(status);
      expect(res.type).toBe(SCIM_TYPE);
      expect(res.body, `${init?.method ?? "GET"} ${pathname}`).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: String(status), scimType });
    }
    const failures = await auditOf(t, "scim.request");
    expect(failures.some((e) => e.outcome === "error" && (e.details as any)?.scimType === "invalidFilter")).toBe(true);
    expect(failures.some((e) => e.target === `PATCH /scim/v2/Users/${user.id}` && (e.details as any)?.scimType === "mutability")).toBe(true);
    // Nothing was changed by the refused requests.
    expect((await scim(`/Users/${user.id}`)).body).toMatchObject({ userName: "errors@example.com", active: true });
  });

  it("done when: a document ACL'd to a SCIM group is found by a SCIM user exactly while PATCH has them in the group", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-scim-"));
    const [file] = writeFiles(dir, { "hr-handbook.md": "# 인사 규정\n\nThe zebracorn allowance is paid every quarter to the people team.\n" });
    const user = await createUser(fixture("entra/create-user.json", { Test_User_00aa00aa: "Hr_User_00aa00aa" }));
    const group = await createGroup({ schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "인사 팀", members: [] });
    const token = (await t.kb.accounts.createToken(await principalOf(user.id))).token;
    await ingestNow(t.kb, [{ source: "hr-handbook.md", path: file!, allow: [`group:${await principalOf(group.id)}`] }]);
    const finds = async () => {
      const res = await t.fetchAs(token, "/api/v1/search", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "zebracorn allowance", topK: 5 }) });
      expect(res.status).toBe(200);
      return ((await res.json()) as any).results.some((r: any) => r.source === "hr-handbook.md");
    };
    expect(await finds()).toBe(false);
    const ids = { "89bb1940-b905-4575-9e7f-6f887cfb368e": "00000000-0000-4000-8000-000000000000", "23a35c27-23d3-4c03-b4c5-6443c09e7173": user.id };
    // Okta's membership PATCH (its remove names nobody here: removing is idempotent).
    expect((await scim(`/Groups/${group.id}`, { method: "PATCH", body: fixture("okta/update-group-membership.json", ids) })).status).toBe(204);
    expect(await finds()).toBe(true);
    expect((await scim(`/Groups/${group.id}`, { method: "PATCH", body: fixture("entra/remove-member-with-flag.json", { "7f4bc1a3-285e-48ae-8202-5accb43efb0e": user.id }) })).status).toBe(204);
    expect(await finds()).toBe(false);
    // The audit log says why: membership rows written by the SCIM source, by which token.
    const groupName = await principalOf(group.id);
    expect((await t.kb.accounts.listGroups()).find((g) => g.name === groupName)).toMatchObject({ source: "scim:scim", displayName: "인사 팀" });
    for (const action of ["directory.membership.added", "directory.membership.removed"]) {
      const e = (await auditOf(t, action)).find((x) => x.target === `group:${groupName}`)!;
      expect(e.details).toMatchObject({ source: "scim:scim", member: `user:${await principalOf(user.id)}`, groupDisplayName: "인사 팀" });
      expect(e.actor).toMatch(/^scim-token:/);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe("SCIM rate limit", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ rateLimitPerMinute: 3, anonRateLimitPerMinute: 2 });
  });
  afterAll(() => t?.close());

  it("limits each SCIM token like an API token (429 with Retry-After as a SCIM error), and failed tokens per address, never valid ones", async () => {
    const { token } = await t.kb.scim.createToken(SYSTEM_ACTOR);
    const scim = scimClient(t, token);
    const statuses: number[] = [];
    let last: Awaited<ReturnType<Scim>> | null = null;
    for (let i = 0; i < 4; i++) {
      last = await scim("/Users");
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(last!.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(last!.body).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "429" });
    // Another token has its own bucket.
    const other = scimClient(t, (await t.kb.scim.createToken(SYSTEM_ACTOR)).token);
    expect((await other("/Users")).status).toBe(200);
    expect((await other("/Groups")).status).toBe(200);
    // Five valid requests from this address so far, beyond its 2 a minute: none was charged to it.
    // Refused tokens are, and a flood of them is answered 429.
    const wrong = scimClient(t, "kbscim_not-a-token");
    expect([(await wrong("/Users")).status, (await wrong("/Users")).status, (await wrong("/Users")).status]).toEqual([401, 401, 429]);
  });
});

describe("kb scim token", () => {
  const saved = { ...process.env };
  let dir: string;
  let t: TestServer | undefined;
  let store: Awaited<ReturnType<typeof storeForFolder>>;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-scim-cli-"));
    store = await storeForFolder();
    Object.assign(process.env, { KB_DATA_DIR: dir, KB_EMBED_MODEL: "none", KB_LOG_LEVEL: "silent", ...store.env });
  });
  afterAll(async () => {
    await t?.close();
    await store.drop();
    process.env = saved;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Runs `kb …` in-process; what it printed on stdout. */
  async function kb(...args: string[]): Promise<string> {
    return runKb([registerScimCommands], args, { quietErrors: true });
  }

  it("creates a token that /scim/v2 takes, lists it without the secret, and revokes it", async () => {
    const token = (await kb("scim", "token", "create", "--name", "entra-prod")).trim();
    expect(token).toMatch(/^kbscim_[A-Za-z0-9_-]{43}$/);
    const listed = await kb("scim", "token", "list");
    expect(listed).toMatch(/\tentra-prod\tscim:scim\t.*\tactive$/);
    expect(listed).not.toContain(token.slice(7));
    const id = listed.split("\t")[0]!;
    t = await startTestServer({ dataDir: dir, ...store.overrides });
    const scim = scimClient(t, token);
    expect((await scim("/Users")).status).toBe(200);
    await t.close();
    t = undefined;
    expect(await kb("scim", "token", "revoke", id)).toBe(`revoked ${id}`);
    expect(await kb("scim", "token", "list")).toMatch(/\tREVOKED$/);
    t = await startTestServer({ dataDir: dir, ...store.overrides });
    expect((await scimClient(t, token)("/Users")).status).toBe(401);
  });
});

describe("a userName or group name another process took meanwhile", () => {
  // The service checks the name first; the insert's unique key is what stops a second process
  // that checked at the same moment. Its error must read as "taken" (409) on either store, not
  // as an internal error: PostgreSQL's is SQLSTATE 23505 inside drizzle's error, not SQLite's code.
  it("is a unique violation the SCIM service recognizes, on either store", async () => {
    const k = await openTestKb();
    try {
      const row = { source: "scim:race", id: "r1", resourceType: "User" as const, principal: "race~one", nameKey: "alice", externalId: null, attributes: {} };
      await k.kb.metadata.scimResources.insert(row);
      const err = await k.kb.metadata.scimResources.insert({ ...row, id: "r2", principal: "race~two" }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).not.toBeNull();
      expect(isUniqueViolation(err)).toBe(true);
      expect(isUniqueViolation(new Error("connection reset"))).toBe(false);
    } finally {
      await k.close();
    }
  });
});
