/**
 * The local-LLM answerer: the model writes the answer from the numbered sources (grounded prompt),
 * tokens stream out as `delta` events, and the finished text goes through the citation check:
 * citations to sources that do not exist or do not support their sentence are taken out of the
 * answer and reported in `flagged`; every kept citation carries a quote from its source.
 *
 * Events: `sources` (the sources the model was shown) → `delta`* (raw model text as it arrives)
 * → `done` (the checked answer; clients should show `done.answer` in place of the streamed text,
 * since unsupported markers are removed from it).
 *
 * - No sources (retrieval found nothing the asker may read): answers "no answer" in the question's
 *   language without calling the model.
 * - Busy: the capacity check runs before the first event, so the route can still answer 429 with
 *   Retry-After (LlmBusyError). A request that loses the race to a full queue after streaming
 *   started fails with the same error mid-stream.
 * - The caller's AbortSignal stops generation; `done` then carries what was generated so far.
 *   A timeout (LlmTimeoutError) and other model errors are thrown.
 * - `found` is false when the model said it does not know, or when no citation survived the check
 *   (an answer that cites nothing it can be held to is not treated as found).
 */
import { checkCitations, isNoAnswer } from "../../domain/grounding/citations.ts";
import { buildGroundedPrompt } from "../../domain/grounding/prompt.ts";
import type { LlmProvider } from "../../models/llm.ts";
import { NO_ANSWER } from "./extractive.ts";
import type { AnswerEvent, AnswerRequest, Answerer } from "./types.ts";

export interface LlmAnswererOptions {
  /** Answer length limit in tokens (default 512). */
  maxTokens?: number;
  /** Sampling temperature (default 0: greedy, the most faithful to the sources). */
  temperature?: number;
  /** Overrides the provider's per-request timeout. */
  timeoutMs?: number;
  /** Generate exactly the token limit, never stopping at end-of-generation (benchmarks, tests). */
  ignoreEos?: boolean;
  /**
   * Least time between two `delta` events, ms (default 25): the first token goes out at once;
   * tokens that arrive faster than this are sent together. A model slower than 40 tokens/s is
   * never delayed; a fast one (small models, GPUs) costs one SSE event per interval instead of per
   * token. 0: one event per token callback.
   */
  streamIntervalMs?: number;
  /** Told the time to each generation's first token, and its tokens and generating seconds (metrics). */
  metrics?: { llmFirstTokenAfter(seconds: number): void; llmGenerated(tokens: number, seconds: number): void };
}

export const DEFAULT_STREAM_INTERVAL_MS = 25;

export type AnswerLlm = Pick<LlmProvider, "generate" | "info" | "countTokens" | "assertCapacity">;

/** Push-to-pull bridge: the model's token callback pushes, the generator pulls. */
class Channel<T> {
  private items: T[] = [];
  private wake: (() => void) | null = null;
  push(item: T): void {
    this.items.push(item);
    this.wake?.();
    this.wake = null;
  }
  drain(): T[] {
    return this.items.splice(0);
  }
  wait(): Promise<void> {
    if (this.items.length > 0) return Promise.resolve();
    return new Promise((resolve) => (this.wake = resolve));
  }
}

export class LlmAnswerer implements Answerer {
  readonly mode = "llm" as const;
  private readonly maxTokens: number;
  private readonly temperature: number;
  private readonly timeoutMs: number | undefined;
  private readonly ignoreEos: boolean;
  private readonly streamIntervalMs: number;
  private readonly metrics: LlmAnswererOptions["metrics"];

  constructor(
    private readonly llm: AnswerLlm,
    options: LlmAnswererOptions = {},
  ) {
    this.maxTokens = options.maxTokens ?? 512;
    this.temperature = options.temperature ?? 0;
    this.timeoutMs = options.timeoutMs;
    this.ignoreEos = options.ignoreEos ?? false;
    this.streamIntervalMs = Math.max(0, options.streamIntervalMs ?? DEFAULT_STREAM_INTERVAL_MS);
    this.metrics = options.metrics;
  }

  private *noAnswer(language: "ko" | "en"): Iterable<AnswerEvent> {
    const text = NO_ANSWER[language];
    yield { type: "sources", sources: [] };
    yield { type: "delta", text };
    yield { type: "done", answer: text, citations: [], mode: this.mode, found: false };
  }

  async *answer(request: AnswerRequest): AsyncIterable<AnswerEvent> {
    const language = request.language === "ko" ? "ko" : "en";
    if (request.sources.length === 0) {
      yield* this.noAnswer(language);
      return;
    }

    this.llm.assertCapacity(); // LlmBusyError before any event: the route can still say 429
    const info = this.llm.info();
    const maxTokens = Math.max(16, Math.min(this.maxTokens, Math.floor(info.contextSize / 2)));
    const prompt = buildGroundedPrompt({
      question: request.question,
      language,
      sources: request.sources,
      history: request.history,
      contextSize: info.contextSize,
      maxAnswerTokens: maxTokens,
      countTokens: (t) => this.llm.countTokens(t),
    });
    if (prompt.included.length === 0) {
      // Not even a cut source fits next to the answer (a tiny context): nothing to ground on.
      yield* this.noAnswer(language);
      return;
    }
    yield { type: "sources", sources: prompt.included };

    // Stops the model when the consumer goes away early (client disconnected, iterator returned).
    const stop = new AbortController();
    const onCallerAbort = () => stop.abort(request.signal?.reason);
    if (request.signal?.aborted) onCallerAbort();
    else request.signal?.addEventListener("abort", onCallerAbort, { once: true });
    const signal = stop.signal;
    const chunks = new Channel<string>();
    let finished = false;
    let failure: unknown = null;
    let text = "";
    const generationStarted = performance.now();
    let firstTokenAt: number | null = null;
    const metrics = this.metrics;
    const generation = this.llm
      .generate({
        messages: prompt.messages,
        maxTokens,
        temperature: this.temperature,
        signal,
        ...(this.timeoutMs !== undefined ? { timeoutMs: this.timeoutMs } : {}),
        ...(this.ignoreEos ? { ignoreEos: true } : {}),
        onToken: (t) => {
          if (firstTokenAt === null) {
            firstTokenAt = performance.now();
            metrics?.llmFirstTokenAfter((firstTokenAt - generationStarted) / 1000);
          }
          chunks.push(t);
        },
      })
      .then(
        (res) => {
          text = res.text;
          if (firstTokenAt !== null) metrics?.llmGenerated(res.tokens, (performance.now() - firstTokenAt) / 1000);
        },
        (err: unknown) => {
          failure = err;
        },
      )
      .finally(() => {
        finished = true;
        chunks.push(""); // wake the reader
      });

    try {
      let lastDeltaAt = -Infinity;
      while (!finished) {
        await chunks.wait();
        // Coalesce tokens that come faster than the stream interval (see streamIntervalMs).
        const wait = lastDeltaAt + this.streamIntervalMs - performance.now();
        if (wait > 0 && !finished) await new Promise((r) => setTimeout(r, wait));
        const piece = chunks.drain().join("");
        if (piece) {
          lastDeltaAt = performance.now();
          yield { type: "delta", text: piece };
        }
      }
    } finally {
      if (!finished) stop.abort();
      request.signal?.removeEventListener("abort", onCallerAbort);
    }
    await generation;
    const rest = chunks.drain().join("");
    if (rest) yield { type: "delta", text: rest };
    if (failure) throw failure;

    const check = checkCitations(text, prompt.included);
    const noAnswer = isNoAnswer(check.cleanedAnswer, language);
    const answer = check.cleanedAnswer || NO_ANSWER[language];
    yield {
      type: "done",
      answer,
      citations: noAnswer ? [] : check.citations,
      mode: this.mode,
      found: !noAnswer && check.citations.length > 0,
      ...(check.flagged.length > 0 ? { flagged: check.flagged } : {}),
    };
  }
}

/**
 * The LLM answerer over a provider loaded on demand (the composition root loads it at start, or at
 * the first question for CLI commands). Loading errors surface from the first event, like busy.
 */
export class DeferredLlmAnswerer implements Answerer {
  readonly mode = "llm" as const;

  constructor(
    private readonly load: () => Promise<AnswerLlm>,
    private readonly options: LlmAnswererOptions = {},
  ) {}

  async *answer(request: AnswerRequest): AsyncIterable<AnswerEvent> {
    const llm = await this.load();
    yield* new LlmAnswerer(llm, this.options).answer(request);
  }
}
