import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "policies/**/*.test.ts", "ingest/**/*.test.ts", "src/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Native modules (LanceDB, better-sqlite3, onnxruntime) are happier in forks than threads.
    pool: "forks",
  },
});
