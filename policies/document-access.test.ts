/** The write-side access rules, stated once: the owner keeps read access at creation, on change, and in a sync's comparison. */
import { describe, expect, it } from "vitest";
import { resolveAcl } from "./default-acl.ts";
import { AclChangeError, applyAclChange, normalizeAclChange, ownerKeepsRead } from "./document-access.ts";
import { NO_DOCUMENT_RULES, resolveDocumentAccess } from "./document-rules.ts";

describe("document access rules", () => {
  it("keep the owner on the allow list, distinct and sorted", () => {
    expect(ownerKeepsRead(["user:lee", "group:hr", "user:lee"], "user:kim")).toEqual(["group:hr", "user:kim", "user:lee"]);
    expect(ownerKeepsRead([], null)).toEqual([]);
  });

  it("keep the owner's read access through every way a document gets its access", () => {
    const owner = "user:kim";
    expect(resolveAcl({ source: "a.md", owner }, { allow: ["group:hr"] }).allow).toContain(owner);
    expect(resolveDocumentAccess(NO_DOCUMENT_RULES, { source: "a.md", owner }, { allow: ["group:hr"] }).allow).toContain(owner);
    const current = { allow: ["group:hr", owner], deny: [], classification: 1, manage: [] };
    expect(applyAclChange(current, { removeAllow: [owner] }, owner).allow).toEqual(["group:hr", owner]);
    expect(applyAclChange(current, { allow: ["group:legal"] }, owner).allow).toEqual(["group:legal", owner]);
    expect(applyAclChange(current, { removeAllow: [owner] }, null).allow).toEqual(["group:hr"]);
  });

  it("normalize a change to canonical principals and refuse bad ones with a code", () => {
    expect(normalizeAclChange({ addAllow: ["group:HR"] })).toEqual({ addAllow: ["group:hr"] });
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return err instanceof AclChangeError ? err.code : "other";
      }
      return "none";
    };
    expect(code(() => normalizeAclChange({ allow: ["nobody"] }))).toBe("bad_principal");
    expect(code(() => normalizeAclChange({ classification: 7 }))).toBe("bad_request");
    expect(code(() => normalizeAclChange({}))).toBe("bad_request");
  });
});
