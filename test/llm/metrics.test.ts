/**
 * The LLM's metrics with the real tiny GGUF (stories260K): after questions answered by the model,
 * /metrics has one time-to-first-token observation per generation, the tokens the provider
 * reported and the seconds spent, and the LLM queue gauges.
 */
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ingestNow, startTestServer, writeFiles, type TestServer } from "../helpers/kb.ts";
import { GGUF, HAS_GGUF, NO_GGUF_REASON } from "./fixtures.ts";

if (!HAS_GGUF) console.warn(NO_GGUF_REASON);

describe.skipIf(!HAS_GGUF)("LLM metrics", () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(
      { llmModel: GGUF, llmGpu: false, llmGpuLayers: 0, llmThreads: 1, llmContextSize: 2048, llmMaxTokens: 24, llmQueue: 4, metricsToken: "metrics-token-for-llm" },
    );
    const files = writeFiles(`${t.dir}/docs`, { "vpn.txt": "VPN setup\n\nInstall the VPN client from the software center. If the VPN connection drops, switch to a wired connection.\n" });
    await ingestNow(t.kb, [{ source: "vpn.txt", path: files[0]! }]);
  });
  afterAll(async () => t?.close());

  it("records time to first token, tokens and generation time per answer, and the queue", async () => {
    const admin = await t.tokenFor("root", "admin");
    // Two answers, each one generation.
    for (const question of ["How do I set up the VPN?", "What if the VPN connection drops?"]) {
      const res = await t.fetchAs(admin, "/api/v1/ask", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ question }) });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { mode: string };
      expect(body.mode).toBe("llm");
    }
    const text = await (await t.fetchAs("metrics-token-for-llm", "/metrics")).text();
    const families = new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
    // No labels: the parser reads this histogram's count.
    expect(Number(families.get("kb_llm_time_to_first_token_seconds")!.metrics[0]!.count)).toBe(2);
    expect(Number(families.get("kb_llm_generated_tokens_total")!.metrics[0]!.value)).toBeGreaterThanOrEqual(2);
    expect(Number(families.get("kb_llm_generation_seconds_total")!.metrics[0]!.value)).toBeGreaterThan(0);
    const queue = families.get("kb_llm_queue")!.metrics;
    expect(queue.map((s) => s.labels?.state).sort()).toEqual(["active", "queued"]);
    expect(queue.every((s) => s.value === "0")).toBe(true); // nothing waits or runs now
  });
});
