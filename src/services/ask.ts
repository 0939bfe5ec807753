/**
 * Asking: ACL-filtered retrieval → numbered sources → the configured answerer.
 * Both the extractive and the LLM answerer only ever see the sources retrieval returned.
 */
import type { Actor } from "../../policies/index.ts";
import { detectLanguage } from "../domain/analysis/index.ts";
import type { AnswerEvent, AnswerSource, Answerer } from "./answer/types.ts";
import type { RetrievalMode, Retriever } from "./retrieval.ts";

export interface AskOptions {
  topK?: number;
  history?: { role: "user" | "assistant"; content: string }[];
  /** Query actually sent to retrieval (e.g. a follow-up rewritten into a standalone question). */
  retrievalQuery?: string;
  signal?: AbortSignal;
}

export class AskService {
  constructor(
    private readonly retriever: Retriever,
    private readonly answerer: () => Answerer,
  ) {}

  get answerMode() {
    return this.answerer().mode;
  }

  /** Streams answer events; the retrieval mode and chunk ids are returned with the first event. */
  async ask(actor: Actor, question: string, options: AskOptions = {}): Promise<{ retrieval: RetrievalMode; chunkIds: string[]; events: AsyncIterable<AnswerEvent> }> {
    const topK = options.topK ?? 5;
    const { mode, chunks } = await this.retriever.retrieve(actor, options.retrievalQuery ?? question, { topK });
    const sources: AnswerSource[] = chunks.map((c, i) => ({
      n: i + 1,
      documentId: c.documentId,
      chunkId: c.chunkId,
      title: c.title,
      source: c.source,
      page: c.pageStart,
      text: c.text,
      score: c.score,
    }));
    const events = this.answerer().answer({ question, language: detectLanguage(question), sources, history: options.history, signal: options.signal });
    return { retrieval: mode, chunkIds: chunks.map((c) => c.chunkId), events };
  }
}
