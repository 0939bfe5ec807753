/**
 * Files that ship beside the code (migrations, the demo corpus, the built web app) and how the
 * code is running. The same modules run from `src/` through tsx (development, tests) and from
 * the bundle in `build/cli/` (`npm install` builds it; bin/kb.js runs it), so paths are found
 * from the package root, never relative to the module that needs them.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

function findPackageRoot(start: string): string {
  for (let dir = start; ; ) {
    const manifest = path.join(dir, "package.json");
    if (fs.existsSync(manifest)) {
      try {
        if ((JSON.parse(fs.readFileSync(manifest, "utf8")) as { name?: string }).name === "private-kb") return dir;
      } catch {
        // a damaged package.json of something else: keep looking upwards
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`private-kb: cannot find the package root above ${start}`);
    dir = up;
  }
}

export const PACKAGE_ROOT = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));

/** True in the esbuild bundle (build/cli/*.js), false when tsx runs the TypeScript sources. */
export const RUNS_BUNDLED = !import.meta.url.endsWith(".ts");

export const packagePath = (...parts: string[]) => path.join(PACKAGE_ROOT, ...parts);
