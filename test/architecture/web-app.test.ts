/**
 * The web app (src/web/src) runs in the browser and talks to the server only over HTTP: it
 * imports nothing from the server's code. The one thing it shares is the API's types, which
 * src/web/build/openapi.ts generates into src/web/src/api/schema.d.ts.
 */
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { ROOT } from "./import-graph.ts";

const APP = "src/web/src";

function appFiles(dir = APP, out: string[] = []): string[] {
  for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) appFiles(rel, out);
    else if (/\.(ts|tsx)$/.test(e.name) && !e.name.endsWith(".d.ts")) out.push(rel);
  }
  return out;
}

/** Imports of `file` that leave the app's folder (relative ones resolved; packages are fine). */
export function importsLeavingApp(file: string, text: string): string[] {
  const out: string[] = [];
  for (const ref of ts.preProcessFile(text, true, true).importedFiles) {
    if (!ref.fileName.startsWith(".") && !ref.fileName.startsWith("/")) continue;
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), ref.fileName));
    if (!target.startsWith(APP + "/")) out.push(`${file} → ${target}`);
  }
  return out;
}

describe("web app imports", () => {
  it("reads the app's files", () => {
    const files = appFiles();
    expect(files.length).toBeGreaterThan(10);
    expect(files).toContain("src/web/src/main.tsx");
  });

  it("imports nothing outside src/web/src (the API types are generated into it)", () => {
    const leaving = appFiles().flatMap((f) => importsLeavingApp(f, fs.readFileSync(path.join(ROOT, f), "utf8")));
    expect(leaving).toEqual([]);
  });

  it("finds an import that leaves the app", () => {
    expect(importsLeavingApp("src/web/src/api/client.ts", 'import { x } from "../../../http/app.ts";')).toEqual(["src/web/src/api/client.ts → src/http/app.ts"]);
    expect(importsLeavingApp("src/web/src/api/client.ts", 'import type { paths } from "./schema";')).toEqual([]);
  });
});
