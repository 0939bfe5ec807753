/**
 * globalSetup of the `web` vitest project (vitest.config.ts): builds the data-folder template
 * once per run (template.ts) and hands its path to the test files as KB_WEB_TEMPLATE (env and
 * `inject`). Builds nothing when the browser tests would skip anyway (env.ts says why). With
 * KB_TEST_DATABASE_URL the template's metadata is a PostgreSQL database, named to the test files
 * as KB_WEB_TEMPLATE_DB (each server gets a copy of it), dropped at teardown.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { createTestDatabase, type TestDatabase } from "../helpers/pg.ts";
import { webSkipReason } from "./env.ts";
import { buildTemplate } from "./template.ts";

declare module "vitest" {
  export interface ProvidedContext {
    KB_WEB_TEMPLATE: string;
    KB_WEB_TEMPLATE_DB: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const reason = webSkipReason();
  let dir = "";
  let database: TestDatabase | null = null;
  if (reason) {
    console.warn(`[web tests] skipped: ${reason}`);
  } else {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-web-template-"));
    const started = Date.now();
    if (process.env.KB_TEST_DATABASE_URL) {
      console.log("[web tests] on PostgreSQL: the screen-only files (a11y, korean-ui, inert, harness) run in the SQLite pass only (vitest.config.ts)");
      database = await createTestDatabase(process.env.KB_TEST_DATABASE_URL);
    }
    await buildTemplate(dir, database?.url);
    console.log(`[web tests] data-folder template built in ${Date.now() - started} ms`);
  }
  process.env.KB_WEB_TEMPLATE = dir;
  process.env.KB_WEB_TEMPLATE_DB = database?.name ?? "";
  project.provide("KB_WEB_TEMPLATE", dir);
  project.provide("KB_WEB_TEMPLATE_DB", database?.name ?? "");
  return async () => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    await database?.drop();
  };
}
