/**
 * The request a piece of work is done for, carried through its async calls (AsyncLocalStorage),
 * so that every log line written while serving a request names its id, whichever service or store
 * writes it. The HTTP layer opens the context (src/http/middleware/observe.ts); the logger made
 * here adds the id to each line (pino's mixin).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import pino from "pino";

export interface RequestContext {
  requestId: string;
}

const current = new AsyncLocalStorage<RequestContext>();

/** Runs `fn` (and everything it starts) as part of the request `ctx`. */
export function withRequestContext<T>(ctx: RequestContext, fn: () => T): T {
  return current.run(ctx, fn);
}

/** The request the caller works for, if any. */
export function currentRequest(): RequestContext | undefined {
  return current.getStore();
}

/**
 * The knowledge base's logger: pino, with `requestId` on every line written inside a request
 * (unless the line's logger is a child bound to it already).
 */
export function kbLogger(level: string, destination: pino.DestinationStream = pino.destination(2)): pino.Logger {
  return pino(
    {
      level,
      mixin(_obj, _level, logger) {
        const ctx = current.getStore();
        if (!ctx || (logger as pino.Logger | undefined)?.bindings().requestId !== undefined) return {};
        return { requestId: ctx.requestId };
      },
    },
    destination,
  );
}
