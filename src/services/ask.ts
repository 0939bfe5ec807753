/**
 * The ask use case, for every channel (/api/v1/ask, /v1/chat/completions, `kb ask`): authorize,
 * keep the conversation, retrieve with the actor's access, answer, record the turn and audit it.
 * Routes and CLI commands only translate the events. Both the extractive and the LLM answerer
 * only ever see the sources retrieval returned.
 */
import { authorize, DocumentCollection, type Actor } from "../../policies/index.ts";
import { detectLanguage } from "../domain/analysis/index.ts";
import { descriptionLabel, DESCRIBE_LIMITS, withoutImageLabels, type ImageDescriber } from "../../ingest/image-description.ts";
import type { OcrEngine } from "../../ingest/ocr/engine.ts";
import type { AnswerEvent, AnswerSource, Answerer } from "./answer/types.ts";
import { CoverNaming } from "./answer/cover-naming.ts";
import { IMAGE_TEXT_LABEL, readAskImage, type AskImage } from "./ask-image.ts";
import type { AuditLog } from "./audit.ts";
import type { ConversationService, Turn } from "./conversation/conversations.ts";
import type { ConversationTurn } from "./conversation/rewrite.ts";
import { badRequest } from "./errors.ts";
import { requireAskText, TEXT_LIMITS } from "./limits.ts";
import type { RetrievalMode, RetrievalStage, Retriever, SearchScope } from "./retrieval.ts";

type Done = Extract<AnswerEvent, { type: "done" }>;

export interface AskRequest {
  topK?: number;
  /** Answer only from documents of this type, folder, tag, date range (combined with access inside retrieval). */
  scope?: SearchScope;
  /** Continue one of the actor's stored conversations (404 when it is not theirs); omitted: a new one starts. */
  conversationId?: string;
  /**
   * A conversation the client keeps itself (the OpenAI-compatible API): earlier turns are context
   * and a follow-up is rewritten, but nothing is stored. Excludes `conversationId`.
   */
  history?: ConversationTurn[];
  /** Stops retrieval rewriting and generation (a client that left, Ctrl-C). */
  signal?: AbortSignal;
  /** The channel, recorded in the audit event ("openai", "cli"); omitted for /api/v1/ask. */
  via?: string;
  /**
   * An attached image (ask-image.ts): read by OCR in memory, its text appended to the question
   * as "[image text] …" (within the question's length limit) and kept with it like any other
   * text; the bytes are never stored. The question may then be empty.
   */
  image?: AskImage;
}

export interface Asked {
  retrieval: RetrievalMode;
  /** The retrieval stages that ran (lexical, vector, rerank). */
  stages: RetrievalStage[];
  chunkIds: string[];
  /** The stored conversation this turn belongs to; null for a client-kept history. */
  conversationId: string | null;
  /** What retrieval searched for: the question, or a follow-up rewritten to stand alone. */
  retrievalQuery: string;
  /** Answer events; the turn is stored at `done` and the ask audited when they end (or are left). */
  events: AsyncIterable<AnswerEvent>;
}

export interface AskOptions {
  topK?: number;
  scope?: SearchScope;
  history?: { role: "user" | "assistant"; content: string }[];
  /** Query actually sent to retrieval (e.g. a follow-up rewritten into a standalone question). */
  retrievalQuery?: string;
  signal?: AbortSignal;
}

/** The extracted text of a document's pages (to place a quote on its page). */
export type PageTexts = (documentId: string) => Promise<{ page: number; text: string }[]>;

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

/**
 * Pulls the first event before returning: the LLM answerer checks capacity (LlmBusyError) and
 * loads lazily before its first event, so those failures fail `ask` itself (an HTTP status such
 * as 429 instead of a broken stream, and no audit event for a question never answered). The
 * returned iterable replays that event.
 */
async function primeEvents<T>(events: AsyncIterable<T>): Promise<AsyncIterable<T>> {
  const it = events[Symbol.asyncIterator]();
  const first = await it.next();
  let replayed = false;
  return {
    [Symbol.asyncIterator]: () => ({
      next: () => {
        if (!replayed) {
          replayed = true;
          return Promise.resolve(first);
        }
        return it.next();
      },
      return: (value?: unknown) => (it.return ? it.return(value) : Promise.resolve({ done: true as const, value: value as T })),
    }),
  };
}

export interface AskDeps {
  retriever: Retriever;
  answerer: () => Answerer;
  pageTexts?: PageTexts;
  conversations: ConversationService;
  audit: AuditLog;
  /** The OCR engine that reads attached images; default the process-wide pool ingestion uses. */
  ocr?: () => OcrEngine;
  /** Describes attached images without much text (KB_IMAGE_MODEL); absent or null: OCR text only. */
  describer?: ImageDescriber | null;
}

export class AskService {
  private readonly retriever: Retriever;
  private readonly answerer: () => Answerer;
  private readonly pageTexts: PageTexts;
  private readonly coverNaming: CoverNaming;
  private readonly conversations: ConversationService;
  private readonly audit: AuditLog;
  private readonly ocr: (() => OcrEngine) | undefined;
  private readonly describer: ImageDescriber | null;

  constructor(deps: AskDeps) {
    this.ocr = deps.ocr;
    this.describer = deps.describer ?? null;
    this.retriever = deps.retriever;
    this.answerer = deps.answerer;
    this.pageTexts = deps.pageTexts ?? (async () => []);
    this.coverNaming = new CoverNaming(this.pageTexts);
    this.conversations = deps.conversations;
    this.audit = deps.audit;
  }

  get answerMode() {
    return this.answerer().mode;
  }

  /**
   * The use case: authorizes (the `ask` permission on the document collection), begins the turn
   * (a stored conversation, or a client-kept history), answers, and records the turn at `done`
   * (not when the signal was aborted: a client that left gets no half answer in its history).
   * The audit event is recorded once when the events end, are left, or fail mid-way. Failures
   * before the first event (busy model, unknown conversation, forbidden) throw from here,
   * unaudited as asks (a 403 is audited as a denial by the caller's error handling).
   */
  async ask(actor: Actor, typed: string, request: AskRequest = {}): Promise<Asked> {
    authorize(actor, "ask", DocumentCollection, null);
    const { signal } = request;
    const { question, image } = await this.withImage(typed, request.image, signal);
    let turn: Turn | null = null;
    let history: ConversationTurn[];
    let retrievalQuery: string;
    if (request.history) {
      history = request.history;
      retrievalQuery = await this.conversations.rewrite(question, history, signal);
    } else {
      turn = await this.conversations.begin(actor, question, { conversationId: request.conversationId, signal });
      history = turn.history;
      retrievalQuery = turn.retrievalQuery;
    }
    const answered = await this.answer(actor, question, { topK: request.topK, scope: request.scope, history, retrievalQuery, signal });
    const { retrieval, stages, chunkIds } = answered;
    const primed = await primeEvents(answered.events);
    const audit = (done: Done | null) =>
      this.audit.record(actor, "ask", null, {
        question,
        retrieval,
        mode: done?.mode ?? this.answerMode,
        chunkIds,
        found: done?.found ?? null,
        citations: done?.citations.map((x) => x.documentId) ?? [],
        ...(turn ? { conversationId: turn.conversationId } : {}),
        ...(request.via ? { via: request.via } : {}),
        ...(request.scope ? { scope: request.scope } : {}),
        ...(retrievalQuery !== question.trim() ? { retrievalQuery } : {}),
        // That an image was read, never its bytes: its text is in the question.
        ...(image ? { image } : {}),
      });
    const conversations = this.conversations;
    const events = (async function* (): AsyncIterable<AnswerEvent> {
      let done: Done | null = null;
      try {
        for await (const e of primed) {
          if (e.type === "done") {
            done = e;
            if (turn && !signal?.aborted) {
              // The stored answer's id goes out with `done`: the id feedback on it names.
              const messageId = await conversations.finish(actor, turn, question, e);
              if (messageId !== null) {
                yield { ...e, messageId };
                continue;
              }
            }
          }
          yield e;
        }
      } finally {
        await audit(done);
      }
    })();
    return { retrieval, stages, chunkIds, conversationId: turn?.conversationId ?? null, retrievalQuery, events };
  }

  /**
   * The question with an attached image's OCR text appended (cut so that the whole stays within
   * the question's limit), and what the audit says of the image. No image: the question as typed.
   */
  private async withImage(typed: string, attached: AskImage | undefined, signal?: AbortSignal): Promise<{ question: string; image?: { bytes: number; format: string; words: number; described?: boolean } }> {
    if (!attached) return { question: typed };
    requireAskText(typed);
    const q = typed.trim();
    // A description (when an image model is configured) takes its room first: at most its cap and a label.
    const descriptionRoom = this.describer ? DESCRIBE_LIMITS.maxChars + 12 : 0;
    const room = TEXT_LIMITS.query - q.length - IMAGE_TEXT_LABEL.length - 3 - descriptionRoom;
    const read = await readAskImage(attached, { ...(this.ocr ? { engine: this.ocr } : {}), describer: this.describer, maxText: Math.max(0, room), ...(signal ? { signal } : {}) });
    const image = { bytes: read.bytes, format: read.format, words: read.words, ...(read.description ? { described: true } : {}) };
    const parts: string[] = [];
    if (read.description) parts.push(`${descriptionLabel(`${q} ${read.text}`)} ${read.description}`);
    if (read.text && room >= 16) parts.push(`${IMAGE_TEXT_LABEL} ${read.text}`);
    if (parts.length === 0) {
      if (!q) throw badRequest("the attached image has no text that OCR could read, and there is no question", "image_no_text");
      return { question: q, image };
    }
    const fromImage = parts.join("\n");
    return { question: q ? `${q}\n\n${fromImage}` : fromImage, image };
  }

  /**
   * Retrieval and the answerer only: no authorization beyond retrieval's access filter, no
   * conversation, no audit (evaluation runs; every user-facing path goes through `ask`).
   * The retrieval mode and chunk ids are returned with the events.
   */
  async answer(actor: Actor, question: string, options: AskOptions = {}): Promise<{ retrieval: RetrievalMode; stages: RetrievalStage[]; chunkIds: string[]; events: AsyncIterable<AnswerEvent> }> {
    requireAskText(question, options.history);
    const topK = options.topK ?? 5;
    // An attached image's labels ("[image text]", "[image]") are not words asked: searched for,
    // they matched every document with a described picture.
    const { mode, stages, chunks } = await this.retriever.retrieve(actor, withoutImageLabels(options.retrievalQuery ?? question), { topK, scope: options.scope, collapseCopies: true });
    const naming = await this.coverNaming.of(chunks);
    const sources: AnswerSource[] = chunks.map((c, i) => ({
      n: i + 1,
      documentId: c.documentId,
      chunkId: c.chunkId,
      title: c.title,
      source: c.source,
      page: c.pageStart,
      text: c.text,
      ...(naming.get(c.documentId) ? { naming: naming.get(c.documentId) } : {}),
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
        const citations: typeof e.citations = [];
        for (const c of e.citations) {
          const [first, last] = pageRange.get(c.n) ?? [c.page, c.page];
          // The chunk quoted, so a client can tell citations of one document apart.
          const chunkId = chunks[c.n - 1]?.chunkId;
          const cited = chunkId !== undefined && c.chunkId === undefined ? { ...c, chunkId } : c;
          citations.push(first === last ? cited : { ...cited, page: pageOfQuote(await this.pageTexts(c.documentId), c.quote, first, last) });
        }
        yield { ...e, citations };
      }
    }.call(this);
    return { retrieval: mode, stages, chunkIds: chunks.map((c) => c.chunkId), events: placeCitations };
  }
}
