/** SCIM filter and PATCH semantics (RFC 7644 §3.4.2.2, §3.5.2) on plain JSON, without a server. */
import { describe, expect, it } from "vitest";
import { CORE_USER, ENTERPRISE_USER, type JsonObject } from "./attributes.ts";
import { matches, parseFilter, simpleEquality } from "./filter.ts";
import { applyPatch, parsePatchRequest } from "./patch.ts";
import { project, userFacts } from "./resources.ts";

const user: JsonObject = {
  id: "2819c223-7f76-453a-919d-413861904646",
  externalId: "AbC-1",
  userName: "Bjensen@Example.com",
  name: { givenName: "Barbara", familyName: "Jensen" },
  emails: [
    { value: "bjensen@example.com", type: "work", primary: true },
    { value: "babs@jensen.org", type: "home" },
  ],
  active: true,
  [ENTERPRISE_USER]: { employeeNumber: "701984" },
};
const match = (f: string) => matches(user, parseFilter(f), CORE_USER);
const patch = (...ops: unknown[]) => applyPatch(user, parsePatchRequest({ schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: ops }), CORE_USER);

describe("filters", () => {
  it("ignore case in attribute names and in caseExact=false values, not in id and externalId", () => {
    expect(match('USERNAME eq "bjensen@example.com"')).toBe(true);
    expect(match('externalId eq "abc-1"')).toBe(false);
    expect(match('externalId eq "AbC-1"')).toBe(true);
    expect(match('id eq "2819C223-7F76-453A-919D-413861904646"')).toBe(false);
  });

  it("match a multi-valued attribute by any value, within a value filter by the same value", () => {
    expect(match('emails.value ew "@jensen.org"')).toBe(true);
    expect(match('emails[type eq "home" and value sw "babs"]')).toBe(true);
    expect(match('emails[type eq "home" and value sw "bjensen"]')).toBe(false);
  });

  it("support pr, not, or, grouping, extension URNs and comparisons", () => {
    expect(match("title pr")).toBe(false);
    expect(match("name.givenName pr and not (active eq false)")).toBe(true);
    expect(match('userName eq "x" or (emails pr and active eq true)')).toBe(true);
    expect(match(`${ENTERPRISE_USER}:employeeNumber eq "701984"`)).toBe(true);
    expect(match('name.familyName gt "J" and name.familyName lt "K"')).toBe(true);
    expect(match('title ne "boss"')).toBe(true); // an unassigned attribute is not equal to anything
  });

  it("refuse what the grammar does not allow, as invalidFilter", () => {
    for (const bad of ["userName eq", 'userName xx "a"', "(", 'userName co true', `userName eq "${"x".repeat(5000)}"`]) {
      expect(() => parseFilter(bad), bad).toThrow(expect.objectContaining({ status: 400, scimType: "invalidFilter" }));
    }
  });

  it("recognize the indexed lookups IdPs make, and nothing else", () => {
    expect(simpleEquality(parseFilter('userName eq "a"'), ["userName", "externalId"], CORE_USER)).toEqual({ attr: "userName", value: "a" });
    expect(simpleEquality(parseFilter(`${CORE_USER}:userName eq "a"`), ["userName"], CORE_USER)).toEqual({ attr: "userName", value: "a" });
    expect(simpleEquality(parseFilter('userName sw "a"'), ["userName"], CORE_USER)).toBeNull();
    expect(simpleEquality(parseFilter('userName eq "a" and active eq true'), ["userName"], CORE_USER)).toBeNull();
  });
});

describe("PATCH", () => {
  it("adds to multi-valued attributes without duplicates and merges complex ones", () => {
    const out = patch({ op: "add", path: "emails", value: [{ value: "bjensen@example.com", type: "work" }, { value: "new@x.org", type: "other" }] }, { op: "add", path: "name", value: { middleName: "Jane" } });
    expect((out.emails as unknown[]).length).toBe(3);
    expect(out.name).toEqual({ givenName: "Barbara", familyName: "Jensen", middleName: "Jane" });
  });

  it("replaces an extension's attributes given as its object in a no-path replace", () => {
    const out = patch({ op: "replace", value: { [ENTERPRISE_USER]: { department: "인사", employeeNumber: "1" } } });
    expect(out[ENTERPRISE_USER]).toEqual({ employeeNumber: "1", department: "인사" });
  });

  it("removes sub-attributes of filtered values, whole filtered values, and ends with the attribute unassigned", () => {
    const noPrimary = patch({ op: "remove", path: 'emails[type eq "work"].primary' });
    expect((noPrimary.emails as { primary?: boolean }[])[0]!.primary).toBeUndefined();
    const none = patch({ op: "remove", path: 'emails[type eq "work"]' }, { op: "remove", path: 'emails[type eq "home"]' });
    expect(none.emails).toBeUndefined();
    expect(patch({ op: "remove", path: "nickName" })).toEqual(user); // nothing there: nothing to do
  });

  it("leaves its input alone", () => {
    const before = JSON.stringify(user);
    patch({ op: "replace", path: "name.givenName", value: "Babs" }, { op: "remove", path: "emails" });
    expect(JSON.stringify(user)).toBe(before);
  });

  it("refuses what RFC 7644 refuses, with its scimType", () => {
    const cases: [unknown, string][] = [
      [{ op: "replace", path: "meta", value: {} }, "mutability"],
      [{ op: "replace", path: "emails[type eq", value: "x" }, "invalidPath"],
      [{ op: "replace", path: "a.b.c", value: "x" }, "invalidPath"],
      [{ op: "replace", value: "not an object" }, "invalidValue"],
      [{ op: "add", path: "nickName" }, "invalidValue"],
    ];
    for (const [op, scimType] of cases) expect(() => patch(op), JSON.stringify(op)).toThrow(expect.objectContaining({ status: 400, scimType }));
    expect(() => parsePatchRequest({ Operations: [{ op: "add", path: "x", value: 1 }] })).toThrow(expect.objectContaining({ scimType: "invalidSyntax" }));
  });
});

describe("resources", () => {
  it("keep what the client sent except what the server owns, with active as a boolean", () => {
    const facts = userFacts({ schemas: [CORE_USER], id: "theirs", userName: " kim ", password: "secret", groups: [], meta: {}, active: "False", emails: [{ value: "k@x", primary: "True" }] }, { requireSchemas: true });
    expect(facts.attributes).toEqual({ userName: "kim", active: false, emails: [{ value: "k@x", primary: "True" }] });
    expect(facts).toMatchObject({ userName: "kim", active: false, email: "k@x", displayName: "kim" });
  });

  it("project attributes (id and schemas always) and excludedAttributes", () => {
    const shown = { schemas: [CORE_USER], ...user };
    expect(project(shown, CORE_USER, ["emails.value", `${ENTERPRISE_USER}:employeeNumber`])).toEqual({
      schemas: [CORE_USER],
      id: user.id,
      emails: [{ value: "bjensen@example.com" }, { value: "babs@jensen.org" }],
      [ENTERPRISE_USER]: { employeeNumber: "701984" },
    });
    expect(Object.keys(project(shown, CORE_USER, undefined, ["name", "emails", "schemas"])).sort()).toEqual(["active", "externalId", "id", "schemas", "userName", ENTERPRISE_USER].sort());
  });
});
