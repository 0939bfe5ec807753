/**
 * The web app's API types come from the OpenAPI document built in-process by
 * src/web/build/openapi.ts: no data folder, no server. It must describe the routes the app calls.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { openApiDocument } from "../src/web/build/openapi.ts";

describe("web app's OpenAPI document", () => {
  it("is built in-process with the routes the app calls, touching no data folder", async () => {
    const doc = await openApiDocument();
    const paths = Object.keys(doc.paths as Record<string, unknown>);
    for (const p of ["/api/v1/ask", "/api/v1/search", "/api/v1/documents", "/api/v1/documents/{id}", "/api/v1/conversations/{id}", "/api/v1/jobs/{id}", "/api/v1/auth/login", "/api/v1/auth/session"]) {
      expect(paths, p).toContain(p);
    }
    expect(fs.existsSync(path.resolve(import.meta.dirname, "../src/web/build/.no-data"))).toBe(false);
  });
});
