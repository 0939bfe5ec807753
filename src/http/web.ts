/**
 * Serves the web app (src/web, built by `npm run build:web` into src/web/dist) at `/`.
 *
 * - `/assets/*` are Vite's content-hashed files: cached for a year, immutable; a missing one
 *   is a 404, never the app's HTML.
 * - Other files at the build's top level (icons, pdf.js character maps) are served with
 *   revalidation.
 * - Any other GET path without a file extension is an app route (`/documents/abc`,
 *   `/admin/users`): index.html, so a reload or a shared link opens the app there.
 * - API paths are never answered here (`isApiPath`): /api, /v1, /healthz, /readyz,
 *   /openapi.json, /scim and /metrics keep their JSON 404s.
 * - The app's HTML carries a strict Content-Security-Policy (scripts only from this origin, no
 *   inline script; `style-src 'unsafe-inline'` because Mantine sets style attributes and one
 *   style element of CSS variables; workers from this origin and blob: for pdf.js).
 * - Text files (scripts, styles, HTML, JSON, SVG) are sent gzip-compressed to clients that
 *   accept it, compressed once per file version and kept in memory.
 * - Without a build, app routes answer a short HTML page saying to run `npm run build:web`.
 */
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import type { Context, Handler } from "hono";
import type { AppEnv } from "./env.ts";
import { packagePath } from "../paths.ts";

/** Where `npm run build:web` writes the app. */
export const DEFAULT_WEB_DIR = packagePath("src", "web", "dist");

/** Paths owned by the API (and those reserved for it): the web app never answers them. */
export function isApiPath(p: string): boolean {
  return /^\/(api|v1|scim|metrics|healthz|readyz|openapi\.json)(\/|$)/.test(p);
}

/**
 * A request for one of the build's files (a path with a file extension outside the API):
 * static and cheap, and a page load fetches dozens (scripts, font subsets), so they are not
 * charged to the per-address limit for unauthenticated requests. App routes (HTML) are.
 */
export function isStaticFile(p: string): boolean {
  return !isApiPath(p) && /\.[A-Za-z0-9]{1,8}$/.test(p);
}

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".woff": "font/woff",
  ".ttf": "font/ttf",
  ".pfb": "application/octet-stream",
  ".bcmap": "application/octet-stream",
  ".wasm": "application/wasm",
  ".txt": "text/plain; charset=utf-8",
};

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>private-kb</title></head>
<body><main><h1>private-kb</h1>
<p>The web app is not built. Run <code>npm run build:web</code> (it runs on <code>npm install</code>) and reload.</p>
<p>The API is at <a href="/openapi.json">/openapi.json</a>.</p></main></body></html>
`;

const COMPRESSIBLE = new Set([".html", ".js", ".mjs", ".css", ".json", ".svg", ".txt"]);
const gzipCache = new Map<string, { mtimeMs: number; size: number; gz: Buffer }>();

/** The file's bytes, gzip-compressed when the client accepts it and the type is text. */
function body(c: Context<AppEnv>, file: string, ext: string): Buffer {
  const raw = fs.readFileSync(file);
  if (!COMPRESSIBLE.has(ext) || raw.length < 1024) return raw;
  c.header("Vary", "Accept-Encoding");
  if (!/\bgzip\b/.test(c.req.header("accept-encoding") ?? "")) return raw;
  const st = fs.statSync(file);
  let hit = gzipCache.get(file);
  if (!hit || hit.mtimeMs !== st.mtimeMs || hit.size !== st.size) {
    hit = { mtimeMs: st.mtimeMs, size: st.size, gz: zlib.gzipSync(raw, { level: 9 }) };
    gzipCache.set(file, hit);
  }
  c.header("Content-Encoding", "gzip");
  return hit.gz;
}

function setSecurityHeaders(c: Context<AppEnv>, html: boolean): void {
  c.header("X-Content-Type-Options", "nosniff");
  c.header("Referrer-Policy", "no-referrer");
  if (html) {
    c.header("Content-Security-Policy", CONTENT_SECURITY_POLICY);
    c.header("X-Frame-Options", "DENY");
  }
}

/** A file inside `root` for the URL path, or null (missing, a directory, or outside root). */
function fileFor(root: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes("\0")) return null;
  const file = path.resolve(root, "." + path.posix.normalize("/" + decoded));
  if (file !== root && !file.startsWith(root + path.sep)) return null;
  try {
    return fs.statSync(file).isFile() ? file : null;
  } catch {
    return null;
  }
}

/**
 * The GET handler mounted last on the app (`app.get("*", …)`). `dir`: the build folder.
 * Returns undefined for paths it does not serve, so the app's JSON 404 answers them.
 */
export function webAppHandler(dir: string = DEFAULT_WEB_DIR): Handler<AppEnv> {
  const root = path.resolve(dir);
  return (c) => {
    const p = c.req.path;
    if (isApiPath(p)) return c.notFound();
    const index = path.join(root, "index.html");
    const built = fs.existsSync(index);
    const file = built && p !== "/" ? fileFor(root, p) : null;
    if (file && path.basename(file) !== "index.html") {
      const ext = path.extname(file).toLowerCase();
      setSecurityHeaders(c, ext === ".html");
      c.header("Content-Type", TYPES[ext] ?? "application/octet-stream");
      c.header("Cache-Control", p.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "no-cache");
      return c.body(new Uint8Array(body(c, file, ext)));
    }
    // A missing hashed asset or any path that looks like a file is not an app route.
    if (p.startsWith("/assets/") || /\.[A-Za-z0-9]{1,8}$/.test(p)) return c.notFound();
    setSecurityHeaders(c, true);
    c.header("Cache-Control", "no-cache");
    if (!built) return c.html(NOT_BUILT, 503);
    c.header("Content-Type", "text/html; charset=utf-8");
    return c.body(new Uint8Array(body(c, index, ".html")), 200);
  };
}
