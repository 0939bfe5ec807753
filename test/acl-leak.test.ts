/**
 * Property test: over random users, groups and document ACLs (changed between queries),
 * nobody ever receives a chunk, citation, title or text of a document they may not read,
 * through search, ask or the document routes — and everything they may read stays findable.
 * The expected visibility is computed by an oracle written here, independent of policies/.
 */
import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ingestNow, startTestServer, writeFiles, type TestServer } from "./helpers/kb.ts";

const USERS = ["u0", "u1", "u2", "u3", "u4", "u5"];
const GROUPS = ["g0", "g1", "g2", "g3"];
const DOCS = 10;

interface Acl {
  allow: string[];
  deny: string[];
}

let t: TestServer;
const tokens = new Map<string, string>();
const memberships = new Map<string, string[]>();
const acls: Acl[] = [];
let files: string[] = [];
const docIds: string[] = [];

function visible(user: string, acl: Acl): boolean {
  const mine = new Set([`user:${user}`, "group:everyone", ...(memberships.get(user) ?? []).map((g) => `group:${g}`)]);
  return acl.allow.some((p) => mine.has(p)) && !acl.deny.some((p) => mine.has(p));
}

const principal = fc.oneof(fc.constantFrom(...USERS).map((u) => `user:${u}`), fc.constantFrom(...GROUPS).map((g) => `group:${g}`), fc.constant("group:everyone"));
const aclArb = fc.record({ allow: fc.uniqueArray(principal, { minLength: 1, maxLength: 3 }), deny: fc.uniqueArray(principal, { maxLength: 2 }) });
const json = (body: unknown) => ({ method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

beforeAll(async () => {
  t = await startTestServer({ rateLimitPerMinute: 0 });
  const rng = fc.sample(fc.array(fc.constantFrom(...GROUPS), { maxLength: 3 }), { numRuns: USERS.length, seed: 7 });
  for (const [i, u] of USERS.entries()) {
    const groups = [...new Set(rng[i])];
    memberships.set(u, groups);
    tokens.set(u, await t.tokenFor(u, "viewer", groups));
  }
  const initial = fc.sample(aclArb, { numRuns: DOCS, seed: 11 });
  const dir = path.join(t.dir, "corpus");
  files = writeFiles(
    dir,
    Object.fromEntries(initial.map((_, i) => [`doc${i}.txt`, `Quarterly report number ${i}. The codeword for this report is marker${i}x. 분기 보고서 ${i}번입니다.`])),
  );
  const { job, documents } = await ingestNow(t.kb, files.map((f, i) => ({ source: f, path: f, ...initial[i]! })));
  expect(job.status).toBe("succeeded");
  acls.push(...initial.map((a) => ({ allow: [...a.allow].sort(), deny: [...a.deny].sort() })));
  docIds.push(...documents.map((d) => d.id));
});
afterAll(async () => t?.close());

describe("no leaks across search, ask and document routes", () => {
  it("holds for random users while ACLs change between queries", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...USERS), fc.option(fc.tuple(fc.integer({ min: 0, max: DOCS - 1 }), aclArb), { nil: undefined }), async (user, change) => {
        if (change) {
          // Re-ingesting unchanged content with a new ACL updates access in place.
          const [i, acl] = change;
          const { job } = await ingestNow(t.kb, [{ source: files[i]!, path: files[i]!, allow: acl.allow, deny: acl.deny }]);
          expect(job.files[0]!.status).not.toBe("failed");
          acls[i] = { allow: [...acl.allow].sort(), deny: [...acl.deny].sort() };
        }
        const token = tokens.get(user)!;
        const allowed = new Set(docIds.filter((_, i) => visible(user, acls[i]!)));

        const search = (await (await t.fetchAs(token, "/api/v1/search", json({ query: "quarterly report codeword 분기 보고서", topK: 50 }))).json()) as any;
        const found = new Set<string>(search.results.map((r: any) => r.documentId));
        for (const id of found) expect(allowed.has(id)).toBe(true);
        expect(found).toEqual(allowed); // everything readable stays findable

        const target = fc.sample(fc.integer({ min: 0, max: DOCS - 1 }), 1)[0]!;
        const ask = (await (await t.fetchAs(token, "/api/v1/ask", json({ question: `What is report marker${target}x?` }))).json()) as any;
        for (const c of ask.citations) expect(allowed.has(c.documentId)).toBe(true);
        if (!allowed.has(docIds[target]!)) expect(ask.answer).not.toContain(`marker${target}x`);

        const list = (await (await t.fetchAs(token, "/api/v1/documents?limit=500")).json()) as any;
        expect(new Set(list.items.map((d: any) => d.id))).toEqual(allowed);
        for (const [i, id] of docIds.entries()) {
          const meta = await t.fetchAs(token, `/api/v1/documents/${id}`);
          const text = await t.fetchAs(token, `/api/v1/documents/${id}/text`);
          const expected = visible(user, acls[i]!) ? 200 : 404;
          expect(meta.status).toBe(expected);
          expect(text.status).toBe(expected);
          if (expected === 404) expect(await text.text()).not.toContain(`marker${i}x`);
          else await text.arrayBuffer();
        }
      }),
      { numRuns: 60 },
    );
  });
});
