import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { hasCapability, type Actor } from "./actor.ts";
import { parseRolesFile, PolicyConfigError } from "./config-files.ts";
import { BUILTIN_ROLE_CATALOG, capabilitiesOf } from "./roles.ts";

describe("roles", () => {
  it("built-in: admin everything, editor ingest and own documents, viewer search", () => {
    expect(capabilitiesOf("admin").size).toBe(9);
    expect([...capabilitiesOf("editor")].sort()).toEqual(["ingest", "manage_own_documents", "search"]);
    expect([...capabilitiesOf("viewer")]).toEqual(["search"]);
    expect(capabilitiesOf("nobody").size).toBe(0);
    expect(capabilitiesOf("toString").size).toBe(0);
  });

  it("custom roles come from the roles file, extending built-in or custom roles", () => {
    const catalog = parseRolesFile(fs.readFileSync(new URL("./examples/roles.json", import.meta.url), "utf8"));
    expect([...catalog.capabilitiesOf("auditor")].sort()).toEqual(["search", "view_audit"]);
    expect([...catalog.capabilitiesOf("hr-editor")].sort()).toEqual(["ingest", "manage_own_documents", "search", "view_sensitive"]);
    expect(catalog.has("admin") && catalog.has("librarian")).toBe(true);
    expect(BUILTIN_ROLE_CATALOG.has("auditor")).toBe(false);
    const chain = parseRolesFile(JSON.stringify({ roles: { a: { extends: "b", capabilities: ["view_audit"] }, b: { extends: "viewer", capabilities: [] } } }));
    expect([...chain.capabilitiesOf("a")].sort()).toEqual(["search", "view_audit"]);
  });

  it("an actor carries its role's resolved capabilities", () => {
    const catalog = parseRolesFile(JSON.stringify({ roles: { auditor: { capabilities: ["view_audit"] } } }));
    const actor: Actor = { id: "1", name: "a", role: "auditor", groups: [], clearance: 1, capabilities: [...catalog.capabilitiesOf("auditor")] };
    expect(hasCapability(actor, "view_audit")).toBe(true);
    expect(hasCapability(actor, "search")).toBe(false);
    // Without resolved capabilities an unknown role has none.
    expect(hasCapability({ ...actor, capabilities: undefined }, "view_audit")).toBe(false);
  });

  it("rejects bad role files with clear errors", () => {
    const issues = (roles: unknown) => {
      try {
        parseRolesFile(JSON.stringify({ roles }));
        return "";
      } catch (err) {
        expect(err).toBeInstanceOf(PolicyConfigError);
        return (err as PolicyConfigError).issues.join("\n");
      }
    };
    expect(issues({ x: { capabilities: ["fly"] } })).toMatch(/roles\.x\.capabilities\.0: must be one of search/);
    expect(issues({ admin: { capabilities: [] } })).toMatch(/built-in role and cannot be redefined/);
    expect(issues({ x: { extends: "ghost", capabilities: [] } })).toMatch(/roles\.x\.extends: unknown role "ghost"/);
    expect(issues({ a: { extends: "b" }, b: { extends: "a" } })).toMatch(/cycle/);
    expect(issues({ "bad name": { capabilities: [] } })).toMatch(/must be 1-64 letters/);
    expect(issues({ x: { capabilities: [], colour: "red" } })).toMatch(/colour/);
  });
});
