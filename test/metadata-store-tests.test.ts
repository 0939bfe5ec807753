/** The PostgreSQL pass's selection of test files (test/helpers/metadata-store-tests.ts). */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { STORE_INCIDENTAL, storeIndependentTests, usesMetadataStore } from "./helpers/metadata-store-tests.ts";

const ROOT = path.resolve(import.meta.dirname, "..");

describe("which tests the PostgreSQL pass runs", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-pg-select-"));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  };
  write("test/helpers/pg.ts", "export const createTestDatabase = 1;\n");
  write("test/helpers/kb.ts", 'import { createTestDatabase } from "./pg.ts";\nexport const openTestKb = createTestDatabase;\n');
  write("test/helpers/text.ts", 'import { x } from "../../src/whatever.ts";\nexport const y = x;\n');
  write("test/through-kb.test.ts", 'import { openTestKb } from "./helpers/kb.ts";\n');
  write("test/nested/dynamic.test.ts", 'const { openTestKb } = await import("../helpers/kb.ts");\n');
  write("test/reads-variable.test.ts", "const onPg = Boolean(process.env.KB_TEST_DATABASE_URL);\n");
  write("test/cycle-a.test.ts", 'import "./cycle-b.ts";\n');
  write("test/cycle-b.ts", 'import "./cycle-a.test.ts";\nimport "./helpers/text.ts";\n');
  write("test/pure.test.ts", 'import { y } from "./helpers/text.ts";\n');

  it("keeps files that reach the PostgreSQL helper, by static or dynamic import, or read its variable", () => {
    expect(usesMetadataStore(dir, "test/through-kb.test.ts")).toBe(true);
    expect(usesMetadataStore(dir, "test/nested/dynamic.test.ts")).toBe(true);
    expect(usesMetadataStore(dir, "test/reads-variable.test.ts")).toBe(true);
  });

  it("skips the others, import cycles included", () => {
    expect(storeIndependentTests(dir, ["test"])).toEqual(["test/cycle-a.test.ts", "test/pure.test.ts"]);
  });

  it("on this repository: knowledge-base tests stay in the PostgreSQL pass, OCR and extractors leave it", () => {
    const independent = storeIndependentTests(ROOT, ["test", "policies", "ingest", "src"]);
    for (const f of ["test/ocr/forms.test.ts", "test/ocr/ocr.test.ts", "test/formats/formats.test.ts", "test/ingest/pdf.test.ts"]) expect(independent).toContain(f);
    for (const f of ["test/api.test.ts", "test/acl-leak.test.ts", "test/jobs.test.ts", "test/web/auth.test.ts", "test/crash.test.ts"]) {
      expect(independent).not.toContain(f);
      expect(usesMetadataStore(ROOT, f)).toBe(true);
    }
  });

  it("lists as store-incidental only files that exist and do reach the store (a renamed file would otherwise run twice unnoticed)", () => {
    for (const f of STORE_INCIDENTAL) {
      expect(fs.existsSync(path.join(ROOT, f)), f).toBe(true);
      expect(usesMetadataStore(ROOT, f), f).toBe(true);
    }
    for (const f of ["test/api.test.ts", "test/jobs.test.ts", "test/crash.test.ts", "test/conversations.test.ts", "test/service-tokens.test.ts"]) expect(STORE_INCIDENTAL).not.toContain(f);
  });
});
