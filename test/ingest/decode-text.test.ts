import { readdirSync, readFileSync } from "node:fs";
import iconv from "iconv-lite";
import { describe, expect, it } from "vitest";
import { decodeText, detectBom, isValidUtf8, looksBinary, normalizeEncodingName, sniffUtf16WithoutBom } from "../../ingest/decode-text.ts";
import { haveShared, pseudoRandomBytes, sharedPath } from "./fixtures.ts";

const KO = "휴가 규정\n연차는 입사 1년 후 15일이 주어집니다. 똠방각하와 햏자는 CP949 확장 음절입니다.\n";
const enc = (s: string, e: string, addBOM = false) => new Uint8Array(iconv.encode(s, e, { addBOM }));

describe("decodeText", () => {
  it("decodes UTF-8 and strips a UTF-8 BOM", () => {
    expect(decodeText(enc(KO, "utf8"))).toMatchObject({ text: KO, encoding: "utf-8", bom: false });
    expect(decodeText(enc(KO, "utf8", true))).toMatchObject({ text: KO, encoding: "utf-8", bom: true });
  });

  it.each(["utf-16le", "utf-16be", "utf-32le", "utf-32be"])("decodes %s with a BOM", (e) => {
    const r = decodeText(enc(KO, e, true));
    expect(r.text).toBe(KO);
    expect(r.bom).toBe(true);
    expect(r.encoding).toBe(e);
  });

  it.each(["utf-16le", "utf-16be"])("recognises ASCII-heavy %s without a BOM", (e) => {
    const text = "This is a plain English text file.\nIt has a few lines and no byte-order mark.\n";
    const bytes = enc(text, e);
    expect(sniffUtf16WithoutBom(bytes)).toBe(e);
    expect(decodeText(bytes).text).toBe(text);
  });

  it("decodes CP949 and EUC-KR bytes to the same string as UTF-8", () => {
    const cp949 = decodeText(enc(KO, "cp949"));
    expect(cp949.text).toBe(KO);
    expect(cp949.encoding).toBe("cp949");
    // EUC-KR cannot encode the CP949-only syllables: use text inside KS X 1001.
    const plain = "연차 휴가는 근로기준법에 따라 부여됩니다. 사용하지 않은 연차는 수당으로 지급합니다.";
    expect(decodeText(enc(plain, "euc-kr")).text).toBe(plain);
    expect(decodeText(enc(plain, "euc-kr")).text).toBe(decodeText(enc(plain, "utf8")).text);
  });

  it("decodes short Korean legacy text that chardet might call Big5/GB18030", () => {
    for (const s of ["안녕하세요", "가나다", "한국어 문서"]) expect(decodeText(enc(s, "cp949")).text).toBe(s);
  });

  it("decodes Western legacy text (windows-1252 / latin1)", () => {
    const text = "Die schöne Frau hat einen Kaffee gegessen. Le café était très chaud. Preis: 15,50 €.";
    expect(decodeText(enc(text, "windows-1252")).text).toBe(text);
  });

  it("honours a declared charset only when it decodes cleanly", () => {
    const bytes = enc(KO, "cp949");
    expect(decodeText(bytes, { declaredEncoding: "euc-kr" })).toMatchObject({ text: KO, encoding: "cp949" });
    // declared UTF-8 but actually CP949: detection wins
    expect(decodeText(bytes, { declaredEncoding: "utf-8" }).text).toBe(KO);
    // declared garbage label: ignored
    expect(decodeText(enc("plain", "utf8"), { declaredEncoding: "x-no-such-charset" }).text).toBe("plain");
  });

  it("never throws on arbitrary bytes", () => {
    for (let seed = 1; seed < 20; seed++) {
      const r = decodeText(pseudoRandomBytes(257, seed));
      expect(typeof r.text).toBe("string");
    }
    expect(decodeText(new Uint8Array()).text).toBe("");
  });
});

describe("encoding helpers", () => {
  it("maps charset labels", () => {
    expect(normalizeEncodingName("EUC-KR")).toBe("cp949");
    expect(normalizeEncodingName("ks_c_5601-1987")).toBe("cp949");
    expect(normalizeEncodingName("ISO-8859-1")).toBe("windows-1252");
    expect(normalizeEncodingName("UTF8")).toBe("utf-8");
    expect(normalizeEncodingName("nonsense-enc")).toBeUndefined();
    expect(normalizeEncodingName(undefined)).toBeUndefined();
  });

  it("detects BOMs, checking UTF-32 LE before UTF-16 LE", () => {
    expect(detectBom(new Uint8Array([0xff, 0xfe, 0, 0, 0x41, 0, 0, 0]))?.encoding).toBe("utf-32le");
    expect(detectBom(new Uint8Array([0xff, 0xfe, 0x41, 0]))?.encoding).toBe("utf-16le");
    expect(detectBom(new Uint8Array([0x41]))).toBeUndefined();
  });

  it("validates UTF-8, tolerating a sequence cut at the end of a sample", () => {
    const b = enc("한글", "utf8");
    expect(isValidUtf8(b)).toBe(true);
    expect(isValidUtf8(b.subarray(0, 4))).toBe(true);
    expect(isValidUtf8(enc("한글", "cp949"))).toBe(false);
  });

  it("tells binary from text", () => {
    expect(looksBinary(pseudoRandomBytes(4096))).toBe(true);
    expect(looksBinary(enc(KO, "utf8"))).toBe(false);
    expect(looksBinary(enc(KO, "cp949"))).toBe(false);
    expect(looksBinary(enc(KO, "utf-16le", true))).toBe(false);
    expect(looksBinary(new Uint8Array([0x41, 0x42, 0x00, 0x43]))).toBe(true);
    // 16-bit PCM-like data (small samples → many zero high bytes) is not UTF-16 text
    const pcm = new Uint8Array(2048).map((_v, i) => (i % 2 === 0 ? (i * 7) % 5 : 0));
    expect(sniffUtf16WithoutBom(pcm)).toBeUndefined();
    expect(looksBinary(pcm)).toBe(true);
  });
});

const KOREAN_DIR = sharedPath("multiformat_korean");
describe.skipIf(!haveShared(KOREAN_DIR, "Korean encoding samples"))("shared data: multiformat_korean encodings", () => {
  it("appendix-keywords in UTF-8, CP949 and EUC-KR decode to identical strings", () => {
    const utf8 = decodeText(new Uint8Array(readFileSync(`${KOREAN_DIR}/appendix-keywords-utf8.txt`)));
    const cp949 = decodeText(new Uint8Array(readFileSync(`${KOREAN_DIR}/appendix-keywords-CP949.txt`)));
    const euckr = decodeText(new Uint8Array(readFileSync(`${KOREAN_DIR}/appendix-keywords-EUCKR.txt`)));
    expect(utf8.encoding).toBe("utf-8");
    expect(cp949.encoding).toBe("cp949");
    expect(euckr.encoding).toBe("cp949");
    expect(cp949.text.replace(/\r\n/g, "\n")).toBe(utf8.text.replace(/\r\n/g, "\n"));
    expect(euckr.text).toBe(cp949.text);
    expect(utf8.text).toContain("의미론적 검색");
  });
});

const UNSTRUCTURED = sharedPath("multiformat_unstructured");
const HAVE_UNSTRUCTURED = haveShared(UNSTRUCTURED, "UTF-16/32 text samples");
describe.skipIf(!HAVE_UNSTRUCTURED)("shared data: fake-text-utf-16*.txt", () => {
  // (describe bodies run even when skipped: read files only when present)
  const files = HAVE_UNSTRUCTURED ? readdirSync(UNSTRUCTURED).filter((f) => /^fake-text-utf-(16|32).*\.txt$/.test(f)) : [];
  it("finds the samples", () => expect(files.length).toBeGreaterThanOrEqual(3));
  it.each(files)("%s decodes to the same text as fake-text.txt", (f) => {
    const reference = decodeText(new Uint8Array(readFileSync(`${UNSTRUCTURED}/fake-text.txt`))).text;
    const r = decodeText(new Uint8Array(readFileSync(`${UNSTRUCTURED}/${f}`)));
    // the samples differ in indentation only
    const words = (s: string) => s.split(/\s+/).filter(Boolean).join(" ");
    expect(words(r.text)).toBe(words(reference));
    expect(looksBinary(new Uint8Array(readFileSync(`${UNSTRUCTURED}/${f}`)))).toBe(false);
  });
  it("umlauts-non-utf8.md (latin1) decodes like umlauts-utf8.md", () => {
    const a = decodeText(new Uint8Array(readFileSync(`${UNSTRUCTURED}/umlauts-non-utf8.md`))).text;
    const b = decodeText(new Uint8Array(readFileSync(`${UNSTRUCTURED}/umlauts-utf8.md`))).text;
    expect(a).toContain("können");
    expect(b).toContain("können");
  });
});
