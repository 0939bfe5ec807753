/**
 * The search use case, for every channel (/api/v1/search, `kb search`): authorize, retrieve with
 * the actor's access (masking and scores as `Retriever.retrieve` decides), audit.
 */
import { authorize, DocumentCollection, type Actor } from "../../policies/index.ts";
import type { AuditLog } from "./audit.ts";
import type { RetrievalMode, RetrievalResult, Retriever, SearchScope } from "./retrieval.ts";

export interface SearchRequest {
  topK: number;
  /** Only documents of this type, folder, tag, date range (combined with access inside the search). */
  scope?: SearchScope;
  /** The channel, recorded in the audit event ("cli"); omitted for /api/v1/search. */
  via?: string;
}

export class SearchService {
  constructor(
    private readonly retriever: Retriever,
    private readonly audit: AuditLog,
  ) {}

  /** Lexical, or hybrid when an embedding model serves the active index. */
  get mode(): RetrievalMode {
    return this.retriever.mode;
  }

  async search(actor: Actor, query: string, request: SearchRequest): Promise<RetrievalResult> {
    authorize(actor, "list", DocumentCollection, null);
    const r = await this.retriever.retrieve(actor, query, { topK: request.topK, scope: request.scope, collapseCopies: true });
    await this.audit.record(actor, "search", null, {
      query,
      mode: r.mode,
      chunkIds: r.chunks.map((c) => c.chunkId),
      ...(request.scope ? { scope: request.scope } : {}),
      ...(request.via ? { via: request.via } : {}),
    });
    return r;
  }
}
