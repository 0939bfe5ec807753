/**
 * The API client: openapi-fetch typed by schema.d.ts, which src/web/build/openapi.ts generates
 * from the server's OpenAPI document. Same-origin cookies, the CSRF header on every write, and
 * a 401 from any call sends the app back to the sign-in page.
 */
import createClient, { type Middleware } from "openapi-fetch";
import type { paths } from "./schema";

export type { paths, components } from "./schema";

let csrfToken: string | null = null;
const unauthorizedListeners = new Set<() => void>();

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

/** Called on every 401 (expired or revoked session); returns the unsubscribe function. */
export function onUnauthorized(listener: () => void): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

const isWrite = (method: string) => !["GET", "HEAD", "OPTIONS"].includes(method.toUpperCase());

function notify401(url: string): void {
  // The sign-in and session probes answer 401 by design; they do not mean "expired".
  if (/\/api\/v1\/auth\/(login|session)$/.test(new URL(url, location.origin).pathname)) return;
  for (const l of unauthorizedListeners) l();
}

const sessionMiddleware: Middleware = {
  onRequest({ request }) {
    if (csrfToken && isWrite(request.method)) request.headers.set("X-CSRF-Token", csrfToken);
    return request;
  },
  onResponse({ request, response }) {
    if (response.status === 401) notify401(request.url);
    return response;
  },
};

export const api = createClient<paths>({ baseUrl: "", credentials: "same-origin" });
api.use(sessionMiddleware);

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Turns an error body ({ error: { code, message } }) into an ApiError. */
export function apiError(status: number, body: unknown): ApiError {
  const e = (body as { error?: { code?: string; message?: string } } | null)?.error;
  return new ApiError(status, e?.code ?? `http_${status}`, e?.message ?? `HTTP ${status}`);
}

/** openapi-fetch's result → its data, or throws ApiError. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.error !== undefined || !result.response.ok) throw apiError(result.response.status, result.error);
  return result.data as T;
}

/**
 * A plain fetch with the same rules, for what the typed client cannot express (streams,
 * uploads with progress use XHR below, downloads) and for routes newer than the generated
 * schema.
 */
export async function apiFetch(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  const method = init.method ?? "GET";
  if (csrfToken && isWrite(method)) headers.set("X-CSRF-Token", csrfToken);
  if (init.body && typeof init.body === "string" && !headers.has("content-type")) headers.set("content-type", "application/json");
  const res = await fetch(path, { ...init, headers, credentials: "same-origin" });
  if (res.status === 401) notify401(res.url || path);
  return res;
}

/** apiFetch + JSON body → parsed JSON, or throws ApiError. */
export async function apiJson<T>(path: string, init: RequestInit = {}): Promise<T> {
  const res = await apiFetch(path, init);
  const text = await res.text();
  const body: unknown = text ? JSON.parse(text) : null;
  if (!res.ok) throw apiError(res.status, body);
  return body as T;
}

/** Multipart upload with progress (fetch has no upload progress). */
export function uploadWithProgress(path: string, form: FormData, onProgress: (fraction: number) => void): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.withCredentials = true;
    if (csrfToken) xhr.setRequestHeader("X-CSRF-Token", csrfToken);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      if (xhr.status === 401) notify401(path);
      let body: unknown = null;
      try {
        body = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        body = null;
      }
      resolve({ status: xhr.status, body });
    };
    xhr.onerror = () => reject(new Error("network error"));
    xhr.send(form);
  });
}
