/**
 * The optimize kind: compaction, index folding and clean-up of old table versions, now
 * (workers also optimize on their own when changes wait: optimize-policy.ts).
 */
import type { JobKindRunner } from "../context.ts";

export interface OptimizeParams {
  /** Table versions older than this are removed (default: the policy's). */
  cleanupOlderThanMinutes?: number;
}

export const optimizeKind: JobKindRunner = {
  async run(ctx, env) {
    await env.deps.jobs.setPhase(ctx.job.id, "optimizing");
    await env.optimizer.run((ctx.job.params as OptimizeParams).cleanupOlderThanMinutes);
    return { changed: false, completed: true };
  },
};
