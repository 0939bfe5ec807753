/**
 * The optional cross-encoder reranker (KB_RERANK_MODEL): loaded once, at start (`kb serve`) or
 * at the first query (CLI commands), and reported in /readyz. A model that fails to load is a
 * degraded mode, not an outage: the slot records why, /readyz says so, and retrieval goes on
 * without reranking (the retriever gets null).
 */
import type { Reranker } from "../models/reranker.ts";

export type RerankerState =
  | { status: "off" }
  | { status: "loading"; model: string }
  | { status: "ready"; model: string }
  | { status: "failed"; model: string; error: string };

export class RerankerSlot {
  private loading: Promise<Reranker | null> | null = null;
  private loaded: Reranker | null = null;
  private state: RerankerState;

  constructor(
    /** KB_RERANK_MODEL, or undefined (no reranking). */
    private readonly model: string | undefined,
    private readonly loadModel: (model: string) => Promise<Reranker>,
    private readonly log: (level: "info" | "warn", message: string, fields?: Record<string, unknown>) => void = () => {},
  ) {
    this.state = model ? { status: "loading", model } : { status: "off" };
  }

  get configured(): boolean {
    return this.model !== undefined;
  }

  /** The reranker, loading it on the first call; null when none is configured or it failed to load. Never throws. */
  get(): Promise<Reranker | null> {
    if (!this.model) return Promise.resolve(null);
    const model = this.model;
    this.loading ??= this.loadModel(model).then(
      (r) => {
        this.loaded = r;
        this.state = { status: "ready", model };
        this.log("info", "reranker loaded", { model });
        return r;
      },
      (err: unknown) => {
        const error = err instanceof Error ? err.message : String(err);
        this.state = { status: "failed", model, error };
        this.log("warn", "reranker failed to load: search runs without reranking", { model, error });
        return null;
      },
    );
    return this.loading;
  }

  status(): RerankerState {
    return this.state;
  }

  async close(): Promise<void> {
    await this.loading;
    await this.loaded?.close();
    this.loaded = null;
  }
}
