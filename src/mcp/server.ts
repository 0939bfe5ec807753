/**
 * The knowledge base as a Model Context Protocol server (issue 18): four read-only tools
 * (`search`, `ask`, `get_document_page`, `list_sources`) over the same services as the API, with
 * the caller's actor, so access filtering, masking, token scopes and audit are the API's. Built
 * with the official SDK; the transports are the HTTP route (`src/http/routes/mcp.ts`, Streamable
 * HTTP, stateless) and `kb mcp` (stdio, `src/cli/commands/mcp.ts`).
 *
 * Inputs and outputs are the public API's zod schemas (src/http/schemas.ts and the route
 * modules), and results are built by the same functions as the API's bodies, so a tool result
 * is the API's answer for the same user. An error is a tool error (`isError`) whose text and
 * `structuredContent.error` carry the API's `{ code, message }`: a document the caller may not
 * read is `not_found` exactly as a missing one.
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "@hono/zod-openapi";
import { can, DocumentCollection, ForbiddenError, type Actor } from "../../policies/index.ts";
import type { Kb } from "../services/container.ts";
import { ServiceError } from "../services/errors.ts";
import type { AnswerEvent } from "../services/answer/types.ts";
import { LlmBusyError, LlmClosedError, LlmTimeoutError, LlmUpstreamError } from "../models/llm.ts";
import { QueryText, ScopeSchema, TopK } from "../http/schemas.ts";
import { SearchResponse, searchResponse } from "../http/routes/search.ts";
import { AskResponse, answerBody } from "../http/routes/ask.ts";
import { DocumentPageSchema } from "../http/routes/documents.ts";

/** Who calls, and how their calls are audited and cancelled. */
export interface McpCaller {
  /**
   * The actor of a call. HTTP: the request's (authenticated by the API's middleware). stdio: the
   * token authenticated again at every call, so a revoked token or disabled user stops at once.
   * Throws `McpAuthError` when it no longer authenticates.
   */
  actor(): Promise<Actor>;
  /**
   * The actor the tool list is made for: a tool is offered only when this actor may use it
   * (its role and its token's scopes: a search-only token is offered `search`). Each call is
   * still authorized by the service with the actor of the call.
   */
  listedFor: Actor;
  /** The channel recorded in audit events ("mcp" over HTTP, "mcp-stdio"). */
  via: string;
  /** What a refusal (403) is recorded against in the audit log, as the HTTP handler records `METHOD /path`. */
  request: string;
  /** Aborted when the caller is gone (the HTTP connection closed). */
  signal?: AbortSignal;
  /** Cancellations that arrive as another HTTP request (stateless transport; see cancellations.ts). */
  cancellations?: { register(requestId: string | number): { signal: AbortSignal; done(): void } };
}

/** The caller's token no longer authenticates (stdio: revoked, expired, user disabled). */
export class McpAuthError extends Error {}

/** The call was cancelled or its caller left before the answer was done (no result is sent then). */
class McpCancelledError extends Error {}

const ListSourcesResponse = z.object({
  documents: z.number().int().openapi({ description: "Documents you may read" }),
  folders: z.array(z.object({ folder: z.string(), documents: z.number().int() })),
  tags: z.array(z.object({ tag: z.string(), documents: z.number().int() })),
  types: z.array(z.object({ type: z.string(), documents: z.number().int() })),
});

/** The API's request fields, described for an agent (the JSON schema carries the descriptions). */
const TOPK = TopK.describe("결과 수 (1-50) / how many passages: search 10, ask 5 when omitted");
const SCOPE = ScopeSchema.optional().describe(
  "검색 범위: 주어진 조건을 모두 만족하는 문서만 / only documents matching every given field: types (extensions, e.g. [\"pdf\", \"hwp\"]), folder (a source prefix, as list_sources gives), tag, updatedSince/updatedUntil (ISO times, inclusive), q (title contains)",
);
const SEARCH_INPUT = { query: QueryText.describe("검색어 (한국어 또는 영어) / what to search for, in Korean or English"), topK: TOPK, scope: SCOPE };
const ASK_INPUT = { question: QueryText.describe("질문 (한국어 또는 영어) / the question, in Korean or English; the answer is in the question's language"), topK: TOPK, scope: SCOPE };

/** The ask tool's result: the API's answer without a conversation (MCP asks store none). */
const McpAskResponse = AskResponse.omit({ conversationId: true, messageId: true });

const DESCRIPTIONS = {
  search:
    "사내 지식 베이스에서 문서 구절을 검색합니다. 호출자가 읽을 수 있는 문서만 검색됩니다. 결과: 순위가 매겨진 구절(문서 ID, 제목, 출처, 페이지, 구절 본문). " +
    "답변이 아니라 근거 구절이 필요할 때, 또는 get_document_page로 읽을 문서를 찾을 때 사용하세요. scope로 폴더, 태그, 파일 형식, 날짜, 제목을 제한할 수 있습니다(list_sources 참고).\n" +
    "Search the company knowledge base for passages (Korean and English documents). Only documents you may read are searched. Returns ranked passages with document id, title, source, page and the passage text (never a whole document). " +
    "Use it to find evidence or the documents to open with get_document_page; narrow it with `scope` (folder, tag, file types, update dates, title; see list_sources).",
  ask:
    "질문에 대해 사내 문서에 근거한 답변을 인용([n])과 함께 받습니다. 호출자가 읽을 수 있는 문서만 사용합니다. found=false이면 문서에 답이 없다는 뜻입니다. 진행 상황은 progress 알림으로 전달됩니다.\n" +
    "Ask a question and get an answer grounded in the company's documents, with numbered citations ([n] → document id, title, page, quote). Only documents you may read are used; `found: false` means they do not answer it. " +
    "Use it for a direct answer; use search to see raw passages. Progress (sources found, answer text) is sent as progress notifications when the client asks for them; cancelling stops the answer.",
  get_document_page:
    "문서의 한 페이지 텍스트를 읽습니다(검색 결과나 인용의 documentId와 page 사용). 개인정보는 API와 같이 마스킹됩니다. 읽을 수 없는 문서는 존재하지 않는 문서와 똑같이 not_found 오류가 납니다.\n" +
    "Read one page of a document's extracted text, by the documentId and page of a search result or citation (pages start at 1; `pageCount` says how many there are). " +
    "Personal data is masked as the API masks it. A document you may not read gives the same `not_found` error as one that does not exist.",
  list_sources:
    "검색 범위로 쓸 수 있는 폴더, 태그, 파일 형식과 각각의 문서 수를 나열합니다(호출자가 읽을 수 있는 문서 기준). search와 ask의 scope에 사용하세요.\n" +
    "List the folders, tags and file types of the documents you may read, with how many documents each holds: the values to put in `scope` (folder, tag, types) of search and ask.",
} as const;

/** A failure as the API would answer it: `{ code, message }`, and what the audit log needs. */
function errorOf(err: unknown): { code: string; message: string } {
  if (err instanceof ServiceError) return { code: err.code, message: err.message };
  if (err instanceof ForbiddenError) return { code: err.scopes ? "scope_denied" : "forbidden", message: err.message };
  if (err instanceof McpAuthError) return { code: "unauthorized", message: err.message };
  if (err instanceof McpCancelledError) return { code: "cancelled", message: err.message };
  if (err instanceof LlmBusyError) return { code: "llm_busy", message: err.message };
  if (err instanceof LlmTimeoutError) return { code: "llm_timeout", message: err.message };
  if (err instanceof LlmClosedError) return { code: "llm_unavailable", message: err.message };
  if (err instanceof LlmUpstreamError) return { code: "llm_upstream", message: err.message };
  return { code: "internal_error", message: "internal server error" };
}

export function createMcpServer(kb: Kb, caller: McpCaller): McpServer {
  const server = new McpServer(
    { name: "private-kb", version: "1" },
    {
      capabilities: { tools: {} },
      instructions:
        "사내 지식 베이스(한국어·영어 문서)입니다. 호출자 권한으로 읽을 수 있는 문서만 보입니다. The company's private knowledge base (Korean and English documents), seen with your own permissions: " +
        "search for passages, ask for a cited answer, read a cited page with get_document_page, and list_sources for the folders and tags to scope by. Nothing here changes any document.",
    },
  );

  /** Runs a tool: the actor, the work, and every failure as the API's error (a 403 audited as the HTTP handler audits it). */
  const run = async (work: (actor: Actor) => Promise<Record<string, unknown>>): Promise<CallToolResult> => {
    let actor: Actor | null = null;
    try {
      actor = await caller.actor();
      const body = await work(actor);
      return { content: [{ type: "text", text: JSON.stringify(body) }], structuredContent: body };
    } catch (err) {
      if (err instanceof ForbiddenError && err.scopes) {
        await kb.audit.recordDenied(actor, caller.request, { action: err.action, resource: err.resourceName, scopes: err.scopes, tokenId: actor?.tokenId ?? null, via: caller.via }, "auth.scope_denied");
      } else if (err instanceof ForbiddenError) await kb.audit.recordDenied(actor, caller.request, { action: err.action, resource: err.resourceName, via: caller.via });
      else if (err instanceof ServiceError && err.status === 403) await kb.audit.recordDenied(actor, caller.request, { code: err.code, message: err.message, via: caller.via });
      const error = errorOf(err);
      if (error.code === "internal_error") kb.log.error({ err: String(err), stack: (err as Error)?.stack }, "mcp tool failed");
      return { content: [{ type: "text", text: `${error.code}: ${error.message}` }], structuredContent: { error }, isError: true };
    }
  };

  /** The collection action each tool's service method authorizes first. */
  const offers = (action: "list" | "ask" | "read") => can(caller.listedFor, action, DocumentCollection, null);
  const readOnly = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false } as const;

  const search = server.registerTool(
    "search",
    { title: "Search documents / 문서 검색", description: DESCRIPTIONS.search, inputSchema: SEARCH_INPUT, outputSchema: SearchResponse, annotations: readOnly },
    ({ query, topK, scope }) => run(async (actor) => searchResponse(await kb.search.search(actor, query, { topK: topK ?? 10, scope, via: caller.via }))),
  );

  const ask = server.registerTool(
    "ask",
    {
      title: "Ask with citations / 인용과 함께 질문",
      description: DESCRIPTIONS.ask,
      inputSchema: ASK_INPUT,
      outputSchema: McpAskResponse,
      annotations: { ...readOnly, idempotentHint: false },
    },
    ({ question, topK, scope }, extra) =>
      run(async (actor) => {
        const cancel = caller.cancellations?.register(extra.requestId);
        const signals = [extra.signal, caller.signal, cancel?.signal].filter((s): s is AbortSignal => s !== undefined);
        const signal = AbortSignal.any(signals);
        const progressToken = extra._meta?.progressToken;
        let progress = 0;
        const report = async (message: string) => {
          if (progressToken === undefined || signal.aborted) return;
          progress += 1;
          await extra.sendNotification({ method: "notifications/progress", params: { progressToken, progress, message } });
        };
        try {
          // A client-kept (empty) history: nothing is stored, as for the OpenAI-compatible API.
          const { retrieval, stages, retrievalQuery, events } = await kb.ask.ask(actor, question, { topK, scope, history: [], signal, via: caller.via });
          let done: Extract<AnswerEvent, { type: "done" }> | null = null;
          for await (const e of events) {
            if (signal.aborted) break;
            if (e.type === "sources") await report(`${e.sources.length} passages found / 구절 ${e.sources.length}개 찾음`);
            else if (e.type === "delta" && e.text) await report(e.text);
            else if (e.type === "done") done = e;
          }
          if (!done) throw new McpCancelledError("the question was cancelled");
          return { ...answerBody(done, { retrieval, stages }), retrievalQuery };
        } finally {
          cancel?.done();
        }
      }),
  );

  const page = server.registerTool(
    "get_document_page",
    {
      title: "Read a document page / 문서 페이지 읽기",
      description: DESCRIPTIONS.get_document_page,
      inputSchema: {
        documentId: z.string().min(1).max(100).describe("문서 ID (search 결과나 인용의 documentId) / a documentId from a search result or a citation"),
        page: z.number().int().min(1).max(1_000_000).describe("페이지 (1부터) / the page, from 1 (a result's or citation's page)"),
      },
      outputSchema: DocumentPageSchema,
      annotations: readOnly,
    },
    ({ documentId, page }) => run(async (actor) => ({ ...(await kb.documents.page(actor, documentId, page, { via: caller.via })) })),
  );

  const sources = server.registerTool(
    "list_sources",
    { title: "List folders and tags / 폴더와 태그 목록", description: DESCRIPTIONS.list_sources, inputSchema: {}, outputSchema: ListSourcesResponse, annotations: readOnly },
    () => run(async (actor) => ({ ...(await kb.documents.sources(actor, { via: caller.via })) })),
  );

  // Registered, then disabled where not offered: a disabled tool is left out of tools/list and a
  // call to it is refused, and the list handler exists even when nothing is offered.
  for (const [tool, action] of [
    [search, "list"],
    [ask, "ask"],
    [page, "read"],
    [sources, "read"],
  ] as const) {
    if (!offers(action)) tool.disable();
  }
  return server;
}
