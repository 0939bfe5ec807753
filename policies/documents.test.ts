import { describe, expect, it } from "vitest";
import { can } from "./policy.ts";
import { Document, DocumentClassification, DocumentCollection, canRead, documentReadRule } from "./documents.ts";
import type { Actor } from "./actor.ts";

const viewer: Actor = { id: "1", name: "kim", role: "viewer", groups: ["hr"], clearance: 1 };
const editor: Actor = { id: "2", name: "lee", role: "editor", groups: [], clearance: 1 };
const admin: Actor = { id: "3", name: "root", role: "admin", groups: [], clearance: 0 };
const doc = (allow: string[], deny: string[] = [], classification = 1, owner: string | null = null) => ({ allow, deny, classification, owner });

describe("document policy", () => {
  it("reads through any allowed principal", () => {
    expect(canRead(viewer, doc(["group:hr"]))).toBe(true);
    expect(canRead(viewer, doc(["user:kim"]))).toBe(true);
    expect(canRead(viewer, doc(["group:everyone"]))).toBe(true);
    expect(canRead(viewer, doc(["group:sales"]))).toBe(false);
  });

  it("lets deny win over allow", () => {
    expect(canRead(viewer, doc(["group:hr"], ["user:kim"]))).toBe(false);
    expect(canRead(viewer, doc(["user:kim"], ["group:hr"]))).toBe(false);
  });

  it("requires clearance for the classification", () => {
    expect(canRead(viewer, doc(["group:hr"], [], 2))).toBe(false);
    expect(canRead({ ...viewer, clearance: 2 }, doc(["group:hr"], [], 2))).toBe(true);
  });

  it("lets admins read everything, with no filter", () => {
    expect(canRead(admin, doc([], ["user:root"], 3))).toBe(true);
    expect(documentReadRule(admin)).toMatchObject({ op: "true" });
    expect(documentReadRule(viewer).op).toBe("all");
  });

  it("lets editors change only documents they own and can read; viewers none", () => {
    const own = doc(["group:everyone"], [], 1, "user:lee");
    expect(can(editor, "update", Document, own)).toBe(true);
    expect(can(editor, "delete", Document, doc(["group:everyone"], [], 1, "user:kim"))).toBe(false);
    expect(can(viewer, "delete", Document, doc(["group:everyone"], [], 1, "user:kim"))).toBe(false);
    expect(can(admin, "set_acl", Document, doc([]))).toBe(true);
  });

  it("lets editors manage documents they were granted (managers), not only those they own", () => {
    const granted = { ...doc(["group:everyone"], [], 1, "user:kim"), managers: ["group:docs"] };
    expect(can(editor, "update", Document, granted)).toBe(false);
    expect(can({ ...editor, groups: ["docs"] }, "set_acl", Document, granted)).toBe(true);
    expect(can({ ...viewer, groups: ["docs"] }, "set_acl", Document, granted)).toBe(false); // viewers manage nothing
    expect(can({ ...editor, groups: ["docs"] }, "set_acl", Document, { ...granted, deny: ["user:lee"] })).toBe(false); // must still read it
  });

  it("lets editors classify only up to their own clearance; admins any level", () => {
    const own = doc(["group:everyone"], [], 1, "user:lee");
    expect(can(editor, "set", DocumentClassification, { document: own, level: 1 })).toBe(true);
    expect(can(editor, "set", DocumentClassification, { document: own, level: 2 })).toBe(false);
    expect(can(editor, "set", DocumentClassification, { document: doc(["group:everyone"], [], 1, "user:kim"), level: 0 })).toBe(false);
    expect(can(admin, "set", DocumentClassification, { document: own, level: 3 })).toBe(true);
  });

  it("lets editors and admins, not viewers, create documents", () => {
    expect(can(editor, "create", DocumentCollection, null)).toBe(true);
    expect(can(viewer, "create", DocumentCollection, null)).toBe(false);
    expect(can(viewer, "list", DocumentCollection, null)).toBe(true);
  });
});
