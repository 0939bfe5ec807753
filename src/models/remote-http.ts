/**
 * The one way this product talks to model servers on the company's network (OpenAI-compatible
 * chat completions and embeddings): plain `fetch` (Node's undici), with
 * - the allow-list checked before every request (KB_MODEL_HOSTS; configuration is checked at
 *   start too, this is the second lock), http(s) only;
 * - `redirect: "error"`: a redirect is never followed, to another host or the same one;
 * - the API key only in the Authorization header, never in an error message or a log line;
 * - the caller's AbortSignal aborting the HTTP request itself (the server sees the connection close).
 *
 * Why not the `openai` package: it is a good client, but it follows redirects through fetch
 * unless told otherwise, retries by default, and hides the response before we can map its status;
 * what we need (one POST, an SSE reader, status mapping) is small, and with fetch directly the
 * allow-list and the no-redirect rule sit at the single call site. Tests validate the test server
 * with the official `openai` client, so both speak the same protocol.
 */
import { hostAllowed, urlHost } from "../config.ts";

export interface RemoteEndpoint {
  /** Base URL (`http://gpu1.corp:8000/v1`), no trailing slash. */
  url: string;
  /** Bearer key, or undefined. */
  apiKey: string | undefined;
  /** KB_MODEL_HOSTS. */
  allowedHosts: readonly string[];
}

/** A model server answered with an error status, could not be reached, or answered nonsense. */
export class RemoteModelError extends Error {
  override readonly name = "RemoteModelError";
  constructor(
    message: string,
    /** The HTTP status the server answered, or undefined when it could not be reached. */
    readonly status?: number,
    /** Seconds from a 429's or 503's Retry-After header. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** `host[:port]` of an endpoint, for messages and /readyz. */
export function endpointHost(url: string): string {
  return urlHost(new URL(url));
}

function retryAfterOf(res: Response): number | undefined {
  const v = res.headers.get("retry-after");
  if (!v) return undefined;
  const n = Number(v);
  if (Number.isFinite(n) && n >= 0) return Math.ceil(n);
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, Math.ceil((at - Date.now()) / 1000)) : undefined;
}

/** The server's own error message (OpenAI shape `{ error: { message } }`, or text), short and on one line. */
async function upstreamMessage(res: Response): Promise<string> {
  let text = "";
  try {
    text = await res.text();
  } catch {
    return "";
  }
  let msg = text;
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown; detail?: unknown };
    const m = typeof body.error === "string" ? body.error : (body.error?.message ?? body.message ?? body.detail);
    if (typeof m === "string") msg = m;
  } catch {
    /* not JSON */
  }
  msg = msg.replace(/\s+/g, " ").trim();
  return msg.length > 300 ? `${msg.slice(0, 300)}…` : msg;
}

/**
 * POSTs JSON to `<base>/<path>` and returns the response when it is 2xx. Throws RemoteModelError
 * for a host not on the allow-list, a redirect, a connection failure or an error status; an
 * abort through `signal` rejects with the signal's reason.
 */
export async function postModelServer(endpoint: RemoteEndpoint, pathname: string, body: unknown, signal: AbortSignal, accept = "application/json"): Promise<Response> {
  const url = new URL(`${endpoint.url}/${pathname}`);
  const host = urlHost(url);
  if (!hostAllowed(url, endpoint.allowedHosts)) {
    throw new RemoteModelError(`model server ${host} is not on KB_MODEL_HOSTS; nothing was sent`);
  }
  const headers: Record<string, string> = { "content-type": "application/json", accept };
  if (endpoint.apiKey) headers.authorization = `Bearer ${endpoint.apiKey}`;
  let res: Response;
  try {
    res = await fetch(url, { method: "POST", headers, body: JSON.stringify(body), signal, redirect: "manual" });
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new RemoteModelError(`model server ${host} could not be reached (${cause?.code ?? cause?.message ?? (err as Error).message})`);
  }
  if (res.status >= 300 && res.status < 400) {
    await res.body?.cancel().catch(() => {});
    const to = res.headers.get("location");
    let where = "";
    try {
      where = to ? ` to ${urlHost(new URL(to, url))}` : "";
    } catch {
      /* unparsable location */
    }
    throw new RemoteModelError(`model server ${host} answered a redirect${where} (${res.status}), which is never followed`, res.status);
  }
  if (!res.ok) {
    const msg = await upstreamMessage(res);
    throw new RemoteModelError(`model server ${host} answered ${res.status}${msg ? `: ${msg}` : ""}`, res.status, retryAfterOf(res));
  }
  return res;
}

/** The `data:` payloads of a server-sent-event stream, as they arrive; `[DONE]` is the last one given. */
export async function* sseData(res: Response, signal: AbortSignal): AsyncGenerator<string> {
  if (!res.body) return;
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  let ended = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        ended = true;
        break;
      }
      buf += decoder.decode(value, { stream: true });
      let i: number;
      while ((i = buf.search(/\r?\n\r?\n/)) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + (buf[i] === "\r" ? 4 : 2));
        const data = block
          .split(/\r?\n/)
          .filter((l) => l.startsWith("data:"))
          .map((l) => l.slice(5).replace(/^ /, ""))
          .join("\n");
        if (!data) continue;
        yield data;
        if (data === "[DONE]") return;
      }
    }
  } finally {
    // Stopped before the body's end ([DONE], an abort, an error): let the connection go.
    if (!ended) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
