import fs from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseDocumentRulesFile, PolicyConfigError } from "./config-files.ts";
import { resolveAcl } from "./default-acl.ts";
import { NO_DOCUMENT_RULES, resolveDocumentAccess } from "./document-rules.ts";
import { compileGlob, matchGlob } from "./glob.ts";

const example = parseDocumentRulesFile(fs.readFileSync(new URL("./examples/document-rules.json", import.meta.url), "utf8"));

describe("globs", () => {
  const m = (pattern: string, source: string) => matchGlob(compileGlob(pattern), source);
  it("match names anywhere unless anchored", () => {
    expect(m("*.pdf", "/srv/a/b.pdf")).toBe(true);
    expect(m("*.pdf", "b.pdf")).toBe(true);
    expect(m("*.pdf", "/srv/a/b.pdf.txt")).toBe(false);
    expect(m("hr/**", "/srv/share/hr/2026/pay.xlsx")).toBe(true);
    expect(m("hr/**", "/srv/share/chr/pay.xlsx")).toBe(false);
    expect(m("/srv/hr/*", "/srv/hr/a.md")).toBe(true);
    expect(m("/srv/hr/*", "/srv/hr/sub/a.md")).toBe(false);
    expect(m("/srv/hr/*", "/x/srv/hr/a.md")).toBe(false);
    expect(m("**/contracts/*.{pdf,hwp}", "C:\\docs\\contracts\\계약서.hwp")).toBe(true);
    expect(m("인사/**", "/공유/인사/급여.xlsx")).toBe(true);
    expect(m("report-[0-9][0-9].md", "report-07.md")).toBe(true);
    expect(m("report-[!0-9]*", "report-07.md")).toBe(false);
  });

  it("reject malformed patterns", () => {
    expect(() => compileGlob("a**b")).toThrow(/whole path segment/);
    expect(() => compileGlob("{a,b")).toThrow(/unclosed/);
    expect(() => compileGlob("[ab")).toThrow(/unclosed/);
  });
});

describe("document default rules", () => {
  it("give new documents access from path, tags and extension; the owner keeps access", () => {
    const hr = resolveDocumentAccess(example, { source: "/srv/share/hr/pay.xlsx", owner: "user:kim" });
    expect(hr).toMatchObject({ allow: ["group:hr", "user:kim"], deny: [], classification: 2, tags: ["hr"], matched: ["hr-folder"] });
    expect(hr.decidedBy).toEqual({ allow: "hr-folder", deny: [], classification: "hr-folder" });

    const contract = resolveDocumentAccess(example, { source: "/srv/hr/contracts/a.pdf", owner: null });
    expect(contract).toMatchObject({ allow: ["group:hr"], deny: ["group:interns"], classification: 2, matched: ["hr-folder", "contracts"] });

    const board = resolveDocumentAccess(example, { source: "minutes.md", owner: null, tags: ["board"] });
    expect(board).toMatchObject({ allow: ["group:board"], classification: 3, tags: ["board"] });

    const handbook = resolveDocumentAccess(example, { source: "/srv/share/handbook/intro.md", owner: null });
    expect(handbook).toMatchObject({ allow: ["group:everyone"], classification: 0, matched: ["public-handbook"] });
    expect(resolveDocumentAccess(example, { source: "/srv/share/handbook/intro.txt", owner: null }).classification).toBe(1);
  });

  it("can make synced documents deny-by-default (`match.synced`), leaving uploads alone", () => {
    const synced = resolveDocumentAccess(example, { source: "/srv/share/handbook/intro.md", owner: "user:root", synced: true });
    expect(synced).toMatchObject({ allow: ["user:root"], matched: ["synced-private", "public-handbook"], decidedBy: { allow: "synced-private" } });
    expect(resolveDocumentAccess(example, { source: "/srv/share/hr/pay.xlsx", owner: null, synced: true }).allow).toEqual(["group:hr"]);
    expect(resolveDocumentAccess(example, { source: "/srv/share/handbook/intro.md", owner: null }).allow).toEqual(["group:everyone"]);
    const uploadsOnly = parseDocumentRulesFile(JSON.stringify({ rules: [{ name: "u", match: { synced: false }, classification: "confidential" }] }));
    expect(resolveDocumentAccess(uploadsOnly, { source: "a.txt", owner: null, synced: true }).classification).toBe(1);
    expect(resolveDocumentAccess(uploadsOnly, { source: "a.txt", owner: null }).classification).toBe(2);
  });

  it("let explicit choices replace allow and set classification, but never remove a rule's deny", () => {
    const r = resolveDocumentAccess(example, { source: "/x/contracts/b.hwp", owner: null }, { allow: ["group:legal"], deny: ["user:lee"], classification: 3 });
    expect(r).toMatchObject({ allow: ["group:legal"], deny: ["group:interns", "user:lee"], classification: 3 });
    expect(r.decidedBy).toEqual({ allow: "explicit", deny: ["contracts", "explicit"], classification: "explicit" });
  });

  it("resolve classification conflicts upwards", () => {
    const rules = parseDocumentRulesFile(JSON.stringify({ rules: [{ name: "a", match: {}, classification: "secret" }, { name: "b", match: {}, classification: "public" }] }));
    expect(resolveDocumentAccess(rules, { source: "x", owner: null }).classification).toBe(3);
  });

  it("agree with the built-in default when there are no rules", () => {
    const principal = fc.constantFrom("user:kim", "group:hr", "group:everyone", "role:editor");
    fc.assert(
      fc.property(
        fc.constantFrom("a.md", "/srv/x/b.pdf"),
        fc.option(fc.constantFrom("user:kim", "user:lee"), { nil: null }),
        fc.option(fc.uniqueArray(principal, { minLength: 1, maxLength: 3 }), { nil: undefined }),
        fc.option(fc.uniqueArray(principal, { maxLength: 2 }), { nil: undefined }),
        fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
        (source, owner, allow, deny, classification) => {
          const explicit = { allow, deny, classification };
          const { allow: a, deny: d, classification: c } = resolveDocumentAccess(NO_DOCUMENT_RULES, { source, owner }, explicit);
          expect({ allow: a, deny: d, classification: c }).toEqual(resolveAcl({ source, owner }, explicit));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("are validated with clear errors", () => {
    const bad = (rules: unknown) => {
      try {
        parseDocumentRulesFile(JSON.stringify({ rules }));
      } catch (err) {
        expect(err).toBeInstanceOf(PolicyConfigError);
        return (err as PolicyConfigError).issues.join("\n");
      }
      throw new Error("expected a PolicyConfigError");
    };
    expect(bad([{ name: "x", match: {}, allow: ["hr"] }])).toMatch(/rules\.0\.allow\.0: invalid principal "hr"/);
    expect(bad([{ name: "x", match: {}, classification: "top-secret" }])).toMatch(/rules\.0\.classification: must be one of public/);
    expect(bad([{ name: "x", match: { path: "a**" }, deny: ["group:x"] }])).toMatch(/rules\.0\.match\.path:.*whole path segment/);
    expect(bad([{ name: "x", match: {} }])).toMatch(/at least one of allow, deny, classification, tags/);
    expect(bad([{ name: "x", match: { colour: "red" }, tags: ["a"] }])).toMatch(/rules\.0\.match.*colour/);
    expect(bad([{ name: "x", match: {}, tags: ["a"] }, { name: "x", match: {}, tags: ["b"] }])).toMatch(/duplicate rule name "x"/);
    expect(() => parseDocumentRulesFile("{ not json")).toThrow(/not valid JSON/);
  });
});
