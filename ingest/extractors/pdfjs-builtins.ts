/**
 * Keeps pdfjs-dist from slowing down the whole process.
 *
 * pdf-parse loads pdfjs-dist's "legacy" build, which bundles core-js. On Node 20 (V8 before 12.2)
 * core-js decides that the engine's `Array.prototype.push` is non-conforming (it throws the wrong
 * error type when an array's length is read-only) and replaces it, for every module in the
 * process, with a JavaScript polyfill: measured 2× slower on a push loop, and about 12% of the
 * CPU time of a text-PDF ingest run (bench:ingest). It also wraps `JSON.parse`. Nothing here
 * depends on the edge cases the polyfills fix, so the engine's own functions are put back.
 *
 * This module captures the natives when it is evaluated, so it must be imported before "pdf-parse"
 * (ingest/extractors/pdf.ts imports it first). `restoreNativeBuiltins()` is cheap; call it after
 * pdfjs may have loaded more of itself (its worker module loads with the first document).
 * On Node ≥ 22 core-js leaves the natives alone and this does nothing.
 */
const coreJsLoadedFirst = "__core-js_shared__" in globalThis;
const nativePush = Array.prototype.push;
const nativeJsonParse = JSON.parse;

export function restoreNativeBuiltins(): void {
  if (coreJsLoadedFirst) return; // captured too late: the "natives" above may be polyfills
  if (Array.prototype.push !== nativePush) {
    Object.defineProperty(Array.prototype, "push", { value: nativePush, writable: true, enumerable: false, configurable: true });
  }
  if (JSON.parse !== nativeJsonParse) {
    Object.defineProperty(JSON, "parse", { value: nativeJsonParse, writable: true, enumerable: false, configurable: true });
  }
}

/** True when `Array.prototype.push` and `JSON.parse` are the engine's own (diagnostics, tests). */
export function nativeBuiltinsInPlace(): boolean {
  return Array.prototype.push === nativePush && JSON.parse === nativeJsonParse;
}
