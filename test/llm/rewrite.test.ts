import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadLlm, LlmBusyError, type LlmProvider } from "../../src/models/llm.ts";
import { cleanRewrite, keyTerms, looksLikeFollowUp, rewriteFollowUp, rewriteFollowUpHeuristic, type RewriteLlm } from "../../src/services/conversation/rewrite.ts";
import { GGUF, HAS_GGUF, NO_GGUF_REASON } from "./fixtures.ts";

if (!HAS_GGUF) console.warn(NO_GGUF_REASON);

const after = (previous: string) => [
  { role: "user" as const, content: previous },
  { role: "assistant" as const, content: "Here is the answer [1]." },
];

describe("rewriteFollowUpHeuristic", () => {
  it("carries the previous question's key terms into an elliptical follow-up", () => {
    expect(rewriteFollowUpHeuristic("그럼 작년에는?", after("2024년 매출은 얼마야?"))).toBe("매출 작년에는?");
    expect(rewriteFollowUpHeuristic("what about last year?", after("What was Samsung's revenue in 2023?"))).toBe("Samsung revenue last year?");
    expect(rewriteFollowUpHeuristic("그건 이월이 돼?", after("연차 휴가는 며칠이야?"))).toBe("연차 휴가 그건 이월이 돼?");
    expect(rewriteFollowUpHeuristic("Can it be carried over?", after("How many days of annual leave do employees get?"))).toBe(
      "days annual leave employees Can it be carried over?",
    );
    expect(rewriteFollowUpHeuristic("and the CFO?", after("Who is the CEO of Acme?"))).toBe("CEO Acme the CFO?");
  });

  it("keeps the dates of the previous question when the follow-up has none", () => {
    expect(rewriteFollowUpHeuristic("그럼 영업이익은?", after("2024년 매출은 얼마야?"))).toBe("2024년 매출 영업이익은?");
  });

  it("leaves standalone questions and first questions alone", () => {
    expect(rewriteFollowUpHeuristic("What is the travel expense policy for overseas trips?", after("How many days of leave do we get?"))).toBe(
      "What is the travel expense policy for overseas trips?",
    );
    expect(rewriteFollowUpHeuristic("출장비 정산 절차는 어떻게 되나요?", after("회사의 보안 정책은 무엇인가요?"))).toBe("출장비 정산 절차는 어떻게 되나요?");
    expect(rewriteFollowUpHeuristic("그럼 작년에는?", [])).toBe("그럼 작년에는?");
  });

  it("detects follow-ups and key terms", () => {
    expect(looksLikeFollowUp("그러면 부산은?")).toBe(true);
    expect(looksLikeFollowUp("What about Busan?")).toBe(true);
    expect(looksLikeFollowUp("Who founded it?")).toBe(true);
    expect(looksLikeFollowUp("Who founded the Acme Corporation in Seoul?")).toBe(false);
    expect(keyTerms("회사의 보안 정책은 무엇인가요?")).toEqual(["회사", "보안", "정책"]);
  });
});

describe("rewriteFollowUp with a model", () => {
  const fake = (reply: string | Error): RewriteLlm & { calls: number } => {
    const llm = {
      calls: 0,
      async generate() {
        llm.calls++;
        if (reply instanceof Error) throw reply;
        return { text: reply };
      },
    };
    return llm;
  };

  it("uses the model's standalone query, cleaned", async () => {
    const llm = fake('Standalone query: "2023년 매출은 얼마인가요?"\nextra line');
    expect(await rewriteFollowUp("그럼 작년에는?", after("2024년 매출은 얼마야?"), llm)).toBe("2023년 매출은 얼마인가요?");
    expect(llm.calls).toBe(1);
  });

  it("falls back to the heuristic on unusable output or errors, and skips the model for standalone questions", async () => {
    expect(await rewriteFollowUp("그럼 작년에는?", after("2024년 매출은 얼마야?"), fake("Once upon a time there was a bird."))).toBe("매출 작년에는?");
    expect(await rewriteFollowUp("그럼 작년에는?", after("2024년 매출은 얼마야?"), fake(""))).toBe("매출 작년에는?");
    expect(await rewriteFollowUp("그럼 작년에는?", after("2024년 매출은 얼마야?"), fake(new LlmBusyError(3)))).toBe("매출 작년에는?");
    const llm = fake("unused");
    expect(await rewriteFollowUp("What is the travel expense policy for overseas trips?", after("Leave?"), llm)).toBe(
      "What is the travel expense policy for overseas trips?",
    );
    expect(llm.calls).toBe(0);
    expect(cleanRewrite("x".repeat(500), "그럼 작년에는?", after("2024년 매출은 얼마야?"))).toBeNull();
  });
});

describe.skipIf(!HAS_GGUF)("rewriteFollowUp (stories260K)", () => {
  let llm: LlmProvider;
  beforeAll(async () => {
    llm = await loadLlm({ modelPath: GGUF, gpu: false, gpuLayers: 0, threads: 1, contextSize: 1024, logger: { info() {}, warn() {} } });
  });
  afterAll(async () => {
    await llm?.close();
  });

  it("returns a usable query with the real model (its babble is rejected in favour of the heuristic)", async () => {
    const q = await rewriteFollowUp("what about last year?", after("What was Samsung's revenue in 2023?"), llm);
    expect(q.length).toBeGreaterThan(0);
    expect(q.split("\n")).toHaveLength(1);
    expect(q.length).toBeLessThanOrEqual(200);
  });
});
