/**
 * Load shedding for the routes that do real work per request (search, ask, OpenAI chat):
 * at most `maxInFlight` run at once and at most `maxQueued` wait for a turn, each no longer than
 * `maxWaitMs`. Beyond that the answer is an immediate 503 `overloaded` with Retry-After, so a
 * burst beyond capacity costs the server a few microseconds per refused request instead of an
 * unbounded queue of open requests, sockets and memory (bench:load measures both sides).
 * Rate limits (rate-limit.ts) are per token and about fairness; this is about the server.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../env.ts";
import { errorBody } from "../errors.ts";

export interface OverloadLimits {
  maxInFlight: number;
  maxQueued: number;
  maxWaitMs: number;
}

export class LoadShedder {
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  shed = 0;

  constructor(readonly limits: OverloadLimits) {}

  /** A turn, or null when the queue is full or the wait ran out. */
  async acquire(): Promise<(() => void) | null> {
    if (this.inFlight < this.limits.maxInFlight) {
      this.inFlight++;
      return () => this.release();
    }
    if (this.waiting.length >= this.limits.maxQueued) return null;
    return new Promise((resolve) => {
      const turn = () => {
        clearTimeout(timer);
        this.inFlight++;
        resolve(() => this.release());
      };
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(turn);
        if (i >= 0) this.waiting.splice(i, 1);
        resolve(null);
      }, this.limits.maxWaitMs);
      this.waiting.push(turn);
    });
  }

  private release(): void {
    this.inFlight--;
    this.waiting.shift()?.();
  }

  get stats(): { inFlight: number; queued: number; shed: number } {
    return { inFlight: this.inFlight, queued: this.waiting.length, shed: this.shed };
  }
}

export function shedLoad(shedder: LoadShedder): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (shedder.limits.maxInFlight <= 0) return next();
    const release = await shedder.acquire();
    if (!release) {
      shedder.shed++;
      c.header("Retry-After", "1");
      return c.json(errorBody("overloaded", "the server is at capacity; retry in a moment"), 503);
    }
    try {
      await next();
    } finally {
      release();
    }
  };
}
