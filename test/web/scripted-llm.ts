/**
 * A scripted language model for the streaming tests: it answers from the grounded prompt it is
 * given (citing the source that holds a phrase, as a model would) and streams the answer word by
 * word, pausing after given word counts until the test resumes it. So a test can see the answer
 * partly on screen, press Stop, or let it finish, without timing anything. Only the model is
 * scripted; the answerer, citation check, routes and the app are the real ones.
 */
import type { GenerateRequest, GenerateResult, LlmInfo, LlmProvider } from "../../src/models/llm.ts";

const INFO: LlmInfo = { model: "scripted.gguf", backend: "cpu", gpuLayers: 0, contextSize: 8192, threads: 1, sequences: 1, maxQueue: 4, chatWrapper: "General" };

export interface ScriptedAnswer {
  /** A phrase of the source to cite; the answer cites that source's number. */
  cite: string;
  /** The answer, `{n}` standing for the cited source's number. */
  text: string;
}

export class ScriptedLlm implements LlmProvider {
  /** Word counts after which the generation pauses until `resume()`. */
  readonly pauses: number[];
  private resumes = 0;
  private waiters: (() => void)[] = [];
  generations = 0;
  stoppedEarly = 0;

  constructor(
    private readonly script: (question: string) => ScriptedAnswer,
    options: { pauses?: number[] } = {},
  ) {
    this.pauses = options.pauses ?? [1, 3];
  }

  /** Lets a paused generation go on to its next pause (or to the end). */
  resume(): void {
    this.resumes++;
    for (const w of this.waiters.splice(0)) w();
  }

  private async pause(k: number, signal: AbortSignal | undefined): Promise<void> {
    while (this.resumes < k && !signal?.aborted) {
      await Promise.race([new Promise<void>((r) => this.waiters.push(r)), aborted(signal)]);
    }
  }

  info(): LlmInfo {
    return INFO;
  }

  countTokens(text: string): number {
    return Math.ceil(text.length / 3);
  }

  stats() {
    return { active: 0, queued: 0, sequences: 1, maxQueue: 4 };
  }

  assertCapacity(): void {}

  async close(): Promise<void> {}

  async generate(req: GenerateRequest): Promise<GenerateResult> {
    this.generations++;
    const prompt = req.messages.map((m) => m.content).join("\n");
    const question = /(?:Question|질문):?\s*(.+)\s*$/u.exec(prompt)?.[1] ?? prompt.slice(-200);
    const { cite, text } = this.script(question);
    const source = [...prompt.matchAll(/<source id="(\d+)"[^>]*>([\s\S]*?)<\/source>/g)].find((m) => m[2]!.includes(cite));
    const answer = text.replaceAll("{n}", source?.[1] ?? "1");
    const words = answer.split(/(?<=\s)/u);
    let out = "";
    const base = this.resumes;
    for (let i = 0; i < words.length; i++) {
      const k = this.pauses.indexOf(i);
      if (k >= 0) await this.pause(base + k + 1, req.signal);
      if (req.signal?.aborted) {
        this.stoppedEarly++;
        return { text: out, tokens: i, stopReason: "abort", durationMs: 0 };
      }
      out += words[i];
      req.onToken?.(words[i]!);
    }
    return { text: out, tokens: words.length, stopReason: "eos", durationMs: 0 };
  }
}

function aborted(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!signal) return;
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}
