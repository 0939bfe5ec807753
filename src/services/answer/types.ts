/**
 * The answering interface shared by the extractive answerer and the local-LLM answerer.
 * Both receive sources that already went through the asker's ACL-filtered retrieval;
 * an answerer never searches on its own, so it can never widen what the asker sees.
 */
import type { Lang } from "../../domain/analysis/index.ts";
import type { AnswerSource, Citation } from "../../domain/grounding/sources.ts";

export type { AnswerSource, Citation };

export type AnswerMode = "extractive" | "llm";

export type AnswerEvent =
  | { type: "sources"; sources: AnswerSource[] }
  | { type: "delta"; text: string }
  | {
      type: "done";
      answer: string;
      citations: Citation[];
      mode: AnswerMode;
      found: boolean;
      flagged?: { n: number; reason: string }[];
      /** The stored answer's id (set by the ask use case when the turn is stored in a conversation). */
      messageId?: number;
    };

export interface AnswerRequest {
  question: string;
  /**
   * The standalone question the sources were retrieved for, when it differs from `question` (a
   * follow-up rewritten with its conversation). The extractive answerer matches its terms.
   */
  retrievalQuery?: string;
  language: Lang;
  sources: AnswerSource[];
  /** Earlier turns of the conversation, oldest first (LLM only). */
  history?: { role: "user" | "assistant"; content: string }[];
  signal?: AbortSignal;
}

export interface Answerer {
  readonly mode: AnswerMode;
  /** Streams events; the last event is always `done`. */
  answer(request: AnswerRequest): AsyncIterable<AnswerEvent>;
}
