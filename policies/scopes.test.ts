/**
 * Token scopes (scopes.ts): every action a scope names is a registered policy check (a typo
 * would silently refuse it), the capabilities are known ones, and a scoped actor passes a check
 * only when both its role and its scopes allow it.
 */
import { describe, expect, it } from "vitest";
import { CAPABILITIES, capabilitiesOf } from "./roles.ts";
import { actionsOf, authorize, can, ForbiddenError, resource } from "./policy.ts";
import { DocumentCollection, Users, type Actor } from "./index.ts";
import { normalizeScopes, SCOPE_NAMES, scopedCapabilities, scopesPermit, TOKEN_SCOPES } from "./scopes.ts";

function refusal(f: () => void): ForbiddenError {
  try {
    f();
  } catch (err) {
    if (err instanceof ForbiddenError) return err;
    throw err;
  }
  throw new Error("not refused");
}

describe("token scopes", () => {
  it("name only registered policy checks and known capabilities", () => {
    for (const [scope, def] of Object.entries(TOKEN_SCOPES)) {
      for (const key of def.actions) {
        const [res, action] = key.split(":") as [string, string];
        const registered = actionsOf(resource(res));
        expect(registered.length, `${scope}: ${key} names no resource`).toBeGreaterThan(0);
        if (action !== "*") expect(registered, `${scope}: ${key}`).toContain(action);
      }
      for (const c of def.capabilities) expect(CAPABILITIES as readonly string[], `${scope}: ${c}`).toContain(c);
    }
  });

  it("narrow the role (never widen it) and gate each check", () => {
    const admin: Actor = { id: "u1", name: "root", role: "admin", groups: [], clearance: 3, capabilities: [...capabilitiesOf("admin")] };
    const searchOnly: Actor = { ...admin, capabilities: scopedCapabilities(capabilitiesOf("admin"), ["search"]), scopes: ["search"] };
    expect(searchOnly.capabilities).toEqual(["read_all_documents", "search", "view_sensitive"]);
    expect(can(searchOnly, "list", DocumentCollection, null)).toBe(true);
    expect(can(searchOnly, "ask", DocumentCollection, null)).toBe(false);
    expect(can(searchOnly, "create", DocumentCollection, null)).toBe(false);
    expect(refusal(() => authorize(searchOnly, "list", Users, null)).scopes).toEqual(["search"]); // refused for the scope
    // A viewer's admin scope adds nothing: the role refuses, and the error says so (no scopes on it).
    const viewer: Actor = { id: "u2", name: "kim", role: "viewer", groups: [], clearance: 1, capabilities: scopedCapabilities(capabilitiesOf("viewer"), ["admin"]), scopes: ["admin"] };
    expect(viewer.capabilities).toEqual([]);
    expect(refusal(() => authorize(viewer, "list", Users, null)).scopes).toBeUndefined();
    expect(scopesPermit(["admin"], "users", "delete")).toBe(true); // resource:* covers every action
    expect(scopesPermit(["search", "ask"], "documents", "read")).toBe(false);
  });

  it("normalizes names and refuses unknown ones", () => {
    expect(normalizeScopes(["search", "ask", "search"])).toEqual(["ask", "search"]);
    expect(() => normalizeScopes(["search", "everything"])).toThrow(/unknown scope "everything" \(known: search, ask, read_documents, write_documents, admin\)/);
    expect(SCOPE_NAMES).toEqual(["search", "ask", "read_documents", "write_documents", "admin"]);
  });
});
