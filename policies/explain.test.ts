/**
 * The explain interpreter decides exactly like `evaluate` (and so like the LanceDB filter,
 * see rule.test.ts), and says why in terms of the rule's own data.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Actor } from "./actor.ts";
import { documentReadRule } from "./documents.ts";
import { explainRead } from "./explain.ts";
import { evaluate, explain } from "./rule.ts";

const USERS = ["kim", "lee", "park"];
const GROUPS = ["hr", "sales", "eng"];
const principal = fc.oneof(fc.constantFrom(...USERS).map((u) => `user:${u}`), fc.constantFrom(...GROUPS).map((g) => `group:${g}`), fc.constant("group:everyone"), fc.constant("role:editor"));
const doc = fc.record({
  allow: fc.uniqueArray(principal, { maxLength: 4 }),
  deny: fc.uniqueArray(principal, { maxLength: 2 }),
  classification: fc.integer({ min: 0, max: 3 }),
  owner: fc.constant(null),
});
const actor: fc.Arbitrary<Actor> = fc.record({
  id: fc.constant("u"),
  name: fc.constantFrom(...USERS),
  role: fc.constantFrom("viewer", "editor", "admin"),
  groups: fc.uniqueArray(fc.constantFrom(...GROUPS), { maxLength: 2 }),
  clearance: fc.integer({ min: 0, max: 3 }),
});

describe("explain", () => {
  it("agrees with evaluate on every rule and row", () => {
    fc.assert(
      fc.property(actor, doc, (a, d) => {
        const rule = documentReadRule(a);
        expect(explain(rule, d).result).toBe(evaluate(rule, d));
        const e = explainRead(a, d);
        expect(e.allowed).toBe(evaluate(rule, d));
        // A denial always names its cause.
        if (!e.allowed) expect(e.reasons.some((r) => /^(DENIED|CLEARANCE TOO LOW|not allowed)/.test(r))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  const kim: Actor = { id: "1", name: "kim", role: "viewer", groups: ["hr", "seoul"], clearance: 1 };

  it("names the principal that granted access and how the user holds it", () => {
    const e = explainRead(kim, { allow: ["group:hr"], deny: [], classification: 1, owner: null }, { via: { "group:hr": "group:seoul → group:hr" } });
    expect(e.allowed).toBe(true);
    expect(e.reasons).toContain("allow list grants access to group:hr (member via group:seoul → group:hr)");
    expect(e.reasons).toContain("clearance internal (1) covers classification internal (1)");
    expect(e.actions).toMatchObject({ read: true, update: false, delete: false, set_acl: false });
  });

  it("says a deny hit wins over allow", () => {
    const e = explainRead(kim, { allow: ["group:everyone"], deny: ["group:seoul"], classification: 0, owner: null });
    expect(e.allowed).toBe(false);
    expect(e.reasons[0]).toBe("DENIED: the deny list names group:seoul (deny wins over allow)");
  });

  it("says when clearance is too low, and when nothing in the allow list matches", () => {
    const e = explainRead(kim, { allow: ["group:sales"], deny: [], classification: 3, owner: null });
    expect(e.allowed).toBe(false);
    expect(e.reasons).toContain("CLEARANCE TOO LOW: classification secret (3) is above your clearance internal (1)");
    expect(e.reasons).toContain("not allowed: the allow list [group:sales] names none of your principals");
  });

  it("explains the admin bypass", () => {
    const e = explainRead({ ...kim, role: "admin" }, { allow: [], deny: ["user:kim"], classification: 3, owner: null });
    expect(e.allowed).toBe(true);
    expect(e.reasons).toEqual(['allowed: role "admin" has the read_all_documents capability']);
  });
});
