// `npm install` builds what `npm start` runs (npm runs the root package's postinstall):
//  1. the CLI and server bundle (build/cli, esbuild: a dependency), so `kb` starts at once;
//  2. the web app, so `npm install && npm start` serves it on a fresh clone. An install without
//     the development dependencies (`--omit=dev`: no Vite) skips it with a note instead of
//     failing; the server then answers `/` with a page saying to run `npm run build:web`.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { bundleCli } from "../../cli/bundle.mjs";

await bundleCli();
const require = createRequire(import.meta.url);
try {
  require.resolve("vite/package.json");
} catch {
  console.log("private-kb: Vite is not installed (development dependencies omitted); the web app is not built. Run `npm run build:web` after installing them.");
  process.exit(0);
}
const r = spawnSync(process.platform === "win32" ? "npm.cmd" : "npm", ["run", "build:web"], { stdio: "inherit" });
process.exit(r.status ?? 1);
