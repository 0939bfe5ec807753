/**
 * Written forms of the same value (issue 10, finding 6): separators other than the ASCII
 * hyphen, fullwidth and other NFKC-equivalent characters, and text around the value whose
 * characters fold to a different length. Every form is detected, and masking replaces exactly
 * the value's characters in the ORIGINAL text.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { detectSensitive, luhnValid, rrnChecksumValid, type SensitiveKind } from "./detect.ts";
import { foldForDetection } from "./fold.ts";
import { MASK_LABEL, maskSensitive } from "./mask.ts";
import { sensitiveKey, splitSensitiveForIndex } from "./search-keys.ts";

const found = (text: string) => detectSensitive(text).map((s) => `${s.kind}:${text.slice(s.start, s.end)}`);

/** Fullwidth form of an ASCII digit, letter or punctuation mark. */
const fullwidth = (c: string) => (c >= "!" && c <= "~" ? String.fromCharCode(c.charCodeAt(0) + 0xfee0) : c);
/** Mathematical bold digit: two UTF-16 units that fold to one. */
const mathDigit = (c: string) => (c >= "0" && c <= "9" ? String.fromCodePoint(0x1d7ce + Number(c)) : c);

const DASHES = ["-", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015", "\u2212", "\uFE63", "\uFF0D", "\u00AD"];
const SEPARATORS = [...DASHES, " ", ".", "_", "\u3000", "\u00A0", "\uFF0E", " - ", "\u200B"];

/** Each character of a value written as ASCII, fullwidth or (digits) mathematical bold. */
const styled = (value: string) =>
  fc.array(fc.constantFrom("ascii", "full", "math"), { minLength: value.length, maxLength: value.length }).map((styles) =>
    [...value].map((c, i) => (styles[i] === "full" ? fullwidth(c) : styles[i] === "math" ? mathDigit(c) : c)).join(""),
  );

/**
 * Words around a value. Some fold to another length ("…" → "...", "𝐀" → "A", "ﬁ" → "fi"), so
 * offsets in the folded copy differ from the original's ("㈜" is a symbol and stays); none is a digit, a context word for
 * accounts, or glues onto the value.
 */
const WORDS = ["홍길동", "의 번호는", "㈜한빛", "𝐀𝐁𝐂", "ﬁle", "…", "참고", "ｎｏｔｅ", "(", ")", "：", " ", "\n", "주민번호", "연락처", "총 １２건", "①", "x²"];
const around = fc.array(fc.constantFrom(...WORDS), { maxLength: 5 }).map((w) => w.join(""));
const boundary = fc.constantFrom(" ", "(", ": ", "\n", "은 ");
const after = fc.constantFrom(" ", ")", " 입니다", "\n", ", ");

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

/** A birth date and a gender digit that agrees with its century (5-8: foreign residents). */
const birth = fc.date({ min: new Date("1900-01-01T00:00:00Z"), max: new Date("2099-12-31T00:00:00Z"), noInvalidDate: true }).chain((d) => {
  const y = d.getUTCFullYear();
  const yymmdd = `${pad2(y % 100)}${pad2(d.getUTCMonth() + 1)}${pad2(d.getUTCDate())}`;
  return fc.constantFrom(...(y < 2000 ? [1, 2, 5, 6] : [3, 4, 7, 8])).map((g) => ({ yymmdd, g }));
});
const serial = fc.stringMatching(/^\d{6}$/);

/** Asserts that `value` inside `before + value + rest` is found as one `kind` span and masked exactly. */
function expectMaskedExactly(before: string, value: string, rest: string, kind: SensitiveKind) {
  const text = before + value + rest;
  const spans = detectSensitive(text);
  expect(spans, JSON.stringify(text)).toEqual([{ kind, start: before.length, end: before.length + value.length }]);
  expect(maskSensitive(text)).toBe(before + MASK_LABEL[kind] + rest);
}

describe("written forms of personal data", () => {
  it("finds the forms named in the finding", () => {
    expect(found("주민번호 850315 2345678 확인")).toEqual(["rrn:850315 2345678"]);
    expect(found("８５０３１５－２３４５６７８")).toEqual(["rrn:８５０３１５－２３４５６７８"]);
    expect(found("번호: 850315.2345678.")).toEqual(["rrn:850315.2345678"]);
    for (const sep of ["\u2010", "\u2212", "\u2014", "_"]) expect(found(`(850315${sep}2345678)`)).toEqual([`rrn:850315${sep}2345678`]);
    expect(found("휴대폰 010-１２３４-5678로")).toEqual(["phone:010-１２３４-5678"]);
    expect(found("카드 4111.1111.1111.1111 결제")).toEqual(["card:4111.1111.1111.1111"]);
  });

  it("masks the right characters of the original text when folding changes lengths", () => {
    const text = "㈜𝐀𝐁 직원 ８５０３１５－２３４５６７８, ﬁle 𝟎𝟏𝟎‐1234‐5678 …ｍａｉｌ：ｋｉｍ＠ｅｘａｍｐｌｅ．ｃｏｍ 끝";
    expect(maskSensitive(text)).toBe("㈜𝐀𝐁 직원 [REDACTED:rrn], ﬁle [REDACTED:phone] …ｍａｉｌ：[REDACTED:email] 끝");
    // The fold map gives back whole code points, never half a surrogate pair or part of "…".
    const f = foldForDetection("…𝟏2");
    expect(f.text).toBe("...12");
    expect(f.toOriginal(1, 2)).toEqual({ start: 0, end: 1 });
    expect(f.toOriginal(3, 5)).toEqual({ start: 1, end: 4 });
  });

  it("indexes every form of a value under the one key of its digits", () => {
    const key = sensitiveKey("rrn", "8503152345678");
    for (const form of ["850315-2345678", "８５０３１５－２３４５６７８", "850315 2345678", "850315\u22122345678", "𝟖𝟓𝟎𝟑𝟏𝟓.2345678"]) {
      const { text, keys } = splitSensitiveForIndex(`주민 ${form} 끝`);
      expect(keys, form).toEqual([key]);
      expect(text).not.toMatch(/[0-9０-９]|\p{Nd}/u);
    }
    expect(sensitiveKey("email", "ＫＩＭ＠ｅｘａｍｐｌｅ．ｃｏｍ")).toBe(sensitiveKey("email", "kim@example.com"));
  });

  it("finds any separated RRN with a real date and gender digit 1-8, check digit or not, in any written form", () => {
    fc.assert(
      fc.property(
        birth.chain(({ yymmdd, g }) =>
          fc.tuple(serial, fc.constantFrom(...SEPARATORS)).chain(([s, sep]) => fc.tuple(styled(yymmdd), styled(`${g}${s}`)).map(([a, b]) => `${a}${sep}${b}`)),
        ),
        around,
        boundary,
        after,
        around,
        (value, pre, b, a, post) => expectMaskedExactly(pre + b, value, a + post, "rrn"),
      ),
      { numRuns: 500 },
    );
  });

  it("finds an unseparated RRN when its check digit is valid", () => {
    fc.assert(
      fc.property(
        birth.chain(({ yymmdd, g }) => serial.map((s) => `${yymmdd}${g}${s.slice(0, 5)}`)).chain((body) => {
          const weights = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5];
          const check = (11 - (weights.reduce((sum, w, i) => sum + w * Number(body[i]), 0) % 11)) % 10;
          return styled(`${body}${check}`);
        }),
        boundary,
        after,
        (value, b, a) => {
          expect(rrnChecksumValid(foldForDetection(value).text)).toBe(true);
          expectMaskedExactly(`참고${b}`, value, a, "rrn");
        },
      ),
      { numRuns: 300 },
    );
  });

  it("finds Korean mobile and landline numbers with any separators, in any written form", () => {
    const prefix = fc.constantFrom("010", "011", "016", "017", "018", "019", "02", "031", "042", "051", "064", "070");
    const number = fc
      .tuple(prefix, fc.stringMatching(/^\d{3,4}$/), fc.stringMatching(/^\d{4}$/), fc.constantFrom(...SEPARATORS), fc.constantFrom(...SEPARATORS))
      .chain(([p, mid, last, s1, s2]) => fc.tuple(styled(p), styled(mid), styled(last)).map(([x, y, z]) => `${x}${s1}${y}${s2}${z}`));
    fc.assert(
      fc.property(number, around, boundary, after, around, (value, pre, b, a, post) => expectMaskedExactly(pre + b, value, a + post, "phone")),
      { numRuns: 500 },
    );
  });

  it("finds card numbers that pass Luhn in groups of four with one separator, in any written form", () => {
    const card = fc
      .tuple(fc.constantFrom("4", "5", "3", "6"), fc.stringMatching(/^\d{14}$/), fc.constantFrom(" ", ".", "-", "_", "\u2010", "\u3000", "\uFF0E"))
      .chain(([first, body, sep]) => {
        const partial = first + body;
        const check = [...Array(10).keys()].find((d) => luhnValid(partial + d))!;
        const digits = partial + check;
        return styled(digits).map((s) => {
          const chars = [...s];
          return [0, 4, 8, 12].map((i) => chars.slice(i, i + 4).join("")).join(sep);
        });
      });
    fc.assert(
      fc.property(card, around, boundary, after, around, (value, pre, b, a, post) => expectMaskedExactly(pre + b, value, a + post, "card")),
      { numRuns: 300 },
    );
  });

  it("does not take dates, versions, amounts or ISBNs for personal data", () => {
    for (const text of [
      "2024-05-01",
      "1985.03.15 출생",
      "850315",
      "발행일 2024년 5월 1일",
      "version 2.0.1, v3.14.159",
      "1,234,567원",
      "12,345,678,901원",
      "₩ 1 234 567",
      "ISBN 978-89-6626-123-4",
      "ISBN 979-11-5839-123-0",
      "ISBN 9788966261234",
      "전화 1588-1234",
      "2024-05-01 12:30:45",
      "3.850315.2345678",
      "0.40580938,0.022146275,-0.0513", // fractions in a CSV, not Seoul numbers
      'data-ad-client="ca-pub-4513545675701847"', // an ID that happens to pass Luhn
    ]) {
      expect(found(text), text).toEqual([]);
    }
    const amount = fc.integer({ min: 1000, max: 99_999_999_999 }).map((n) => `${n.toLocaleString("en-US")}원`);
    const isoDate = fc.date({ min: new Date("1900-01-01T00:00:00Z"), max: new Date("2099-12-31T00:00:00Z"), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
    fc.assert(
      fc.property(fc.array(fc.oneof(amount, isoDate, fc.constantFrom(" ", ", ", " ~ ", "부터 ")), { maxLength: 6 }), (parts) => {
        const text = parts.join("");
        expect(found(text), text).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});
