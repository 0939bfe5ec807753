import { describe, expect, it } from "vitest";
import { analyzeForIndex, queryTerms } from "../analysis/index.ts";
import { SENSITIVE_KEY_PREFIX, sensitiveKey, splitSensitiveForIndex, splitSensitiveForQuery } from "./search-keys.ts";

describe("personal data in the search index", () => {
  it("blanks each value out of the text (offsets kept) and gives one key per value", () => {
    const text = "휴대폰 010-2345-6789, 메일 hong.gd@example.co.kr 입니다.";
    const { text: rest, keys } = splitSensitiveForIndex(text);
    expect(rest.length).toBe(text.length);
    expect(rest).not.toMatch(/2345|6789|hong/);
    expect(rest).toContain("휴대폰");
    expect(keys).toEqual([sensitiveKey("phone", "010-2345-6789"), sensitiveKey("email", "hong.gd@example.co.kr")]);
    expect(splitSensitiveForIndex("no personal data here")).toEqual({ text: "no personal data here", keys: [] });
  });

  it("keys depend on the value's digits only (any spacing or kind), or the lower-cased address", () => {
    expect(sensitiveKey("phone", "010-2345-6789")).toBe(sensitiveKey("account", "01023456789"));
    expect(sensitiveKey("card", "4111 1111 1111 1111")).toBe(sensitiveKey("card", "4111111111111111"));
    expect(sensitiveKey("email", "Hong.GD@Example.co.kr")).toBe(sensitiveKey("email", "hong.gd@example.co.kr"));
    expect(sensitiveKey("phone", "010-2345-6789")).not.toBe(sensitiveKey("phone", "010-2345-6788"));
    expect(sensitiveKey("phone", "010-2345-6789")).toMatch(new RegExp(`^${SENSITIVE_KEY_PREFIX}[0-9a-f]{24}$`));
  });

  it("recognises a query's values without the context words the document had", () => {
    // An account number needs a context word (계좌, a bank name) in running text, not in a query.
    expect(splitSensitiveForIndex("110-123-456789").keys).toEqual([]);
    const q = splitSensitiveForQuery("110-123-456789 입금 내역");
    expect(q.keys).toEqual([sensitiveKey("account", "110-123-456789")]);
    expect(q.text.trim()).toBe("입금 내역");
  });

  it("the analyzer never turns user text into a key term", () => {
    const typed = `${sensitiveKey("phone", "010-2345-6789")} ${SENSITIVE_KEY_PREFIX}abc`;
    expect(queryTerms(typed).some((t) => t.startsWith(SENSITIVE_KEY_PREFIX))).toBe(false);
    expect(analyzeForIndex(typed).split(" ").some((t) => t.startsWith(SENSITIVE_KEY_PREFIX))).toBe(false);
  });
});
