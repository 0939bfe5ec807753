/**
 * Vitest setup file (vitest.config.ts `setupFiles`): after each test file, drops the PostgreSQL
 * databases it created and did not drop (a test that failed or threw before its close), so a run
 * on PostgreSQL does not leave a database per failure. The run's global teardown
 * (test/global-setup.ts) drops whatever a crashed worker left.
 */
import { afterAll } from "vitest";
import { dropLeftDatabases } from "./pg.ts";

afterAll(async () => {
  const left = await dropLeftDatabases();
  if (left.length > 0) console.warn(`[pg] dropped ${left.length} test database(s) left open by this file: ${left.join(", ")}`);
});
