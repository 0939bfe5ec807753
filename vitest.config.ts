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
          globalSetup: ["test/global-setup.ts", "test/web/global-setup.ts"],
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
