/**
 * Imports run one way (entry points → services → domain/ingest/policies → stores/models →
 * config) and never in a circle. The issue that restructures the middle layer removes the
 * known exceptions below; until then this test fails on any NEW circle or upward import, and
 * also when a known one disappears, so the list only shrinks and never goes stale.
 */
import { describe, expect, it } from "vitest";
import { circles, importGraph, layerOf, upwardImports } from "./import-graph.ts";

/** Known before the restructure (issue 11); delete entries as they are fixed. */
const KNOWN_CIRCLES: string[][] = [
];
const KNOWN_UPWARD: string[] = [];

describe("import graph", () => {
  const graph = importGraph();

  it("reads the product's files and places each in a layer", () => {
    expect(graph.size).toBeGreaterThan(100);
    expect([...graph.keys()].filter((f) => layerOf(f) < 0)).toEqual([]);
    // The reader must see real arrows, or the checks below could never fail.
    expect(graph.get("src/http/app.ts")?.length).toBeGreaterThan(3);
  });

  it("has no circles beyond the known ones", () => {
    expect(circles(graph)).toEqual(KNOWN_CIRCLES);
  });

  it("has no import from a lower layer to a higher one beyond the known ones", () => {
    expect(upwardImports(graph)).toEqual(KNOWN_UPWARD);
  });

  it("finds a circle and an upward import when there is one", () => {
    const g = new Map<string, string[]>([
      ["src/stores/a.ts", ["src/services/b.ts"]],
      ["src/services/b.ts", ["src/stores/a.ts"]],
    ]);
    expect(circles(g)).toEqual([["src/services/b.ts", "src/stores/a.ts"]]);
    expect(upwardImports(g)).toEqual(["src/stores/a.ts → src/services/b.ts"]);
  });
});
