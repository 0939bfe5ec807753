/**
 * Light Korean morphology without a dictionary: strip common particles (조사), copula forms and
 * verb/adjective endings (어미) from the end of an eojeol (a space-delimited Hangul word), so
 * that "서울에서는", "서울의" and "서울" share the term "서울".
 *
 * Stripping is deliberately conservative:
 * - the longest listed suffix wins;
 * - a one-syllable suffix is removed only when at least two syllables remain (so "사이",
 *   "회의", "정도", "대한" stay whole), except 은/는/을/를/에 ("곳은" → "곳"); the same holds for
 *   a longer suffix that starts with such a syllable ("효과는" → "효과", not 효 + 과는); other
 *   longer suffixes may leave one syllable ("집에서" → "집");
 * - at most two rounds ("학생들에게" → "학생들" → "학생").
 * Mistakes are symmetric (queries are analyzed the same way), and since the stem is indexed as
 * syllable bigrams, a cut one syllable off costs only one bigram.
 */

const PARTICLES = [
  // case particles
  "이", "가", "을", "를", "은", "는", "의", "에", "께", "도", "만", "와", "과", "로", "랑",
  "에서", "에게", "께서", "한테", "으로", "로서", "로써", "이랑", "이나", "이든", "든지", "이며",
  "에게서", "한테서", "으로서", "으로써", "으로부터", "로부터", "에서부터", "에게로",
  "까지", "부터", "보다", "처럼", "마다", "조차", "마저", "밖에", "이라도", "라도", "뿐",
  // particle combinations
  "에는", "에도", "에만", "에서는", "에서도", "에서만", "에서의", "에게는", "에게도", "에게만",
  "으로는", "로는", "으로도", "로도", "으로만", "로만", "으로의", "로의", "와는", "과는", "와도", "과도",
  "와의", "과의", "에의", "까지는", "까지도", "까지의", "부터는", "부터의", "보다는", "보다도",
  "만을", "만이", "만의", "만은", "만큼", "만큼은", "처럼은", "뿐만", "이나마",
  // plural 들 + particle
  "들", "들이", "들은", "들을", "들의", "들에", "들에게", "들과", "들도", "들로", "들이나", "들만",
  "들에서", "들로부터", "들까지", "들처럼", "들보다", "들과의", "들에게는", "들은요",
  // quotation / topic forms
  "이란", "란", "이라는", "라는", "이라고", "라고", "이라", "이라면", "라면", "이라서",
  "이라고도", "라고도", "이라는데", "라는데",
  // copula (이다) forms
  "이다", "였다", "이었다", "입니다", "였습니다", "이었습니다", "이고", "이며", "이자",
  "인데", "인지", "인가", "인가요", "인가를", "인지를", "일까", "일까요", "이지만", "이므로",
  "이었던", "였던", "였으며", "이었으며", "였고", "이었고", "였으나", "이었으나", "임", "이기도",
  "입니까", "이니", "이죠", "이지", "이요", "이에요", "예요", "이었다가", "였다가",
];

const VERB_ENDINGS = [
  // 하다 (Sino-Korean noun + 하다)
  "하다", "한다", "했다", "하였다", "하며", "하고", "하여", "해서", "하는", "한", "할",
  "하기", "하게", "하면", "하지", "했던", "하던", "하였던", "했으며", "하였으며", "했고", "하였고",
  "했으나", "하였으나", "했지만", "하였지만", "했는데", "하였는데", "하는데", "한다고", "했다고",
  "하였다고", "한다는", "했다는", "하였다는", "하자", "하도록", "하기로", "하기도", "하기에",
  "하기위해", "하려고", "하려는", "했을", "하였을", "하므로", "함으로써", "하면서", "하여서",
  "합니다", "했습니다", "하였습니다", "합니까", "했나", "하였나", "하나", "했는가", "하였는가",
  "하는가", "하는지", "했는지", "하였는지", "할까", "했을까", "하였을까", "하는데도", "하게된",
  "하게된다", "하게되었다", "했었다", "하였었다", "했다가", "하였다가", "한다면", "했다면",
  "하기로했다", "하기까지", "하여야", "해야", "해야한다", "하지만", "하겠다", "하겠다고",
  // 되다
  "되다", "된다", "됐다", "되었다", "되며", "되고", "되어", "돼", "되는", "된", "될", "됨", "되기",
  "되게", "되면", "되지", "됐던", "되었던", "되던", "되었으며", "됐으며", "되었고", "됐고",
  "되었으나", "됐으나", "되어서", "돼서", "되었다가", "된다는", "되었다는", "됐다는", "되자",
  "되도록", "되었는데", "됐는데", "되었지만", "됐지만", "되었을", "됐을", "되었나", "됐나",
  "되었는가", "됐는가", "되는가", "되는지", "되었는지", "됐는지", "됩니다", "되었습니다",
  "되기도", "되기로", "되어야", "돼야", "되면서", "되므로", "되었었다", "된다고", "되었다고",
  // 시키다 / 받다 / 당하다 (light verbs after nouns)
  "시키다", "시킨다", "시켰다", "시키는", "시킨", "시키고", "시켜", "시키기", "시켰으며",
  "시켰던", "시킬", "받았다", "받은", "받는", "받아", "받고", "받을", "받았으며", "당했다",
  "당한", "당하는",
  // past/other endings on other verb stems (만들었다 → 만들)
  "었다", "았다", "였다", "었던", "았던", "었으며", "았으며", "었고", "았고", "었으나", "았으나",
  "었는데", "았는데", "었지만", "았지만", "었을", "았을", "었나", "았나", "었는가", "았는가",
  "었는지", "았는지", "었다고", "았다고", "었다는", "았다는", "었습니다", "았습니다", "었다가",
  "았다가", "었었다", "았었다",
  // attributive / nominal / connective endings on other stems
  "는가", "는지", "는데", "습니다", "습니까", "겠다", "으며", "으면", "으나", "으려고", "으려는",
  "려고", "려는", "면서", "으면서",
  // polite question/statement endings (what users type: "간주됩니까", "유의해야 하나요")
  "됩니까", "합니까", "입니까", "습니까", "했습니까", "됐습니까", "되었습니까", "하였습니까",
  "나요", "까요", "는가요", "인가요", "한가요", "했나요", "됐나요", "되나요", "하나요", "있나요",
  "할까요", "될까요", "일까요", "했을까요", "인지요", "는지요", "해요", "했어요", "돼요", "이에요",
];

const SUFFIXES: ReadonlySet<string> = new Set([...PARTICLES, ...VERB_ENDINGS]);
const MAX_SUFFIX = Math.max(...[...SUFFIXES].map((s) => s.length));

/**
 * Korean words that carry no content for retrieval: interrogatives (dropped from queries
 * only) and function words (dropped everywhere). Compared against stems after stripping.
 */
export const KOREAN_QUESTION_WORDS: ReadonlySet<string> = new Set([
  "무엇", "무엇인", "뭐", "뭔", "뭘", "무슨", "어떤", "어떠한", "어느", "누구", "누가", "누군", "언제", "어디",
  "어디서", "어디에", "어디로", "왜", "어째서", "어떻게", "얼마", "얼마나", "몇", "몇몇", "며칠", "어땠",
  "어떠", "어떻", "무엇이", "무엇이었", "누구였", "어디였", "언제였", "어디인",
]);

export const KOREAN_STOP_WORDS: ReadonlySet<string> = new Set([
  "및", "등", "또는", "혹은", "그리고", "그러나", "하지만", "그런데", "또한", "즉", "곧", "더", "또",
  "그", "이", "저", "그것", "이것", "저것", "것", "수", "있다", "있는", "있었다", "있으며", "있고",
  "없다", "없는", "하는", "한다", "했다", "하였다", "된다", "되는", "되었다", "위해", "위하여",
  "통해", "통하여", "대해", "대하여", "때문", "따라", "따르면",
  // conversational fillers of follow-up questions ("그럼 그건 어디서 해요?")
  "그럼", "그러면", "그래서", "그러니까", "근데", "혹시", "좀", "그건", "그거", "그게", "이건", "이거", "이게", "저건", "저거",
  // bare light-verb and copula forms (what is left of "발표 했다" after spacing)
  "하고", "하여", "하며", "하면", "해서", "하던", "했던", "한", "할", "함", "해", "된", "될", "됨",
  "되어", "되고", "되며", "돼", "이다", "였다", "이었다", "이런", "그런", "저런", "이러한", "그러한",
  "하", "되", "있", "없", "않", "않는", "않은", "않았다",
  // light verbs and polite endings written apart ("유의해야 합니까")
  "합니다", "합니까", "됩니다", "됩니까", "입니다", "입니까", "있습니다", "있습니까", "없습니다",
  "없습니까", "했습니다", "했습니까", "하였습니다", "되었습니다", "됐습니다", "해야", "해야합니다",
  "하나요", "인가요", "있나요", "없나요", "되나요", "할까요", "될까요", "있을까요", "해요", "있어요",
  // particles written apart from their word ("Collection 은")
  "은", "는", "을", "를", "의", "에", "와", "과", "에서", "에게", "으로", "로",
]);

export interface StripOptions {
  /** Let a word that is nothing but a particle vanish (a Hangul tail glued to a foreign word: "iPhone을"). */
  allowEmpty?: boolean;
  /** Rounds of stripping (default 2). */
  rounds?: number;
  /** Allow one-syllable stems for 은/는/을/를/에 ("곳은" → "곳"); default true. */
  shortStems?: boolean;
}

/** Strips particles/endings from an eojeol. */
export function stripKoreanSuffix(word: string, options: StripOptions = {}): string {
  const rounds = options.rounds ?? 2;
  const shortStems = options.shortStems ?? true;
  let w = word;
  for (let round = 0; round < rounds; round++) {
    // Later rounds only peel multi-syllable suffixes and the plural 들 ("학생들에게" → "학생"),
    // never a lone 이/가/… again ("우루과이가" → "우루과이", not "우루과").
    const stripped = stripOnce(w, options.allowEmpty === true && round === 0, shortStems, round > 0);
    if (stripped === w) break;
    w = stripped;
    if (w.length === 0) break;
  }
  return w;
}

/**
 * One-syllable particles that are rarely the last syllable of a two-syllable noun, so they may
 * be stripped down to a one-syllable stem ("곳은" → "곳", "물을" → "물"). The others (이 가 의 도
 * 로 과 …) end too many nouns ("사이", "국가", "회의", "정도", "도로", "효과").
 */
const SHORT_STEM_PARTICLES: ReadonlySet<string> = new Set(["은", "는", "을", "를", "에"]);

/**
 * Shortest stem a suffix may leave. One-syllable suffixes need two syllables (except
 * 은/는/을/를/에), and so do longer ones that start with such a syllable: "효과는" must not split
 * as 효 + 과는, nor "도로의" as 도 + 로의. Other longer suffixes may leave one ("집에서" → "집").
 */
function minStemFor(suffix: string, shortStems: boolean): number {
  const first = suffix[0]!;
  const risky = SUFFIXES.has(first) && !(shortStems && SHORT_STEM_PARTICLES.has(first));
  return risky ? 2 : 1;
}

function stripOnce(w: string, allowEmpty: boolean, shortStems: boolean, laterRound: boolean): string {
  const n = w.length;
  for (let len = Math.min(MAX_SUFFIX, n); len >= 1; len--) {
    const rest = n - len;
    const suffix = w.slice(rest);
    if (!SUFFIXES.has(suffix)) continue;
    if (laterRound && len === 1 && suffix !== "들") continue;
    if (rest === 0 && allowEmpty) return "";
    const minStem = minStemFor(suffix, shortStems);
    if (rest >= minStem) return w.slice(0, rest);
  }
  return w;
}
