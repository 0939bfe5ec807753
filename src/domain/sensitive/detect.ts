/**
 * Personal data in text: Korean resident registration numbers (주민등록번호), phone numbers,
 * e-mail addresses, payment card numbers and bank account numbers. Pure and deterministic:
 * the same text always yields the same spans, so what ingestion records and what output
 * masking hides agree.
 *
 * Detection reads a folded copy of the text (fold.ts: NFKC per code point, every dash and minus
 * sign as "-", odd spaces as " "), so "８５０３１５－２３４５６７８" and "010‐1234‐5678" are found
 * like their ASCII forms; spans are mapped back to offsets of the original text.
 *
 * Design choices (false positives cost a masked number; false negatives leak one):
 * - RRN (YYMMDD-GNNNNNN): the date must be a real calendar date and the 7th digit 1-8 (Koreans
 *   1-4; 5-8 are foreign residents' registration numbers, 외국인등록번호, same layout). Numbers
 *   issued since October 2020 have random trailing digits and no valid check digit, so a
 *   *separated* RRN (hyphen or any dash, dot, underscore, space) is detected on the date and
 *   the 7th digit alone. An unseparated 13-digit run needs the check digit or a context word
 *   (주민, 등록번호, RRN, resident) nearby. Partially masked forms ("900101-1******") are detected
 *   too: they still reveal birth date and sex.
 * - Phone: Korean mobile (010/011/016-019), Seoul/area codes and 070 landlines, unseparated or
 *   with any of the separators above between groups, "(02) 123-4567", and international numbers
 *   written with "+".
 * - E-mail: the usual local@domain.tld shape.
 * - Card: 13-19 digits passing Luhn, starting with 2-6 or 9, unseparated or in the usual groups
 *   (4-4-4-4(-3), 4-6-5, 4-6-4) with one separator (space, dot, dash, underscore) throughout.
 * - Bank account: Korean banks have no common format or check digit, so a digit run of 10-14
 *   digits (optionally in 2-4 hyphenated groups) counts only next to a context word
 *   (계좌, 입금, 송금, 이체, 예금주, a bank name, "account", "acct", "bank").
 * Overlapping detections merge into one span named by kind priority: rrn > card > email > phone > account.
 */
import { foldForDetection } from "./fold.ts";

/**
 * The detector's version. Raise it with every change to what is detected: the full-text index
 * holds the detector's output (values are blanked out and indexed as keys), so documents
 * indexed by an older version are re-indexed (services/jobs/jobs-service.ts, reindexDocumentsOfOlderDetector).
 * 1: ASCII digits only, RRNs separated by a hyphen or en dash only. 2: NFKC folding; any dash,
 * dot, underscore or space separates RRN and phone groups; dotted card groups.
 */
export const SENSITIVE_DETECTOR_VERSION = 2;

export type SensitiveKind = "rrn" | "card" | "phone" | "account" | "email";
export const SENSITIVE_KINDS: readonly SensitiveKind[] = ["rrn", "card", "phone", "account", "email"];

export interface SensitiveSpan {
  kind: SensitiveKind;
  /** UTF-16 offsets into the text, end exclusive. */
  start: number;
  end: number;
}

const PRIORITY: Record<SensitiveKind, number> = { rrn: 0, card: 1, email: 2, phone: 3, account: 4 };

const RRN_CONTEXT = /주민|등록\s*번호|RRN|resident\s*(?:registration|no|number)/i;
const ACCOUNT_CONTEXT =
  /계좌|입금|송금|이체|예금주|은행|뱅크|농협|신협|수협|우체국|새마을금고|국민|신한|우리|하나|기업|카카오|토스|케이뱅크|SC제일|씨티|account|acct|a\/c|bank|deposit/i;

export function validDate(yy: number, mm: number, dd: number, centuryDigit: number): boolean {
  const century = centuryDigit === 1 || centuryDigit === 2 || centuryDigit === 5 || centuryDigit === 6 ? 1900 : 2000;
  const year = century + yy;
  if (mm < 1 || mm > 12 || dd < 1) return false;
  const days = new Date(Date.UTC(year, mm, 0)).getUTCDate();
  return dd <= days;
}

/** The RRN check digit rule (valid for numbers issued before October 2020). */
export function rrnChecksumValid(digits: string): boolean {
  if (!/^\d{13}$/.test(digits)) return false;
  const weights = [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5];
  const sum = weights.reduce((s, w, i) => s + w * Number(digits[i]), 0);
  return (11 - (sum % 11)) % 10 === Number(digits[12]);
}

export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

const near = (text: string, start: number, end: number, re: RegExp, before = 30, after = 15) =>
  re.test(text.slice(Math.max(0, start - before), start)) || re.test(text.slice(end, end + after));

interface Candidate extends SensitiveSpan {
  priority: number;
}

function* matches(re: RegExp, text: string): Generator<RegExpExecArray> {
  re.lastIndex = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    yield m;
    if (m[0].length === 0) re.lastIndex++;
  }
}

// On the folded text. Boundaries: not inside a longer run of digits, nor glued to one by a
// separator ("0.022146275" is a fraction, "3.850315.2345678" some other number), nor inside a
// word (for e-mail). RRNs and cards also not after a dash ("ca-pub-4513545675701847" is an ID).
const START = String.raw`(?<!\d)(?<!\d[-._])`;
const START_NO_DASH = String.raw`(?<![\d-])(?<!\d[._])`;
const END = String.raw`(?!\d)(?![-._]\d)`;
/** Between the groups of an RRN or a phone number: a dash, dot or underscore (spaces around it allowed), or spaces. */
const SEP = String.raw`(?:[ \t]{0,2}[-._][ \t]{0,2}|[ \t]{1,2})`;
const re = (source: string) => new RegExp(source, "g");
const RRN = re(String.raw`${START_NO_DASH}(\d{2})(\d{2})(\d{2})(?:(${SEP})|)([1-8])(\d{6}|[*xX●•]{6})(?![\d*])(?![-._]\d)`);
const MOBILE = re(String.raw`(?<!\+)${START}01[016789](?:${SEP}\d{3,4}${SEP}\d{4}|\d{7,8})${END}`);
const LANDLINE = re(String.raw`(?<!\+)${START}(?:02|0[3-6][1-5]|070)(?:${SEP}\d{3,4}${SEP}\d{4}|\d{7,8})${END}`);
const LANDLINE_PAREN = re(String.raw`\(0(?:2|[3-6][1-5]|70)\)[ \t]?\d{3,4}${SEP}\d{4}${END}`);
const INTERNATIONAL = /(?<![+])\+\d{1,3}(?:[\s.-]?\(?\d{1,4}\)?){2,5}(?!\d)/g;
const EMAIL = /(?<![\w.%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}(?![\w-])/g;
const CARD = re(String.raw`${START_NO_DASH}(?:\d{4}([ ._-])\d{4}\1\d{4}\1\d{4}(?:\1\d{3})?|\d{4}([ ._-])\d{6}\2\d{4,5}|\d{13,19})${END}`);
const ACCOUNT = /(?<![\d-])(?:\d{2,6}(?:-\d{2,7}){1,3}|\d{10,14})(?![\d-])/g;

export function detectSensitive(original: string): SensitiveSpan[] {
  const folded = foldForDetection(original);
  const text = folded.text;
  const found: Candidate[] = [];
  const add = (kind: SensitiveKind, start: number, end: number) => found.push({ kind, start, end, priority: PRIORITY[kind] });

  for (const m of matches(RRN, text)) {
    const [yy, mm, dd, sep, g, rest] = [Number(m[1]), Number(m[2]), Number(m[3]), m[4], Number(m[5]), m[6]!];
    if (!validDate(yy, mm, dd, g)) continue;
    const digits = `${m[1]}${m[2]}${m[3]}${m[5]}${rest}`;
    const maskedTail = !/^\d{6}$/.test(rest);
    const ok = sep !== undefined ? true : maskedTail ? false : rrnChecksumValid(digits) || near(text, m.index, m.index + m[0].length, RRN_CONTEXT);
    if (ok) add("rrn", m.index, m.index + m[0].length);
  }
  for (const re of [MOBILE, LANDLINE, LANDLINE_PAREN]) for (const m of matches(re, text)) add("phone", m.index, m.index + m[0].length);
  for (const m of matches(INTERNATIONAL, text)) {
    const digits = m[0].replace(/\D/g, "");
    if (digits.length >= 8 && digits.length <= 15) add("phone", m.index, m.index + m[0].length);
  }
  for (const m of matches(EMAIL, text)) add("email", m.index, m.index + m[0].length);
  for (const m of matches(CARD, text)) {
    const digits = m[0].replace(/\D/g, "");
    if (digits.length >= 13 && digits.length <= 19 && /^[2-69]/.test(digits) && luhnValid(digits)) add("card", m.index, m.index + m[0].length);
  }
  for (const m of matches(ACCOUNT, text)) {
    const digits = m[0].replace(/\D/g, "");
    if (digits.length < 10 || digits.length > 14) continue;
    if (near(text, m.index, m.index + m[0].length, ACCOUNT_CONTEXT)) add("account", m.index, m.index + m[0].length);
  }

  // Overlapping candidates merge into one span (so masking hides everything any detector saw),
  // labelled with the highest-priority kind among them.
  found.sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: Candidate[] = [];
  for (const c of found) {
    const last = merged.at(-1);
    if (last && c.start < last.end) {
      last.end = Math.max(last.end, c.end);
      if (c.priority < last.priority) {
        last.kind = c.kind;
        last.priority = c.priority;
      }
    } else merged.push({ ...c });
  }
  return merged.map(({ kind, start, end }) => ({ kind, ...folded.toOriginal(start, end) }));
}

export function countByKind(spans: readonly SensitiveSpan[]): Partial<Record<SensitiveKind, number>> {
  const out: Partial<Record<SensitiveKind, number>> = {};
  for (const s of spans) out[s.kind] = (out[s.kind] ?? 0) + 1;
  return out;
}
