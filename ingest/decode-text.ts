/**
 * Bytes → string with encoding detection, for text-like inputs (.txt, .md, .html, .csv, .eml).
 *
 * Order of evidence:
 *   1. a byte-order mark (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE) always wins;
 *   2. UTF-16 without a BOM, recognised by its pattern of zero bytes (ASCII-heavy text);
 *   3. a declared charset (HTML <meta charset>) when the bytes decode cleanly with it;
 *   4. strictly valid UTF-8;
 *   5. CP949 when it decodes cleanly and the non-ASCII text is mostly Hangul
 *      (EUC-KR is decoded as CP949, its superset, so the two give identical strings);
 *   6. chardet's candidates in order of confidence, first one that decodes without
 *      replacement characters; windows-1252 as the last resort (it never fails).
 *
 * The returned text never contains a BOM.
 */
import chardet from "chardet";
import iconv from "iconv-lite";

export interface DecodedText {
  text: string;
  /** iconv-lite encoding name actually used, e.g. "utf-8", "cp949", "utf-16le", "windows-1252". */
  encoding: string;
  /** True when the encoding came from a byte-order mark. */
  bom: boolean;
}

export interface DecodeOptions {
  /** Charset declared by the container (HTML meta, MIME header). Used only if it decodes cleanly. */
  declaredEncoding?: string;
}

const REPLACEMENT = "\uFFFD";

/** Map a charset label (HTML, MIME, chardet) to an iconv-lite encoding name; undefined if unknown. */
export function normalizeEncodingName(label: string | undefined | null): string | undefined {
  if (!label) return undefined;
  const l = label.trim().toLowerCase().replace(/^["']|["']$/g, "");
  if (!l) return undefined;
  if (l === "utf8" || l === "utf-8" || l === "unicode-1-1-utf-8" || l === "ascii" || l === "us-ascii") return "utf-8";
  // EUC-KR, KS C 5601 and friends: decode with CP949 (Unified Hangul Code), a strict superset.
  if (/^(euc-?kr|cp949|ms949|uhc|windows-949|x-windows-949|ks_c_5601-1987|ks_c_5601-1989|ksc5601|ksc_5601|korean|csksc56011987|iso-ir-149|csEUCKR)$/i.test(l)) {
    return "cp949";
  }
  // WHATWG: latin1 / ISO-8859-1 / ascii labels decode as windows-1252.
  if (l === "iso-8859-1" || l === "latin1" || l === "l1" || l === "iso8859-1" || l === "iso_8859-1") return "windows-1252";
  if (l === "utf-16") return "utf-16le";
  if (l === "utf-32") return "utf-32le";
  if (l === "shift_jis" || l === "sjis" || l === "x-sjis") return "shift_jis";
  if (l === "iso-8859-8-i") return "iso-8859-8";
  return iconv.encodingExists(l) ? l : undefined;
}

export interface Bom {
  encoding: string;
  length: number;
}

/** Detect a byte-order mark. UTF-32 LE is checked before UTF-16 LE (its BOM starts the same). */
export function detectBom(bytes: Uint8Array): Bom | undefined {
  const [a, b, c, d] = [bytes[0], bytes[1], bytes[2], bytes[3]];
  if (a === 0xef && b === 0xbb && c === 0xbf) return { encoding: "utf-8", length: 3 };
  if (a === 0xff && b === 0xfe && c === 0x00 && d === 0x00) return { encoding: "utf-32le", length: 4 };
  if (a === 0x00 && b === 0x00 && c === 0xfe && d === 0xff) return { encoding: "utf-32be", length: 4 };
  if (a === 0xff && b === 0xfe) return { encoding: "utf-16le", length: 2 };
  if (a === 0xfe && b === 0xff) return { encoding: "utf-16be", length: 2 };
  return undefined;
}

/**
 * UTF-16 without a BOM: in ASCII-heavy text every other byte is zero.
 * Returns "utf-16le" / "utf-16be" or undefined.
 */
export function sniffUtf16WithoutBom(bytes: Uint8Array): string | undefined {
  const n = Math.min(bytes.length, 8192) & ~1;
  if (n < 8) return undefined;
  let zeroEven = 0;
  let zeroOdd = 0;
  for (let i = 0; i < n; i += 2) {
    if (bytes[i] === 0) zeroEven++;
    if (bytes[i + 1] === 0) zeroOdd++;
  }
  const pairs = n / 2;
  let guess: string | undefined;
  if (zeroOdd / pairs > 0.7 && zeroEven / pairs < 0.05) guess = "utf-16le";
  else if (zeroEven / pairs > 0.7 && zeroOdd / pairs < 0.05) guess = "utf-16be";
  if (!guess) return undefined;
  // Confirm: real text decodes to (almost) no control characters; 16-bit audio samples do not.
  return controlShare(decodeWith(bytes.subarray(0, n), guess)) <= 0.01 ? guess : undefined;
}

/** Share of characters that are C0/C1 controls (other than tab, LF, CR, FF, ESC), NUL or U+FFFD. */
export function controlShare(text: string): number {
  if (text.length === 0) return 0;
  const bad = text.match(/[\u0000-\u0008\u000b\u000e-\u001a\u001c-\u001f\u007f-\u009f\ufffd]/g)?.length ?? 0;
  return bad / text.length;
}

const utf8Fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** True when the bytes are strictly valid UTF-8 (a trailing cut-off sequence counts as valid). */
export function isValidUtf8(bytes: Uint8Array): boolean {
  try {
    utf8Fatal.decode(bytes);
    return true;
  } catch {
    // A sample cut in the middle of a multi-byte sequence: retry without the last 1–3 bytes.
    for (let cut = 1; cut <= 3 && cut < bytes.length; cut++) {
      const last = bytes[bytes.length - cut]!;
      if ((last & 0xc0) === 0xc0) {
        try {
          utf8Fatal.decode(bytes.subarray(0, bytes.length - cut));
          return true;
        } catch {
          return false;
        }
      }
      if ((last & 0xc0) !== 0x80) break;
    }
    return false;
  }
}

function decodeWith(bytes: Uint8Array, encoding: string): string {
  if (encoding === "utf-8") return new TextDecoder("utf-8").decode(bytes);
  return iconv.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), encoding, { stripBOM: true });
}

function countChar(s: string, ch: string): number {
  let n = 0;
  for (let i = s.indexOf(ch); i !== -1; i = s.indexOf(ch, i + 1)) n++;
  return n;
}

/** Share of Hangul syllables among non-ASCII characters (0 when there is no non-ASCII text). */
function hangulShare(s: string): { share: number; nonAscii: number } {
  let nonAscii = 0;
  let hangul = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x80) continue;
    nonAscii++;
    if (cp >= 0xac00 && cp <= 0xd7a3) hangul++;
  }
  return { share: nonAscii ? hangul / nonAscii : 0, nonAscii };
}

/** C1 control characters (U+0080–U+009F) in decoded text are a sign of a wrong single-byte guess. */
function hasC1Controls(s: string): boolean {
  return /[\u0080-\u009f]/.test(s);
}

function stripLeadingBom(s: string): string {
  return s.charCodeAt(0) === 0xfeff ? s.slice(1) : s;
}

/** Decode bytes of a text-like file. Never throws for any input. */
export function decodeText(bytes: Uint8Array, options: DecodeOptions = {}): DecodedText {
  const bom = detectBom(bytes);
  if (bom) {
    return { text: stripLeadingBom(decodeWith(bytes.subarray(bom.length), bom.encoding)), encoding: bom.encoding, bom: true };
  }
  const utf16 = sniffUtf16WithoutBom(bytes);
  if (utf16) return { text: stripLeadingBom(decodeWith(bytes, utf16)), encoding: utf16, bom: false };

  const declared = normalizeEncodingName(options.declaredEncoding);
  if (declared) {
    if (declared === "utf-8") {
      if (isValidUtf8(bytes)) return { text: stripLeadingBom(decodeWith(bytes, "utf-8")), encoding: "utf-8", bom: false };
    } else {
      const t = decodeWith(bytes, declared);
      if (!t.includes(REPLACEMENT) && !hasC1Controls(t)) return { text: stripLeadingBom(t), encoding: declared, bom: false };
    }
  }

  if (isValidUtf8(bytes)) return { text: stripLeadingBom(decodeWith(bytes, "utf-8")), encoding: "utf-8", bom: false };

  // Korean legacy encodings first: chardet often ranks Big5/GB18030 close to EUC-KR on short
  // texts, but a clean CP949 decode that is mostly Hangul is decisive.
  const cp949 = decodeWith(bytes, "cp949");
  if (!cp949.includes(REPLACEMENT)) {
    const { share, nonAscii } = hangulShare(cp949);
    if (nonAscii > 0 && share >= 0.6) return { text: cp949, encoding: "cp949", bom: false };
  }

  let candidates: string[] = [];
  try {
    candidates = chardet
      .analyse(bytes)
      .map((m) => normalizeEncodingName(m.name))
      .filter((e): e is string => e !== undefined);
  } catch {
    candidates = [];
  }
  let first: { text: string; encoding: string } | undefined;
  for (const enc of candidates) {
    if (enc === "utf-8") continue; // already known to be invalid
    let t: string;
    try {
      t = decodeWith(bytes, enc);
    } catch {
      continue;
    }
    first ??= { text: t, encoding: enc };
    if (countChar(t, REPLACEMENT) === 0 && !hasC1Controls(t)) return { text: stripLeadingBom(t), encoding: enc, bom: false };
  }
  const fallback = decodeWith(bytes, "windows-1252");
  if (!hasC1Controls(fallback) || !first) return { text: fallback, encoding: "windows-1252", bom: false };
  return { text: stripLeadingBom(first.text), encoding: first.encoding, bom: false };
}

/**
 * Byte-level binary check for content without a recognised magic number.
 * Text may contain tabs, newlines, form feeds and ESC; NUL bytes (outside UTF-16/32 text)
 * or more than 1% other C0 control bytes mean binary.
 */
export function looksBinary(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 65536);
  if (detectBom(bytes) || sniffUtf16WithoutBom(bytes)) {
    // Wide encodings: judge the decoded text instead of the bytes.
    return controlShare(decodeText(bytes.subarray(0, n & ~3)).text) > 0.01;
  }
  if (n === 0) return false;
  let controls = 0;
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b === 0) return true;
    if ((b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c && b !== 0x1b) || b === 0x7f) controls++;
  }
  if (controls / n > 0.01) return true;
  // Decoded-level check: many replacement characters after the best decode means binary.
  const { text } = decodeText(bytes.subarray(0, n));
  const bad = countChar(text, REPLACEMENT);
  return text.length > 0 && bad / text.length > 0.05;
}
