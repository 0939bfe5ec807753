import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { detectSensitive, luhnValid, rrnChecksumValid } from "./detect.ts";
import { maskSensitive } from "./mask.ts";

const kinds = (text: string) => detectSensitive(text).map((s) => `${s.kind}:${text.slice(s.start, s.end)}`);

/** A valid pre-2020 RRN for a birth date (check digit computed). */
function rrn(date: string, g: number, serial = "23456"): string {
  const body = `${date}${g}${serial}`;
  const weights = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5];
  const sum = weights.reduce((s, w, i) => s + w * Number(body[i]), 0);
  return `${body}${(11 - (sum % 11)) % 10}`;
}

describe("sensitive data detection", () => {
  it("finds resident registration numbers, with or without check digit when hyphenated", () => {
    const valid = rrn("900101", 1);
    expect(rrnChecksumValid(valid)).toBe(true);
    expect(kinds(`주민등록번호: ${valid.slice(0, 6)}-${valid.slice(6)}`)).toEqual([`rrn:${valid.slice(0, 6)}-${valid.slice(6)}`]);
    // Issued after October 2020: random trailing digits, no valid check digit, still detected.
    const post2020 = `210315-4${valid.slice(8, 13) === "00000" ? "11111" : "918273"}`;
    expect(kinds(`신생아 ${post2020}`)).toEqual([`rrn:${post2020}`]);
    // Unhyphenated: needs the check digit or a context word.
    expect(kinds(`no. ${valid}`)).toEqual([`rrn:${valid}`]);
    const bad = `${valid.slice(0, 12)}${(Number(valid[12]) + 1) % 10}`;
    expect(kinds(`order ${bad}`)).toEqual([]);
    expect(kinds(`주민번호 ${bad}`)).toEqual([`rrn:${bad}`]);
    // Foreign residents (5-8), partial masks, invalid dates.
    expect(kinds("외국인 850230-5123456")).toEqual([]); // 30 February
    expect(kinds("외국인 850228-5123456")).toEqual(["rrn:850228-5123456"]);
    expect(kinds("900101-1******")).toEqual(["rrn:900101-1******"]);
    expect(kinds("2024-05-01 and 900101-9123456")).toEqual([]);
  });

  it("finds Korean and international phone numbers", () => {
    expect(kinds("연락처 010-1234-5678 또는 01098765432")).toEqual(["phone:010-1234-5678", "phone:01098765432"]);
    expect(kinds("본사 02-123-4567, 지사 031-1234-5678, (051) 123-4567, 인터넷 070-1234-5678")).toEqual([
      "phone:02-123-4567",
      "phone:031-1234-5678",
      "phone:(051) 123-4567",
      "phone:070-1234-5678",
    ]);
    expect(kinds("Call +82 10-1234-5678 or +1 (415) 555-0100")).toEqual(["phone:+82 10-1234-5678", "phone:+1 (415) 555-0100"]);
    expect(kinds("version 2.0.1, 2024-05-01, 1588-1234, 3.14159")).toEqual([]);
  });

  it("finds e-mail addresses", () => {
    expect(kinds("메일: kim.cs+kb@example.co.kr 로 보내세요")).toEqual(["email:kim.cs+kb@example.co.kr"]);
    expect(kinds("not@an-email and a@b")).toEqual([]);
  });

  it("finds card numbers that pass Luhn", () => {
    expect(luhnValid("4111111111111111")).toBe(true);
    expect(kinds("카드 4111 1111 1111 1111, 4111-1111-1111-1112, 378282246310005, 3782-822463-10005")).toEqual([
      "card:4111 1111 1111 1111",
      "card:378282246310005",
      "card:3782-822463-10005",
    ]);
  });

  it("finds bank account numbers only next to a context word", () => {
    expect(kinds("신한은행 110-123-456789 (예금주 홍길동)")).toEqual(["account:110-123-456789"]);
    expect(kinds("입금 계좌: 3333-01-1234567")).toEqual(["account:3333-01-1234567"]);
    expect(kinds("Account no. 123456-12-123456")).toEqual(["account:123456-12-123456"]);
    expect(kinds("주문번호 110-123-456789")).toEqual([]);
    expect(kinds("ISBN 978-89-6626-123-4")).toEqual([]);
  });

  it("masks every detected value and nothing else", () => {
    const text = "홍길동(900101-1234568) 010-1234-5678 hong@example.com 계좌 110-123-456789 카드 4111111111111111.";
    expect(maskSensitive(text)).toBe("홍길동([REDACTED:rrn]) [REDACTED:phone] [REDACTED:email] 계좌 [REDACTED:account] 카드 [REDACTED:card].");
    expect(maskSensitive("연차는 15일입니다.")).toBe("연차는 15일입니다.");
  });

  it("is idempotent and leaves no detectable value behind", () => {
    const piece = fc.oneof(
      fc.constantFrom("010-2345-6789", "02-987-6543", "a.b@corp.kr", "4111 1111 1111 1111", "계좌 110-123-456789", "900101-1234568", "+82 10 9876 5432"),
      fc.string({ maxLength: 12 }),
      fc.constantFrom(" ", "\n", "연락처: ", "(", ")", ", "),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), (parts) => {
        const masked = maskSensitive(parts.join(""));
        expect(detectSensitive(masked)).toEqual([]);
        expect(maskSensitive(masked)).toBe(masked);
      }),
      { numRuns: 300 },
    );
  });
});
