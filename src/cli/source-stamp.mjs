// The newest modification time of the sources the CLI bundle is made of. Shared by the bundler
// (src/cli/bundle.mjs writes it into build/cli/stamp.json) and bin/kb.js (runs the bundle only
// when no source is newer). Plain JavaScript with no imports beyond node:, so bin/kb.js pays
// only a directory walk (a few ms), never a transpiler.
import fs from "node:fs";
import path from "node:path";

export const BUNDLED_DIRS = ["src", "ingest", "policies", "drizzle"];

export function newestSource(root) {
  let newest = 0;
  const walk = (dir) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        // The browser app (src/web) has its own build; node_modules is not ours.
        if (e.name !== "web" && e.name !== "node_modules") walk(p);
      } else if (/\.(ts|mts|mjs|sql|json)$/.test(e.name) && !e.name.endsWith(".test.ts")) {
        newest = Math.max(newest, fs.statSync(p).mtimeMs);
      }
    }
  };
  for (const d of BUNDLED_DIRS) walk(path.join(root, d));
  return newest;
}
