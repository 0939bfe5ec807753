/**
 * GET /api/v1/audit/export: JSONL and CSV with the filters and the access of GET /api/v1/audit
 * (view_audit; personal data masked for readers without view_sensitive), over the real server.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { csvField } from "../src/services/audit.ts";
import { startTestServer, type TestServer } from "./helpers/kb.ts";

let t: TestServer;
let admin: string;
let auditor: string;
let viewer: string;
let policyDir: string;

/** A small RFC 4180 reader (quoted fields, doubled quotes, CRLF rows). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") row.push(field), (field = "");
    else if (ch === "\r" && text[i + 1] === "\n") {
      row.push(field), rows.push(row), (row = []), (field = ""), i++;
    } else field += ch;
  }
  if (field || row.length) row.push(field), rows.push(row);
  return rows;
}

beforeAll(async () => {
  policyDir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-policy-"));
  fs.writeFileSync(path.join(policyDir, "roles.json"), JSON.stringify({ roles: { auditor: { extends: "viewer", capabilities: ["view_audit"] } } }));
  t = await startTestServer({ policyDir });
  admin = t.tokenFor("boss", "admin");
  auditor = t.tokenFor("aud", "auditor");
  viewer = t.tokenFor("kim", "viewer");
  // Events with awkward text: a comma, quotes, a line break, a formula and personal data.
  for (const query of ['급여, "보너스"\n지급일', "=HYPERLINK(\"http://x\")", "전화 010-1234-5678 누구"]) {
    await t.fetchAs(viewer, "/api/v1/search", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query }) });
  }
});
afterAll(async () => {
  await t?.close();
  fs.rmSync(policyDir, { recursive: true, force: true });
});

describe("audit export", () => {
  it("JSONL: the same events as GET /audit with the same filters", async () => {
    const page = (await (await t.fetchAs(admin, "/api/v1/audit?action=search&limit=1000")).json()) as any;
    const res = await t.fetchAs(admin, "/api/v1/audit/export?action=search&format=jsonl");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
    expect(res.headers.get("content-disposition")).toMatch(/^attachment; filename="audit-\d{4}-\d{2}-\d{2}\.jsonl"$/);
    const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l));
    expect(lines).toHaveLength(3);
    expect(lines).toEqual(page.items);
    // limit bounds the export.
    const one = (await (await t.fetchAs(admin, "/api/v1/audit/export?action=search&limit=1")).text()).trim().split("\n");
    expect(one.map((l) => JSON.parse(l).id)).toEqual([page.items[0].id]);
  });

  it("CSV: a header, one row per event, fields quoted and formulas neutralized, read back unchanged", async () => {
    const res = await t.fetchAs(admin, "/api/v1/audit/export?action=search&format=csv");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]); // a BOM: spreadsheets read the Korean as UTF-8
    const rows = parseCsv(new TextDecoder().decode(bytes)); // (the decoder drops the BOM)
    expect(rows[0]).toEqual(["id", "at", "actor", "action", "target", "outcome", "details"]);
    const json = (await (await t.fetchAs(admin, "/api/v1/audit?action=search")).json()) as any;
    expect(rows.slice(1)).toHaveLength(json.items.length);
    for (const [i, e] of json.items.entries()) {
      const r = rows[i + 1]!;
      expect(r.slice(0, 6)).toEqual([String(e.id), e.at, e.actor, e.action, e.target ?? "", e.outcome]);
      expect(JSON.parse(r[6]!)).toEqual(e.details);
    }
    expect(rows.slice(1).map((r) => JSON.parse(r[6]!).query)).toContain('급여, "보너스"\n지급일');
    expect(csvField("=HYPERLINK(1)")).toBe("'=HYPERLINK(1)");
    expect(csvField("-2+3")).toBe("'-2+3");
    expect(csvField('a,"b"')).toBe('"a,""b"""');
  });

  it("masks personal data for a reader without view_sensitive, and refuses one without view_audit", async () => {
    const jsonl = await (await t.fetchAs(auditor, "/api/v1/audit/export?action=search")).text();
    expect(jsonl).not.toContain("010-1234-5678");
    const csv = await (await t.fetchAs(auditor, "/api/v1/audit/export?action=search&format=csv")).text();
    expect(csv).not.toContain("010-1234-5678");
    expect(await (await t.fetchAs(admin, "/api/v1/audit/export?action=search")).text()).toContain("010-1234-5678");
    const refused = await t.fetchAs(viewer, "/api/v1/audit/export?format=csv");
    expect(refused.status).toBe(403);
    expect(refused.headers.get("content-type")).toMatch(/^application\/json/);
  });

  it("audits each export with its filters and format", async () => {
    const events = t.kb.audit.repository.query({ action: "audit.export" });
    expect(events.some((e) => e.actor === "user:boss" && (e.details as any).format === "csv" && (e.details as any).filters.action === "search")).toBe(true);
  });
});
