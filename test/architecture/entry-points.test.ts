/**
 * Entry points (routes, CLI commands) translate; use cases live in services, which authorize and
 * audit. So an entry point never reaches a store: no import of the SQLite or LanceDB stores, and
 * `Kb` (what they are handed) carries services, not repositories. Known exceptions are listed
 * and must shrink: the test fails when one disappears, so the list never goes stale.
 */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { Kb } from "../../src/services/container.ts";
import { importGraph, layerOf, ROOT } from "./import-graph.ts";

const STORES = ["src/stores/sqlite/", "src/stores/lance/"];

/** No entry point imports a store now (the metadata-store step of issue 11 removed the last one). */
const KNOWN_STORE_IMPORTS: string[] = [];
const KNOWN_STORE_USES = ["src/cli/commands/jobs.ts: kb.chunks"];

const entryPoint = (file: string) => layerOf(file) === 0;

describe("entry points", () => {
  const graph = importGraph();

  it("import no store", () => {
    const arrows = [...graph].filter(([file]) => entryPoint(file)).flatMap(([file, targets]) => targets.filter((t) => STORES.some((s) => t.startsWith(s))).map((t) => `${file} → ${t}`));
    expect(arrows).toEqual(KNOWN_STORE_IMPORTS);
  });

  it("reach no repository through the kb they are handed", () => {
    const uses = [...graph.keys()].filter(entryPoint).flatMap((file) => {
      const text = fs.readFileSync(path.join(ROOT, file), "utf8");
      const found = new Set(text.match(/\bkb\.(db|documentsRepo|jobsRepo|settings|chunks)\b/g) ?? []);
      return [...found].sort().map((u) => `${file}: ${u}`);
    });
    expect(uses).toEqual(KNOWN_STORE_USES);
  });
});

// Checked by `npx tsc --noEmit`, not at run time: the stores are not part of what entry points get.
void ((kb: Kb) => [
  // @ts-expect-error the SQLite handle is not handed to entry points
  kb.db,
  // @ts-expect-error documents are reached through DocumentService, AccessService, StatusService
  kb.documentsRepo,
  // @ts-expect-error the active-index pointer is ActiveIndex's
  kb.settings,
]);
