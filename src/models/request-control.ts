/**
 * What the in-process and the remote LLM providers share about one generation request: its
 * abort controller (aborted by the request's timeout, the caller's signal or the provider's
 * close()), and waiting in line for capacity while that signal may end the wait.
 */
import { LlmTimeoutError } from "./llm-errors.ts";

/** A request waiting in line: granted a `T` (a slot, or just a turn) or taken out without one. */
export interface Waiter<T> {
  grant(value: T): void;
  /** Taken out of the queue without capacity (timeout, abort, close). */
  cancel(err: Error | null): void;
}

export interface RequestControl {
  /** Aborted on timeout (reason LlmTimeoutError), caller abort or close(). */
  signal: AbortSignal;
  timedOut(): boolean;
  limitMs: number;
  /** Clears the timer and the caller-signal link; forgets the controller. */
  dispose(): void;
}

/**
 * One controller per request, registered in `controllers` (what close() aborts). Linked to the
 * caller's signal by hand rather than AbortSignal.any, which keeps listeners on long-lived signals.
 */
export function requestControl(req: { signal?: AbortSignal; timeoutMs?: number }, defaultTimeoutMs: number, controllers: Set<AbortController>): RequestControl {
  const limitMs = req.timeoutMs ?? defaultTimeoutMs;
  const ctl = new AbortController();
  controllers.add(ctl);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctl.abort(new LlmTimeoutError(limitMs));
  }, limitMs);
  timer.unref?.();
  const onCallerAbort = () => ctl.abort(req.signal?.reason);
  if (req.signal?.aborted) onCallerAbort();
  else req.signal?.addEventListener("abort", onCallerAbort, { once: true });
  return {
    signal: ctl.signal,
    timedOut: () => timedOut,
    limitMs,
    dispose() {
      clearTimeout(timer);
      req.signal?.removeEventListener("abort", onCallerAbort);
      controllers.delete(ctl);
    },
  };
}

/**
 * Waits in `queue` until granted (the value), or until the request's signal ends the wait: null
 * on an abort, LlmTimeoutError on its timeout; a cancel with an error (close) rejects with it.
 */
export function waitInLine<T>(queue: Waiter<T>[], control: RequestControl): Promise<T | null> {
  const { signal } = control;
  return new Promise<T | null>((resolve, reject) => {
    const onAbort = () => {
      const i = queue.indexOf(waiter);
      if (i >= 0) queue.splice(i, 1);
      if (control.timedOut()) reject(new LlmTimeoutError(control.limitMs));
      else resolve(null);
    };
    const waiter: Waiter<T> = {
      grant: (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      cancel: (err) => {
        signal.removeEventListener("abort", onAbort);
        if (err) reject(err);
        else resolve(null);
      },
    };
    queue.push(waiter);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
