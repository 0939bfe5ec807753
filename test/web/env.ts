/**
 * What the browser tests need from the machine, and why they skip without it. Imported by the
 * web project's globalSetup and by every test file (no vitest imports here).
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
/** Debian's Chromium (`apt-get install chromium`); `npx playwright install` cannot download here. */
export const CHROMIUM = process.env.KB_TEST_CHROMIUM || "/usr/bin/chromium";
/** Where `npm run build:web` writes the app (ignored by git), served by the Hono server at `/`. */
export const WEB_BUILD_DIR = path.join(REPO_ROOT, "src", "web", "dist");

/** Why the browser tests cannot run here, or null when they can. */
export function webSkipReason(): string | null {
  if (!fs.existsSync(CHROMIUM)) return `${CHROMIUM} is missing (apt-get install chromium; .ci/run installs it)`;
  if (!fs.existsSync(path.join(WEB_BUILD_DIR, "index.html"))) return `the web app is not built (${path.relative(REPO_ROOT, WEB_BUILD_DIR)}/index.html missing: npm run build:web)`;
  return null;
}
