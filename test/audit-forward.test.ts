/**
 * KB_AUDIT_FORWARD: audit events reach a real syslog listener on loopback (UDP and TCP, RFC 5424
 * with the event as JSON) and a JSON-lines file, exactly as stored (chain hash included); a
 * destination that is down never fails or holds up the request, and a full queue drops events,
 * counted in /metrics.
 */
import dgram from "node:dgram";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";
import { AuditForwarder } from "../src/services/audit-forward.ts";
import { Metrics } from "../src/services/metrics.ts";
import type { AuditChainRow } from "../src/stores/metadata.ts";
import { openTestKb, sqlRows, startTestServer, type TestKb } from "./helpers/kb.ts";

const RFC5424 = /^<(\d+)>1 (\S+) (\S+) private-kb (\d+) (\S+) - (.*)$/s;

let t: TestKb | undefined;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await t?.close();
  t = undefined;
  for (const c of cleanups.splice(0)) await c();
});

/** Waits until `check` returns a value (no timing assertion: a missing message fails by the test's timeout). */
async function until<T>(check: () => T | undefined): Promise<T> {
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The stored row of the newest event with this action (SQLite's JSON text parsed; PostgreSQL's jsonb comes parsed). */
async function storedRow(k: TestKb, action: string): Promise<AuditChainRow> {
  const [r] = await sqlRows(k.kb, "SELECT id, at, actor, action, target, outcome, details, hash FROM audit_events WHERE action = ? ORDER BY id DESC LIMIT 1", action);
  const row = r as unknown as AuditChainRow & { details: string | Record<string, unknown> | null };
  return { ...row, id: Number(row.id), details: typeof row.details === "string" ? JSON.parse(row.details) : row.details };
}

describe("audit forwarding", () => {
  it("sends each event to a UDP syslog listener as RFC 5424 with the stored event as JSON", async () => {
    const received: string[] = [];
    const sock = dgram.createSocket("udp4");
    sock.on("message", (m) => received.push(m.toString("utf8")));
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", () => r()));
    cleanups.push(() => new Promise<void>((r) => sock.close(() => r())));
    t = await openTestKb({ auditForward: `syslog+udp://127.0.0.1:${sock.address().port}` });

    await t.kb.audit.record("user:kim", "search", null, { query: "연차 휴가 며칠" });
    await t.kb.audit.record("user:kim", "document.view", "doc_1", { title: "x" }, "denied");
    const [first, second] = await until(() => {
      const mine = received.filter((m) => /private-kb \d+ (search|document\.view) /.test(m));
      return mine.length >= 2 ? mine : undefined;
    });
    const m1 = RFC5424.exec(first!)!;
    expect(m1).not.toBeNull();
    expect(Number(m1[1])).toBe(13 * 8 + 6); // log audit, informational
    expect(m1[4]).toBe(String(process.pid));
    expect(m1[5]).toBe("search");
    expect(JSON.parse(m1[6]!)).toEqual(await storedRow(t, "search"));
    const m2 = RFC5424.exec(second!)!;
    expect(Number(m2[1])).toBe(13 * 8 + 4); // denied: warning
    expect(JSON.parse(m2[6]!)).toMatchObject({ action: "document.view", outcome: "denied", target: "doc_1" });
    expect(JSON.parse(m2[6]!).hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("sends octet-counted frames over TCP, and to a JSON-lines file", async () => {
    let buffer = Buffer.alloc(0);
    const frames: string[] = [];
    const server = net.createServer((s) =>
      s.on("data", (d: Buffer) => {
        buffer = Buffer.concat([buffer, d]);
        // RFC 6587 octet counting: "<length in bytes> <message>".
        for (;;) {
          const sp = buffer.indexOf(0x20);
          if (sp < 0) break;
          const len = Number(buffer.subarray(0, sp).toString("ascii"));
          if (buffer.length < sp + 1 + len) break;
          frames.push(buffer.subarray(sp + 1, sp + 1 + len).toString("utf8"));
          buffer = buffer.subarray(sp + 1 + len);
        }
      }),
    );
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    t = await openTestKb({ auditForward: `syslog+tcp://127.0.0.1:${(server.address() as net.AddressInfo).port}` });
    for (let i = 0; i < 5; i++) await t.kb.audit.record("user:lee", "search", null, { query: `질문 ${i}` });
    const mine = await until(() => {
      const f = frames.filter((x) => / search - /.test(x));
      return f.length >= 5 ? f : undefined;
    });
    const events = mine.map((f) => JSON.parse(RFC5424.exec(f)![6]!) as AuditChainRow);
    expect(events.map((e) => e.details?.query)).toEqual(["질문 0", "질문 1", "질문 2", "질문 3", "질문 4"]);
    expect(events.at(-1)).toEqual(await storedRow(t, "search"));
    await t.close();

    const file = path.join(fs.mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "kb-fwd-")), "audit.jsonl");
    cleanups.push(() => fs.rmSync(path.dirname(file), { recursive: true, force: true }));
    t = await openTestKb({ auditForward: `file:${file}` });
    await t.kb.audit.record("user:park", "document.delete", "doc_9", { title: "old" });
    await t.kb.audit.record("user:park", "search", null, { query: "q" });
    const lines = await until(() => {
      const l = fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter(Boolean) : [];
      return l.some((x) => x.includes('"action":"search"')) ? l : undefined;
    });
    const parsed = lines.map((l) => JSON.parse(l) as AuditChainRow);
    expect(parsed.find((e) => e.action === "document.delete")).toEqual(await storedRow(t, "document.delete"));
    expect(parsed.find((e) => e.action === "search")).toEqual(await storedRow(t, "search"));
    expect(fs.statSync(file).mode & 0o077).toBe(0);
  });

  it("never fails or holds up a request when the destination is down", async () => {
    // A port nobody listens on: bound, then closed.
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const s = await startTestServer({ auditForward: `syslog+tcp://127.0.0.1:${port}` });
    cleanups.push(() => s.close());
    const admin = await s.tokenFor("root", "admin");
    const res = await s.fetchAs(admin, "/api/v1/search", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "anything" }) });
    expect(res.status).toBe(200);
    expect((await s.kb.audit.repository.query({ action: "search" })).length).toBe(1); // stored all the same
  });

  it("drops events beyond its queue while the destination is down, and counts them", async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const metrics = new Metrics();
    const logged: string[] = [];
    const fwd = new AuditForwarder(`syslog+tcp://127.0.0.1:${port}`, { maxQueue: 5, metrics, log: (_l, msg) => logged.push(msg) });
    cleanups.push(() => fwd.close(0));
    const row = (id: number): AuditChainRow => ({ id, at: new Date().toISOString(), actor: "user:x", action: "search", target: null, outcome: "ok", details: null, hash: "0".repeat(64) });
    for (let i = 1; i <= 20; i++) fwd.enqueue(row(i));
    expect(fwd.dropped).toBe(15);
    const families = new Map(parsePrometheusTextFormat((await metrics.render()).body).map((f) => [f.name, f]));
    expect(families.get("kb_audit_forward_events_total")!.metrics.find((m) => m.labels?.outcome === "dropped")?.value).toBe("15");
    expect(logged.filter((m) => m.includes("queue full"))).toHaveLength(1); // once per burst, not per event
  });

  it("accepts only the documented destinations", () => {
    for (const ok of ["syslog+udp://siem.example:514", "syslog+tcp://10.0.0.5:601", "syslog+udp://[fd00::1]:514", "file:/var/log/kb/audit.jsonl"]) {
      expect(loadConfig({ KB_AUDIT_FORWARD: ok }).auditForward).toBe(ok);
    }
    for (const bad of ["http://siem.example/ingest", "syslog://siem:514", "file:relative.jsonl", "syslog+udp://siem.example"]) {
      expect(() => loadConfig({ KB_AUDIT_FORWARD: bad })).toThrow(/KB_AUDIT_FORWARD/);
    }
  });
});
