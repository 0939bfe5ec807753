// `npm install` builds the web app (npm runs the root package's postinstall), so that
// `npm install && npm start` serves it on a fresh clone. An install without the development
// dependencies (`--omit=dev`: no Vite) skips the build with a note instead of failing; the
// server then answers `/` with a page saying to run `npm run build:web`.
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
try {
  require.resolve("vite/package.json");
} catch {
  console.log("private-kb: Vite is not installed (development dependencies omitted); the web app is not built. Run `npm run build:web` after installing them.");
  process.exit(0);
}
const r = spawnSync(process.platform === "win32" ? "npm.cmd" : "npm", ["run", "build:web"], { stdio: "inherit" });
process.exit(r.status ?? 1);
