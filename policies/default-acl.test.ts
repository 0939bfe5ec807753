import { describe, expect, it } from "vitest";
import { resolveAcl } from "./default-acl.ts";
import { parsePrincipalList } from "./principal-format.ts";

describe("default ACL", () => {
  it("makes documents readable by every signed-in user and the owner by default", () => {
    expect(resolveAcl({ source: "a.md", owner: "user:kim" }, {})).toEqual({ allow: ["group:everyone", "user:kim"], deny: [], classification: 1 });
    expect(resolveAcl({ source: "a.md", owner: null }, {}).allow).toEqual(["group:everyone"]);
  });

  it("replaces the default allow list with an explicit one, keeping the owner", () => {
    expect(resolveAcl({ source: "a.md", owner: "user:kim" }, { allow: ["group:hr"], deny: ["user:lee"] })).toEqual({ allow: ["group:hr", "user:kim"], deny: ["user:lee"], classification: 1 });
  });

  it("parses principal lists and rejects malformed ones", () => {
    expect(parsePrincipalList(" group:hr, user:kim,group:hr ")).toEqual(["group:hr", "user:kim"]);
    expect(parsePrincipalList("group:인사팀")).toEqual(["group:인사팀"]);
    expect(() => parsePrincipalList("hr")).toThrow(/invalid principal/);
    expect(() => parsePrincipalList("user:a'b")).toThrow(/invalid principal/);
  });
});
