/**
 * Capability rules, one block per resource file (users.ts, audit.ts, jobs.ts, sensitive.ts,
 * policies.ts): who may do what, and that nothing unlisted is allowed.
 */
import { describe, expect, it } from "vitest";
import type { Actor } from "./actor.ts";
import { Audit } from "./audit.ts";
import { Job } from "./jobs.ts";
import { Policies } from "./policies.ts";
import { actionsOf, authorize, can, ForbiddenError } from "./policy.ts";
import { mustMask, SensitiveData } from "./sensitive.ts";
import { Groups, Tokens, Users } from "./users.ts";

const actor = (role: string, name = role, capabilities?: Actor["capabilities"]): Actor => ({ id: name, name, role, groups: [], clearance: 1, ...(capabilities ? { capabilities } : {}) });
const admin = actor("admin");
const editor = actor("editor", "lee");
const viewer = actor("viewer", "kim");
const auditor = actor("auditor", "aud", ["search", "view_audit"]);
const hrEditor = actor("hr-editor", "hr", ["search", "ingest", "manage_own_documents", "view_sensitive"]);

describe("users.ts", () => {
  it("lets only manage_users change accounts", () => {
    for (const action of ["list", "create", "update", "delete", "manage_tokens"]) {
      expect(can(admin, action, Users, { name: "kim" })).toBe(true);
      for (const a of [editor, viewer, auditor]) expect(can(a, action, Users, { name: "x" })).toBe(false);
    }
    for (const action of actionsOf(Groups)) {
      expect(can(admin, action, Groups, null)).toBe(true);
      expect(can(editor, action, Groups, null)).toBe(false);
    }
    expect(() => authorize(viewer, "create", Users, null)).toThrow(ForbiddenError);
  });

  it("lets users read themselves and list/revoke their own tokens, but not create tokens", () => {
    expect(can(viewer, "read", Users, { name: "kim" })).toBe(true);
    expect(can(viewer, "read", Users, { name: "lee" })).toBe(false);
    expect(can(viewer, "list", Tokens, { name: "kim" })).toBe(true);
    expect(can(viewer, "revoke", Tokens, { name: "kim" })).toBe(true);
    expect(can(viewer, "revoke", Tokens, { name: "lee" })).toBe(false);
    expect(can(viewer, "list", Tokens, null)).toBe(false);
    expect(can(viewer, "create", Tokens, { name: "kim" })).toBe(false);
    expect(can(viewer, "expire", Tokens, { name: "kim" })).toBe(false);
    expect(can(admin, "expire", Tokens, { name: "kim" })).toBe(true);
  });
});

describe("audit.ts", () => {
  it("lets only view_audit read and export", () => {
    for (const action of ["read", "export"]) {
      expect(can(admin, action, Audit, null)).toBe(true);
      expect(can(auditor, action, Audit, null)).toBe(true);
      expect(can(editor, action, Audit, null)).toBe(false);
      expect(can(viewer, action, Audit, null)).toBe(false);
    }
    expect(can(admin, "delete", Audit, null)).toBe(false); // append-only: no rule allows it
  });
});

describe("jobs.ts", () => {
  it("lets the creator and document managers follow and cancel jobs", () => {
    expect(can(editor, "read", Job, { createdBy: "user:lee" })).toBe(true);
    expect(can(editor, "cancel", Job, { createdBy: "user:lee" })).toBe(true);
    expect(can(editor, "read", Job, { createdBy: "user:kim" })).toBe(false);
    expect(can(admin, "cancel", Job, { createdBy: "system" })).toBe(true);
  });
});

describe("sensitive.ts", () => {
  it("masks personal data for everyone without view_sensitive", () => {
    expect(mustMask(admin)).toBe(false);
    expect(mustMask(hrEditor)).toBe(false);
    expect(mustMask(editor)).toBe(true);
    expect(mustMask(viewer)).toBe(true);
    expect(mustMask(auditor)).toBe(true);
  });

  it("reports counts to those who see the data or manage every document", () => {
    expect(can(admin, "report", SensitiveData, null)).toBe(true);
    expect(can(hrEditor, "report", SensitiveData, null)).toBe(true);
    expect(can(actor("librarian", "lib", ["search", "manage_all_documents"]), "report", SensitiveData, null)).toBe(true);
    expect(can(viewer, "report", SensitiveData, null)).toBe(false);
  });
});

describe("policies.ts", () => {
  it("lets user or document administrators explain decisions", () => {
    expect(can(admin, "explain", Policies, null)).toBe(true);
    expect(can(actor("librarian", "lib", ["manage_all_documents"]), "explain", Policies, null)).toBe(true);
    expect(can(editor, "explain", Policies, null)).toBe(false);
    expect(can(auditor, "explain", Policies, null)).toBe(false);
  });
});
