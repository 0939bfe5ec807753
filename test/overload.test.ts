/**
 * Issue 14, load: beyond capacity, searches and questions are refused at once with 503
 * `overloaded` + Retry-After instead of queueing without bound; within it, nothing is refused.
 * The queue itself (turn order, bounded waiting, timeouts) is checked on LoadShedder; the
 * refusal through the real server on loopback, with capacity lowered to one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LoadShedder } from "../src/http/middleware/overload.ts";
import { ingestNow, startTestServer, writeFiles, type TestServer } from "./helpers/kb.ts";

describe("LoadShedder", () => {
  it("runs maxInFlight at once, queues maxQueued in order, refuses beyond and after maxWaitMs", async () => {
    const s = new LoadShedder({ maxInFlight: 2, maxQueued: 1, maxWaitMs: 50 });
    const a = await s.acquire();
    const b = await s.acquire();
    expect(a && b).toBeTruthy();
    const queued = s.acquire();
    expect(await s.acquire()).toBeNull(); // queue full: refused at once
    expect(s.stats).toMatchObject({ inFlight: 2, queued: 1 });
    a!();
    const c = await queued; // the waiting one got the freed turn
    expect(c).toBeTruthy();
    expect(s.stats).toMatchObject({ inFlight: 2, queued: 0 });
    const late = await s.acquire(); // waits 50 ms, nobody releases
    expect(late).toBeNull();
    expect(s.stats.queued).toBe(0);
    b!();
    c!();
    expect(s.stats.inFlight).toBe(0);
  });
});

describe("through the server", () => {
  let t: TestServer;
  let token: string;
  beforeAll(async () => {
    t = await startTestServer({ overload: { maxInFlight: 1, maxQueued: 0, maxWaitMs: 0 } });
    token = await t.tokenFor("kim");
    const files = writeFiles(`${t.dir}/docs`, Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`n${i}.md`, `# 공지 ${i}\n\n연차 휴가 신청은 인사 시스템에서 합니다. 번호 ${i}.\n`])));
    await ingestNow(t.kb, files.map((p) => ({ source: p, path: p, allow: ["group:everyone"] })));
  });
  afterAll(async () => t?.close());

  it("a burst beyond capacity gets 503 overloaded with Retry-After; the rest are answered; capacity returns", async () => {
    const search = () => t.fetchAs(token, "/api/v1/search", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "연차 휴가 신청", topK: 5 }) });
    const answers = await Promise.all(Array.from({ length: 20 }, search));
    const refused = answers.filter((r) => r.status === 503);
    expect(refused.length).toBeGreaterThan(0);
    expect(answers.every((r) => r.status === 200 || r.status === 503)).toBe(true);
    expect(refused[0]!.headers.get("retry-after")).toBe("1");
    expect(((await refused[0]!.json()) as { error: { code: string } }).error.code).toBe("overloaded");
    expect((await search()).status).toBe(200);
    // Cheap routes are never shed.
    const me = await Promise.all(Array.from({ length: 10 }, () => t.fetchAs(token, "/api/v1/me")));
    expect(me.every((r) => r.status === 200)).toBe(true);
  });
});
