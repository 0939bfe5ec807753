/**
 * What the server runs with, for /readyz: `{ status }` for anyone (load balancers), and the
 * modes, models and counts for those who may read server details. The counts include documents
 * the caller may not read, hence the capability.
 */
import { can, ServerStatus, type Actor } from "../../policies/index.ts";
import type { ModelStatus } from "./active-index.ts";

export interface Readiness {
  status: "ready";
  retrieval?: "lexical" | "hybrid";
  answer?: "extractive" | "llm";
  embedding?: ModelStatus["embedding"];
  llm?: Record<string, unknown> | null;
  notes?: string[];
  documents?: number;
  chunks?: number;
  sensitiveDetector?: { version: number; staleDocuments: number };
}

export interface StatusDeps {
  models: ModelStatus;
  retrievalMode: () => "lexical" | "hybrid";
  answerMode: () => "extractive" | "llm";
  llmInfo: () => Record<string, unknown> | null;
  sensitiveIndex: () => Promise<{ detectorVersion: number; staleDocuments: number }>;
  /** Every document row, readable by the caller or not. */
  documentCount: () => Promise<number>;
  /** Rows of the active chunk table. */
  chunkCount: () => Promise<number>;
}

export class StatusService {
  constructor(private readonly deps: StatusDeps) {}

  /** How many documents the knowledge base holds (first start: is it empty?). */
  documentCount(): Promise<number> {
    return this.deps.documentCount();
  }

  /** `actor` null: no token, or one that does not authenticate. */
  async readiness(actor: Actor | null): Promise<Readiness> {
    if (!actor || !can(actor, "read_details", ServerStatus, null)) return { status: "ready" };
    const { models } = this.deps;
    const notes = models.embeddingNote ? [models.embeddingNote] : [];
    if (!models.embedding) notes.push("no embedding model loaded: lexical (BM25) retrieval only");
    const llm = this.deps.llmInfo();
    if (!llm) notes.push("no LLM configured: answers are extractive (quoted source sentences)");
    else if (typeof llm.gpuFallback === "string") notes.push(`LLM: ${llm.gpuFallback}`);
    const pii = await this.deps.sensitiveIndex();
    if (pii.staleDocuments > 0)
      notes.push(`${pii.staleDocuments} documents were indexed by an older personal-data detector; a worker re-indexes them when it starts (or run \`kb reindex --sensitive-stale\`)`);
    return {
      status: "ready",
      retrieval: this.deps.retrievalMode(),
      answer: this.deps.answerMode(),
      embedding: models.embedding,
      llm,
      notes,
      documents: await this.deps.documentCount(),
      chunks: await this.deps.chunkCount(),
      sensitiveDetector: { version: pii.detectorVersion, staleDocuments: pii.staleDocuments },
    };
  }
}
