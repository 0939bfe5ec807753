#!/usr/bin/env node
// The `kb` command. Runs the bundle in build/cli/ (built by `npm install` / `npm run build:cli`)
// when no source is newer than it; otherwise (sources edited since, or no bundle) the
// TypeScript through tsx's loader, as before, so an edit is never run stale.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { newestSource } from "../src/cli/source-stamp.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

function bundleIsCurrent() {
  if (process.env.KB_CLI_FROM_SOURCE === "1") return false;
  try {
    const stamp = JSON.parse(fs.readFileSync(path.join(root, "build", "cli", "stamp.json"), "utf8"));
    return newestSource(root) <= stamp.sources;
  } catch {
    return false;
  }
}

if (bundleIsCurrent()) {
  // Stack traces name the TypeScript sources (the bundle has linked source maps).
  process.setSourceMapsEnabled(true);
  await import("../build/cli/main.js");
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../src/cli/main.ts");
}
