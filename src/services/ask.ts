/**
 * Asking: ACL-filtered retrieval → numbered sources → the configured answerer.
 * Both the extractive and the LLM answerer only ever see the sources retrieval returned.
 */
import type { Actor } from "../../policies/index.ts";
import { detectLanguage } from "../domain/analysis/index.ts";
import type { AnswerEvent, AnswerSource, Answerer } from "./answer/types.ts";
import { requireMaxLength, TEXT_LIMITS } from "./limits.ts";
import type { RetrievalMode, Retriever } from "./retrieval.ts";

/** A question and the conversation sent with it (by a client, or loaded) within the text limits. */
export function requireAskText(question: string, history: readonly { content: string }[] = []): void {
  requireMaxLength("question", question, TEXT_LIMITS.query);
  for (const [i, m] of history.entries()) requireMaxLength(`messages[${i}]`, m.content, TEXT_LIMITS.message);
}

export interface AskOptions {
  topK?: number;
  history?: { role: "user" | "assistant"; content: string }[];
  /** Query actually sent to retrieval (e.g. a follow-up rewritten into a standalone question). */
  retrievalQuery?: string;
  signal?: AbortSignal;
}

/** The extracted text of a document's pages (to place a quote on its page). */
export type PageTexts = (documentId: string) => { page: number; text: string }[];

const squash = (s: string) => s.replace(/\s+/g, "");

/**
 * A chunk may run across a page break; a citation names the page its quote stands on.
 * Falls back to the chunk's first page when the quote cannot be placed.
 */
export function pageOfQuote(pages: { page: number; text: string }[], quote: string, first: number, last: number): number {
  const needle = squash(quote).slice(0, 40);
  if (!needle || first === last) return first;
  for (const p of pages) if (p.page >= first && p.page <= last && squash(p.text).includes(needle)) return p.page;
  return first;
}

export class AskService {
  constructor(
    private readonly retriever: Retriever,
    private readonly answerer: () => Answerer,
    private readonly pageTexts: PageTexts = () => [],
  ) {}

  get answerMode() {
    return this.answerer().mode;
  }

  /** Streams answer events; the retrieval mode and chunk ids are returned with the first event. */
  async ask(actor: Actor, question: string, options: AskOptions = {}): Promise<{ retrieval: RetrievalMode; chunkIds: string[]; events: AsyncIterable<AnswerEvent> }> {
    requireAskText(question, options.history);
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
    }));
    const answered = this.answerer().answer({
      question,
      ...(options.retrievalQuery && options.retrievalQuery !== question ? { retrievalQuery: options.retrievalQuery } : {}),
      language: detectLanguage(question),
      sources,
      history: options.history,
      signal: options.signal,
    });
    const pageRange = new Map(chunks.map((c, i) => [i + 1, [c.pageStart, c.pageEnd] as const]));
    const placeCitations = async function* (this: AskService): AsyncIterable<AnswerEvent> {
      for await (const e of answered) {
        if (e.type !== "done") {
          yield e;
          continue;
        }
        const citations = e.citations.map((c) => {
          const [first, last] = pageRange.get(c.n) ?? [c.page, c.page];
          return first === last ? c : { ...c, page: pageOfQuote(this.pageTexts(c.documentId), c.quote, first, last) };
        });
        yield { ...e, citations };
      }
    }.call(this);
    return { retrieval: mode, chunkIds: chunks.map((c) => c.chunkId), events: placeCitations };
  }
}
