/**
 * Where tesseract.js finds its language models, fully offline.
 *
 * The models ship in the npm packages @tesseract.js-data/{kor,eng} (folder `4.0.0_best_int`:
 * LSTM-only, integer-quantised "best" models). tesseract.js reads every language of a worker from
 * ONE `langPath` folder (passing `{code, data}` objects is broken in tesseract.js 7: it joins the
 * data instead of the codes), so we build a folder of symlinks (copies where symlinks fail) to the
 * package files in the OS temp directory and hand that to the workers.
 *
 * Never leave `langPath` unset: tesseract.js then downloads from a CDN, and the failed download
 * crashes the process.
 */
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";

const require = createRequire(import.meta.url);

/** Languages we can load from the npm data packages. */
export const PACKAGED_LANGUAGES = ["kor", "eng"] as const;

export class OcrSetupError extends Error {
  override name = "OcrSetupError";
}

/** The packaged model file for one language, e.g. .../@tesseract.js-data/kor/4.0.0_best_int/kor.traineddata.gz */
export function packagedModelFile(lang: string, flavour = "4.0.0_best_int"): string {
  let pkgJson: string;
  try {
    pkgJson = require.resolve(`@tesseract.js-data/${lang}/package.json`);
  } catch {
    throw new OcrSetupError(`OCR language data for "${lang}" is not installed (npm package @tesseract.js-data/${lang})`);
  }
  const file = path.join(path.dirname(pkgJson), flavour, `${lang}.traineddata.gz`);
  if (!existsSync(file)) throw new OcrSetupError(`OCR language data missing: ${file}`);
  return file;
}

function hasModel(dir: string, lang: string): boolean {
  return existsSync(path.join(dir, `${lang}.traineddata.gz`));
}

/**
 * A folder holding `<lang>.traineddata.gz` for every language in `langs`.
 * `explicitDir`: a folder the operator provides (must contain gzip'd models for all languages).
 */
export function resolveLangPath(langs: readonly string[], explicitDir?: string): string {
  if (explicitDir) {
    const missing = langs.filter((l) => !hasModel(explicitDir, l));
    if (missing.length) {
      throw new OcrSetupError(`OCR langPath ${explicitDir} lacks ${missing.map((l) => `${l}.traineddata.gz`).join(", ")}`);
    }
    return explicitDir;
  }
  const files = langs.map((l) => [l, packagedModelFile(l)] as const);
  const key = createHash("sha1")
    .update(files.map(([l, f]) => `${l}=${f}:${statSync(f).size}`).join("|"))
    .digest("hex")
    .slice(0, 12);
  const dir = path.join(tmpdir(), `private-kb-tessdata-${key}`);
  mkdirSync(dir, { recursive: true });
  const present = new Set(readdirSync(dir));
  for (const [lang, file] of files) {
    const name = `${lang}.traineddata.gz`;
    if (present.has(name) && hasModel(dir, lang)) continue;
    const target = path.join(dir, name);
    try {
      symlinkSync(file, target);
    } catch {
      if (!hasModel(dir, lang)) copyFileSync(file, target);
    }
  }
  return dir;
}
