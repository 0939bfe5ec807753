import { defineConfig } from "vitest/config";

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

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          ...shared,
          name: "unit",
          include: ["test/**/*.test.ts", "policies/**/*.test.ts", "ingest/**/*.test.ts", "src/**/*.test.ts"],
          exclude: ["test/web/**", "**/node_modules/**"],
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
