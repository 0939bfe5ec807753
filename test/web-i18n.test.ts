/** The web app's Korean and English strings: the same keys in both, none empty. */
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const dir = path.resolve(import.meta.dirname, "../src/web/src/i18n");
const read = (lang: string) => JSON.parse(fs.readFileSync(path.join(dir, `${lang}.json`), "utf8")) as Record<string, unknown>;

/** Keys as a.b.c, with i18next's plural suffixes folded (ko has no _one/_other distinction to need). */
export function keys(obj: Record<string, unknown>, prefix = ""): string[] {
  return Object.entries(obj).flatMap(([k, v]) => (v && typeof v === "object" ? keys(v as Record<string, unknown>, `${prefix}${k}.`) : [`${prefix}${k}`]));
}

describe("web app strings", () => {
  it("has the same keys in Korean and English", () => {
    expect(keys(read("ko")).sort()).toEqual(keys(read("en")).sort());
  });
  it("has no empty string", () => {
    for (const lang of ["en", "ko"]) {
      const flat = keys(read(lang));
      expect(flat.length).toBeGreaterThan(50);
      const get = (k: string) => k.split(".").reduce<unknown>((o, p) => (o as Record<string, unknown>)[p], read(lang));
      expect(flat.filter((k) => typeof get(k) !== "string" || !(get(k) as string).trim())).toEqual([]);
    }
  });
  it("finds a missing key", () => {
    expect(keys({ a: { b: "x", c: "y" } })).toEqual(["a.b", "a.c"]);
  });
});
