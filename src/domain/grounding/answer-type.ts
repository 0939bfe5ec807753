/**
 * What kind of answer a question asks for, and whether a sentence holds one, for the extractive
 * answerer (no language model). A question names what it wants with a question word ("언제",
 * "몇 명", "who", "how many"); the sentence that answers it holds a value of that kind that the
 * question itself does not: a date, a number, a name, a place. Sentences that only repeat the
 * question's words ("1999년에 올림픽 개최지 선정 방식에 큰 변화가 일어났다." for "1999년 … 변화를
 * 가져다준 사건은?") are what the term-overlap score alone picks too often.
 *
 * Cues are deliberately coarse (patterns, no tagger): a wrong type only loses the bonus.
 */
import type { Lang } from "../analysis/index.ts";

export type AnswerType = "date" | "number" | "person" | "place" | "other";

const KO_DATE = /언제|몇\s*(년|월|일|세기|년도|시)|연도|년도|(해|날|날짜|시기|시점|때)(는|에|가|은|였|이었)|년(은|에)\s*\??$|세기(는|에)/;
const KO_NUMBER = /몇|며칠|얼마|(수|수량|개수|횟수|점수|인구|규모|비율|금액|가격|나이|높이|길이|거리|면적|무게|속도|득표|판매량|인원)(는|은|가|이)?\s*(몇|얼마|\?|$)/;
const KO_PERSON = /누구|누가|누군|(인물|사람|선수|감독|작가|저자|작곡가|가수|배우|왕|황제|대통령|총리|장군|회장|교수|주인공)(은|는|이|가)?\s*(누구|\?|$)/;
const KO_PLACE = /어디|(장소|곳|나라|국가|도시|지역|위치|지명|섬|산|강)(은|는|이|가)?\s*(어디|\?|$)/;

const EN_DATE = /\bwhen\b|\bwhat (year|date|day|month|century|decade|time period|era)\b|\bwhich (year|date|day|month|century|decade)\b|\bin what year\b/i;
const EN_NUMBER = /\bhow (many|much|long|old|far|large|big|tall|high|often|fast|deep|wide|heavy)\b|\bwhat (percentage|percent|proportion|number|amount|fraction|size|population)\b/i;
const EN_PERSON = /\bwho(m|se)?\b|\b(what|which) (person|man|woman|king|queen|president|emperor|player|coach|author|writer|artist|composer|scientist)\b/i;
const EN_PLACE = /\bwhere\b|\b(what|which) (country|city|state|town|place|region|continent|island|river|mountain|location|area|county|nation)\b/i;

/** The answer type a question asks for ("other" when no cue is clear). */
export function expectedAnswerType(question: string, lang: Lang): AnswerType {
  const q = question.trim();
  if (lang === "ko") {
    if (KO_DATE.test(q)) return "date";
    if (KO_PERSON.test(q)) return "person";
    if (KO_PLACE.test(q)) return "place";
    if (KO_NUMBER.test(q)) return "number";
    return "other";
  }
  if (EN_DATE.test(q)) return "date";
  if (EN_NUMBER.test(q)) return "number";
  if (EN_PERSON.test(q)) return "person";
  if (EN_PLACE.test(q)) return "place";
  return "other";
}

const MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december";
const DATE_VALUES = new RegExp(`\\d{1,4}\\s*(년대|년|월|일|세기)|\\b(1\\d{3}|20\\d{2})s?\\b|\\b(${MONTHS})\\b|\\b\\d{1,2}(st|nd|rd|th) century\\b`, "gi");
const NUMBER_VALUES = /\d[\d,.]*\s*(%|퍼센트|만|억|천|백)?|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion)\b|(한|두|세|네|다섯|여섯|일곱|여덟|아홉|열|수십|수백|수천|수만)\s?(명|개|장|권|번|차례|가지|곳|살|척|대)/gi;
// A name in English: capitalised words that do not start the sentence. In Korean, a name with its
// hanja or original spelling in brackets ("남택하(南宅夏)", "피젤러 슈토르히(Fieseler Storch)") or a title after it.
const EN_NAME_VALUES = /(?<=\S\s+)(?:[A-Z][\p{L}'’-]+)(?:\s+(?:(?:de|van|von|der|of|the|la|le)\s+)?[A-Z][\p{L}'’-]+)*/gu;
const KO_NAME_VALUES = /[가-힣]{2,}\s?\([\p{Script=Han}A-Za-z][^)]*\)|[가-힣]{2,4}\s?(씨|왕|황제|장군|대통령|총리|감독|선수|교수|박사|회장|작가|신부|목사|대사)/gu;
const KO_PLACE_VALUES = /[가-힣]{1,}(특별시|광역시|시|도|군|구|읍|면|리|동|국|주|섬|도시|항|만|강|산|해|역)(?=[에의으로를은는이가와과도\s,.)]|$)/g;

/** Values of `type` in `text` (as written), lower-cased for comparison. */
function valuesOf(text: string, type: AnswerType, lang: Lang): string[] {
  const found = (re: RegExp) => [...text.matchAll(re)].map((m) => m[0].trim().toLowerCase()).filter(Boolean);
  switch (type) {
    case "date":
      return found(DATE_VALUES);
    case "number":
      return found(NUMBER_VALUES);
    case "person":
      return lang === "ko" ? found(KO_NAME_VALUES) : found(EN_NAME_VALUES);
    case "place":
      return lang === "ko" ? found(KO_PLACE_VALUES) : found(EN_NAME_VALUES);
    case "other":
      return [];
  }
}

/**
 * True when `sentence` holds a value of the asked-for type that the question does not already
 * contain ("1999년에 … 변화가 일어났다" holds 1999년, but so does the question).
 */
export function holdsAnswerOfType(sentence: string, question: string, type: AnswerType, lang: Lang): boolean {
  if (type === "other") return false;
  const asked = new Set(valuesOf(question, type, lang));
  const q = question.toLowerCase();
  return valuesOf(sentence, type, lang).some((v) => !asked.has(v) && !q.includes(v));
}
