import { describe, expect, it } from "vitest";
import { largestFirst } from "../../src/services/jobs/file-pipeline.ts";

type F = { ordinal: number; size: number; doc?: string };
const run = (files: F[]) => largestFirst(files, (f) => f.size, (f) => f.doc).map((f) => f.ordinal);

describe("the order a job's files start in (largest first)", () => {
  it("starts the largest file first; equal sizes keep job order", () => {
    expect(run([{ ordinal: 0, size: 10 }, { ordinal: 1, size: 3000 }, { ordinal: 2, size: 10 }, { ordinal: 3, size: 500 }])).toEqual([1, 3, 0, 2]);
  });

  it("keeps one document's files in job order, in the places its files got", () => {
    // Document d: ordinal 0 (small, first version) must still come before ordinal 2 (larger, second version).
    const files = [
      { ordinal: 0, size: 5, doc: "d" },
      { ordinal: 1, size: 50, doc: "a" },
      { ordinal: 2, size: 900, doc: "d" },
      { ordinal: 3, size: 100, doc: "b" },
      { ordinal: 4, size: 1, doc: "d" },
    ];
    // By size alone: 2, 3, 1, 0, 4. Document d's places (1st, 4th, 5th) take its files in ordinal order.
    expect(run(files)).toEqual([0, 3, 1, 2, 4]);
    expect(run(files).sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it("counts a size it could not read as 0: such files start last, in job order", () => {
    expect(run([{ ordinal: 0, size: 0 }, { ordinal: 1, size: 0 }, { ordinal: 2, size: 7 }])).toEqual([2, 0, 1]);
  });
});
