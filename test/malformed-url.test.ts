/** Malformed percent-encoding in a URL is a 400 on every route, before any decoding or permission check. */
import { afterEach, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./helpers/kb.ts";

let t: TestServer | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe("malformed percent-encoding", () => {
  it("is a 400 malformed_url on every route for a viewer, never a 500", async () => {
    const s = await startTestServer({ rateLimitPerMinute: 0 });
    t = s;
    const viewer = await s.tokenFor("vee");
    const cases: [string, string][] = [
      ["GET", "/api/v1/documents/%E0%A4%A"],
      ["GET", "/api/v1/documents/%E0%A4%A/text"],
      ["DELETE", "/api/v1/documents/%ZZ"],
      ["PUT", "/api/v1/documents/%C3/acl"],
      ["GET", "/api/v1/jobs/%E0"],
      ["GET", "/api/v1/conversations/%FF"],
      ["GET", "/api/v1/audit?actor=%E0%A4%A"],
      ["DELETE", "/api/v1/admin/groups/g/members/%E0%A4%A"],
      ["GET", "/api/v1/admin/users/%"],
      ["GET", "/v1/models/%E0"],
      ["GET", "/%E0%A4%A"],
    ];
    for (const [method, path] of cases) {
      const res = await s.fetchAs(viewer, path, { method, headers: { "content-type": "application/json" }, body: method === "PUT" ? "{}" : undefined });
      expect(res.status, `${method} ${path}`).toBe(400);
      expect(((await res.json()) as any).error.code, `${method} ${path}`).toBe("malformed_url");
    }
    // A well-formed "%" in a parameter is decoded once, by the router: "%E0" is just a name here,
    // and the permission check answers.
    const member = await s.fetchAs(viewer, "/api/v1/admin/groups/g/members/%25E0", { method: "DELETE" });
    expect(member.status).toBe(403);
    // Without a token: also 400, and nothing is audited.
    expect((await s.fetchAs(null, "/api/v1/documents/%E0%A4%A")).status).toBe(400);
  });
});
