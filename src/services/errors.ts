/** Errors services raise; the HTTP layer maps `status` and `code` to the JSON error body. */
export class ServiceError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 500 | 502 | 503,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
    /** Extra fields of the JSON error body (e.g. the candidates of an ambiguous name). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "ServiceError";
  }
}

export const notFound = (what: string) => new ServiceError(404, "not_found", `${what} not found`);
export const badRequest = (message: string, code = "bad_request") => new ServiceError(400, code, message);
