// `npm run build:cli` (and `npm install`, through postinstall): bundles the server and CLI
// TypeScript into build/cli/ with esbuild, so `kb` starts without transpiling ~200 modules on
// every call. Packages stay external (native addons, large libraries: node_modules is there);
// code splitting keeps what a command loads lazily (the container, the server, extractors) out
// of the entry chunk, so `kb --help` loads commander and the command table only.
// Type-checking stays with `tsc --noEmit` (tsconfig's noEmit is unchanged); this only strips types.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { newestSource } from "./source-stamp.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const outdir = path.join(root, "build", "cli");

export async function bundleCli({ out = outdir, quiet = false } = {}) {
  const started = Date.now();
  const sources = newestSource(root);
  fs.rmSync(out, { recursive: true, force: true });
  await esbuild.build({
    absWorkingDir: root,
    entryPoints: { main: "src/cli/main.ts", "extract-child": "src/services/jobs/extract-child.ts" },
    outdir: out,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    sourcemap: "linked",
    logLevel: quiet ? "error" : "warning",
  });
  fs.writeFileSync(path.join(out, "stamp.json"), JSON.stringify({ sources, builtAt: new Date().toISOString() }) + "\n");
  if (!quiet) console.log(`private-kb: CLI bundled into ${path.relative(root, out)}/ in ${Date.now() - started} ms`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await bundleCli();
}
