/**
 * LDAP configuration and the parts that need no server: ldap-directories.json's validation
 * (clear errors, TLS required off loopback, secrets only by reference), objectGUID's string
 * form, DN comparison, and the directory-sync schedule (syncIntervalMinutes) through the
 * worker's scheduler. The protocol itself is tested against a real slapd in ldap.test.ts.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { SYSTEM_ACTOR } from "../policies/index.ts";
import { LDAP_DIRECTORIES_FILE, parseLdapDirectoriesFile } from "../policies/ldap-directories.ts";
import { PolicyConfigError } from "../policies/config-files.ts";
import { Scheduler } from "../src/services/jobs/schedules.ts";
import { guidString, normalizeDn } from "../src/services/ldap/client.ts";
import { PolicyFiles } from "../src/services/policy-files.ts";
import { openTestKb } from "./helpers/kb.ts";

const directory = (over: Record<string, unknown> = {}) => ({
  id: "corp",
  url: "ldaps://dc1.corp.example",
  bindDn: "CN=kb-reader,OU=Service,DC=corp,DC=example",
  bindPassword: { file: "/etc/kb/ldap-password" },
  users: { base: "OU=Staff,DC=corp,DC=example", filter: "(&(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))", loginAttribute: "sAMAccountName", idAttribute: "objectGUID" },
  groups: { base: "OU=Groups,DC=corp,DC=example", filter: "(objectClass=group)", idAttribute: "objectGUID" },
  ...over,
});
const parse = (...dirs: unknown[]) => parseLdapDirectoriesFile(JSON.stringify({ directories: dirs }));
const issues = (...dirs: unknown[]) => {
  try {
    parse(...dirs);
  } catch (err) {
    if (err instanceof PolicyConfigError) return err.issues;
    throw err;
  }
  return [];
};

describe("ldap-directories.json", () => {
  it("parses a directory with defaults; group ids in the mappings are matched case-insensitively", () => {
    const [d] = parse(directory({ groupsMap: { "{6B3C1A2E-0F4D-4C5B-9A8E-1D2C3B4A5F60}": "staff" }, roles: { "6b3c1a2e-0f4d-4c5b-9a8e-1d2c3b4a5f61": "editor" } })).directories;
    expect(d).toMatchObject({ id: "corp", startTls: false, caFile: null, pageSize: 500, syncIntervalMinutes: null, timeoutSeconds: 10, defaultRole: "viewer" });
    expect(d!.groups).toMatchObject({ style: "member", memberAttribute: "member", nameAttribute: "cn" });
    expect(d!.groupsMap).toEqual({ "6b3c1a2e-0f4d-4c5b-9a8e-1d2c3b4a5f60": "staff" });
    expect(d!.roles).toEqual({ "6b3c1a2e-0f4d-4c5b-9a8e-1d2c3b4a5f61": "editor" });
  });

  it("refuses plain LDAP off loopback, bad filters, a password written in the file, ids that clash", () => {
    expect(issues(directory({ url: "ldap://dc1.corp.example" })).join("\n")).toMatch(/use ldaps:\/\/, or ldap:\/\/ with "startTls": true/);
    expect(issues(directory({ url: "ldap://dc1.corp.example", startTls: true }))).toEqual([]);
    expect(issues(directory({ url: "ldap://127.0.0.1:3389" }))).toEqual([]);
    expect(issues(directory({ startTls: true })).join("\n")).toMatch(/encrypted already/);
    expect(issues(directory({ users: { ...directory().users, filter: "(objectClass=user" } })).join("\n")).toMatch(/users.filter: not a valid LDAP filter/);
    expect(issues(directory({ bindPassword: "hunter2" })).join("\n")).toMatch(/bindPassword/);
    expect(issues(directory({ bindPassword: undefined })).join("\n")).toMatch(/give bindDn and bindPassword together/);
    expect(issues(directory({ id: "Corp" })).join("\n")).toMatch(/id: must match/);
    expect(issues(directory(), directory()).join("\n")).toMatch(/"corp" is listed twice/);
    expect(issues(directory({ groups: { ...directory().groups, style: "nested" } })).join("\n")).toMatch(/groups.style/);
    expect(() => parseLdapDirectoriesFile("{", LDAP_DIRECTORIES_FILE)).toThrow(/not valid JSON/);
  });

  it("is one of the policy files: validated by kb policy validate, reloaded on change", () => {
    const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "kb-ldap-policy-"));
    try {
      const file = path.join(dir, LDAP_DIRECTORIES_FILE);
      fs.writeFileSync(file, JSON.stringify({ directories: [directory()] }));
      const files = PolicyFiles.load(dir, { checkIntervalMs: 0 });
      expect(files.ldapDirectories().directories.map((d) => d.id)).toEqual(["corp"]);
      expect(PolicyFiles.validate(dir).find((v) => v.file === file)).toMatchObject({ ok: true, summary: expect.stringContaining("ldap:corp") });
      fs.writeFileSync(file, JSON.stringify({ directories: [directory({ url: "ldap://dc1.corp.example" })] }));
      expect(PolicyFiles.validate(dir).find((v) => v.file === file)).toMatchObject({ ok: false });
      files.refresh();
      expect(files.ldapDirectories().directories.map((d) => d.url)).toEqual(["ldaps://dc1.corp.example"]); // the last good version stays
      expect(files.status().find((s) => s.file === file)?.error).toMatch(/startTls/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("source ids are unique across OIDC, LDAP and SCIM", () => {
  it("refuses a directory whose id an OpenID provider or the SCIM source has, at start and on reload", () => {
    const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "kb-ldap-ids-"));
    try {
      const oidc = JSON.parse(fs.readFileSync(path.resolve("policies/examples/oidc-providers.json"), "utf8")) as { providers: { id: string }[] };
      fs.writeFileSync(path.join(dir, "oidc-providers.json"), JSON.stringify({ providers: [{ ...oidc.providers[1]!, id: "corp" }] }));
      fs.writeFileSync(path.join(dir, LDAP_DIRECTORIES_FILE), JSON.stringify({ directories: [directory()] }));
      expect(() => PolicyFiles.load(dir)).toThrow(/"corp" is already the id of the identity source oidc:corp/);
      fs.rmSync(path.join(dir, "oidc-providers.json"));
      expect(() => PolicyFiles.load(dir, { otherIdentitySources: () => ["scim:corp"] })).toThrow(/already the id of the identity source scim:corp/);
      // On reload: the clash is refused and the last good version stays.
      const files = PolicyFiles.load(dir, { checkIntervalMs: 0 });
      fs.writeFileSync(path.join(dir, "oidc-providers.json"), JSON.stringify({ providers: [{ ...oidc.providers[1]!, id: "corp" }] }));
      files.refresh();
      expect(files.oidcProviders().providers).toEqual([]);
      expect(files.ldapDirectories().directories.map((d) => d.id)).toEqual(["corp"]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("directory values", () => {
  it("writes objectGUID's bytes as Microsoft's GUID string (first three fields little-endian)", () => {
    // The bytes of {6B3C1A2E-0F4D-4C5B-9A8E-1D2C3B4A5F60} as AD stores them.
    const bytes = Buffer.from("2e1a3c6b4d0f5b4c9a8e1d2c3b4a5f60", "hex");
    expect(guidString(bytes)).toBe("6b3c1a2e-0f4d-4c5b-9a8e-1d2c3b4a5f60");
    expect(() => guidString(Buffer.alloc(15))).toThrow(/16 bytes/);
  });

  it("compares DNs in one spelling, escaped commas kept", () => {
    expect(normalizeDn("CN=인사 팀, OU=Groups,DC=Corp ,DC=Example")).toBe(normalizeDn("cn=인사 팀,ou=groups,dc=corp,dc=example"));
    expect(normalizeDn("CN=Kim\\, Chulsoo,OU=Staff")).toBe("cn=kim\\, chulsoo,ou=staff");
  });
});

describe("directory-sync schedule", () => {
  it("submits a directory-sync job every syncIntervalMinutes, never two at once (nor by hand)", async () => {
    const t = await openTestKb();
    try {
      fs.mkdirSync(t.kb.config.policyDir, { recursive: true });
      fs.writeFileSync(path.join(t.kb.config.policyDir, LDAP_DIRECTORIES_FILE), JSON.stringify({ directories: [directory({ syncIntervalMinutes: 30 })] }));
      t.kb.policy.refresh();
      let now = new Date();
      const scheduler = new Scheduler([], { metadata: t.kb.metadata, jobsService: t.kb.jobs, now: () => now, intervals: () => t.kb.ldap.schedules() });
      const [jobId] = await scheduler.tick();
      const job = (await t.kb.jobs.view(jobId!))!;
      expect(job).toMatchObject({ kind: "directory-sync", params: { directory: "corp", schedule: true } });
      expect(await scheduler.tick()).toEqual([]); // not due
      now = new Date(now.getTime() + 31 * 60_000);
      expect(await scheduler.tick()).toEqual([]); // due, but the last one is still queued
      // Asked by hand meanwhile: the queued one, not a second.
      expect((await t.kb.ldap.submitSync(SYSTEM_ACTOR, "corp")).jobId).toBe(jobId);
      await t.kb.jobs.cancel(SYSTEM_ACTOR, jobId!);
      expect(await scheduler.tick()).toHaveLength(1);
      scheduler.close();
    } finally {
      await t.close();
    }
  });
});
