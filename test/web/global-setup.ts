/**
 * globalSetup of the `web` vitest project (vitest.config.ts): builds the data-folder template
 * once per run (template.ts) and hands its path to the test files as KB_WEB_TEMPLATE (env and
 * `inject`). Builds nothing when the browser tests would skip anyway (env.ts says why).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { webSkipReason } from "./env.ts";
import { buildTemplate } from "./template.ts";

declare module "vitest" {
  export interface ProvidedContext {
    KB_WEB_TEMPLATE: string;
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  const reason = webSkipReason();
  let dir = "";
  if (reason) {
    console.warn(`[web tests] skipped: ${reason}`);
  } else {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-web-template-"));
    const started = Date.now();
    await buildTemplate(dir);
    console.log(`[web tests] data-folder template built in ${Date.now() - started} ms`);
  }
  process.env.KB_WEB_TEMPLATE = dir;
  project.provide("KB_WEB_TEMPLATE", dir);
  return () => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  };
}
