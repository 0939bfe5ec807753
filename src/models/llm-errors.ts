/** The errors an LLM provider (in-process or remote) reports; the HTTP layer maps them to 429/504/502. */
export class LlmBusyError extends Error {
  override readonly name = "LlmBusyError";
  constructor(readonly retryAfterSeconds: number, message = `the language model is busy; retry in ${retryAfterSeconds}s`) {
    super(message);
  }
}

export class LlmTimeoutError extends Error {
  override readonly name = "LlmTimeoutError";
  constructor(
    readonly timeoutMs: number,
    /** What was generated before the limit (already streamed through onToken). */
    readonly partialText = "",
  ) {
    super(`the language model did not finish within ${timeoutMs} ms`);
  }
}

/** A remote model server failed (error status, unreachable, a malformed answer); HTTP 502. */
export class LlmUpstreamError extends Error {
  override readonly name = "LlmUpstreamError";
  constructor(
    message: string,
    /** The status the server answered, if it answered. */
    readonly upstreamStatus?: number,
  ) {
    super(message);
  }
}

export class LlmClosedError extends Error {
  override readonly name = "LlmClosedError";
  constructor() {
    super("the language model was closed");
  }
}
