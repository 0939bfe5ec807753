import { defineConfig } from "vitest/config";
import { STORE_INCIDENTAL, storeIndependentTests } from "./test/helpers/metadata-store-tests.ts";

const shared = {
  globalSetup: ["test/global-setup.ts"],
  // With KB_TEST_DATABASE_URL: drops the PostgreSQL databases a test file left (helpers/pg.ts).
  setupFiles: ["test/helpers/pg-cleanup.ts"],
  testTimeout: 60_000,
  hookTimeout: 120_000,
  // Native modules (LanceDB, better-sqlite3, onnxruntime) are happier in forks than threads.
  pool: "forks" as const,
};

/**
 * On PostgreSQL (KB_TEST_DATABASE_URL: `npm run test:pg`, .ci/run's second pass) the browser
 * tests run where they exercise the metadata store (sign-in and sessions, accounts and tokens,
 * access, documents and feedback, conversations, the admin screens, OIDC, first start); these
 * check the screens themselves (accessibility of every screen, the Korean UI, inert rendering of
 * hostile markup, the harness), which the store does not change, and run in the SQLite pass only.
 */
const WEB_SCREEN_ONLY = ["test/web/a11y.test.ts", "test/web/korean-ui.test.ts", "test/web/inert.test.ts", "test/web/harness.test.ts"];
const onPostgres = Boolean(process.env.KB_TEST_DATABASE_URL);
/**
 * On PostgreSQL the other tests run only where they can reach the metadata store (their imports
 * lead to test/helpers/pg.ts: test/helpers/metadata-store-tests.ts). OCR, extractors, analyzers,
 * policies and the like do the same thing on both passes and run in the SQLite pass only, and so
 * do the files that reach the store only on the way to a model, OCR or a protocol adapter
 * (STORE_INCIDENTAL, with the reason).
 */
const UNIT_DIRS = ["test", "policies", "ingest", "src"];
const STORE_INDEPENDENT = onPostgres ? [...storeIndependentTests(import.meta.dirname, UNIT_DIRS), ...STORE_INCIDENTAL] : [];
if (onPostgres) console.log(`PostgreSQL pass: ${STORE_INDEPENDENT.length} test files that never touch the metadata store, or only on the way to what they test, run in the SQLite pass only`);

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: "unit",
          include: ["test/**/*.test.ts", "policies/**/*.test.ts", "ingest/**/*.test.ts", "src/**/*.test.ts"],
          exclude: ["test/web/**", ...STORE_INDEPENDENT, "**/node_modules/**"],
        },
      },
      {
        // The browser tests (test/web): one file at a time (each file runs one Chromium; two or
        // more at once on a 2-core CI machine only slow each other down), after the other tests,
        // with the data-folder template (demo corpus ingested, accounts set up) built once per run.
        test: {
          ...shared,
          name: "web",
          include: ["test/web/**/*.test.ts"],
          exclude: [...(onPostgres ? WEB_SCREEN_ONLY : []), "**/node_modules/**"],
          globalSetup: ["test/global-setup.ts", "test/web/global-setup.ts"],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
