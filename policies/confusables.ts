/**
 * UTS #39 skeletons for principal names, with a SUBSET of Unicode's confusables.txt.
 *
 * No confusables package is installed, and this project adds no dependency for it, so the
 * table below covers the realistic attacks on user and group names only:
 *   - Cyrillic and Greek letters that look like Latin ones (whole-script look-alikes such as
 *     all-Cyrillic "сосо" for "coco"; mixed-script ones are already refused by the script rule);
 *   - digit/letter and letter-pair look-alikes in Latin (0/o, 1/l, rn/m, vv/w, cl/d);
 *   - Katakana letters that look like Han ideographs (ロ/口, エ/工, カ/力, …), since Latin + Han +
 *     Kana is an allowed mix.
 * Fullwidth and other compatibility forms never reach this table: NFKC folds them first.
 * Names are case-folded before their skeleton is taken, so only lower-case forms are listed.
 * Replacing the table with the full confusables.txt mapping changes nothing else.
 */
const SKELETON_MAP: Record<string, string> = {
  // Cyrillic → Latin
  а: "a", с: "c", ԁ: "d", е: "e", ё: "ë", һ: "h", і: "i", ї: "ï", ј: "j", к: "k", ӏ: "l", о: "o", р: "p", ԛ: "q", ѕ: "s", ԝ: "w", х: "x", у: "y", ү: "y",
  // Greek → Latin
  α: "a", ι: "i", κ: "k", ν: "v", ο: "o", ρ: "p", υ: "u", χ: "x", γ: "y",
  // Latin look-alikes within Latin and digits
  ı: "i", ɩ: "i", ǀ: "l", ɑ: "a", ɡ: "g", "0": "o", "1": "l", m: "rn", w: "vv", d: "cl",
  // Katakana → Han ideographs
  ロ: "口", エ: "工", カ: "力", タ: "夕", ニ: "二", ハ: "八", ト: "卜", ー: "一",
};

/**
 * The skeleton of an (already canonical) name: two names with the same skeleton look the same.
 * UTS #39: NFD, map every character through the confusables table, NFD again.
 */
export function skeleton(name: string): string {
  let out = "";
  for (const ch of name.normalize("NFD")) out += SKELETON_MAP[ch] ?? ch;
  return out.normalize("NFD");
}
