/**
 * Pictures inside documents whose extractors walk the document themselves (XLSX, HWP, HWPX): the
 * walk leaves a mark where a picture stands (`pictureMark(i)`, i = its index in the pictures
 * collected), then `placePictures` OCRs them all together (ingest/ocr/embedded-images.ts: the
 * shared engine and its filters) and puts each picture's text where its mark is: a block that is
 * only the mark becomes one paragraph per paragraph read; a mark inside a block (a picture in a
 * table cell) becomes the text read, on one line. A picture without readable text leaves nothing.
 */
import { readEmbeddedImages, type EmbeddedImageOptions } from "../ocr/embedded-images.ts";
import type { Block, ExtractedPage } from "../types.ts";

export type PictureOptions = false | Omit<EmbeddedImageOptions, "signal">;

const MARK = /\u0000picture:(\d+)\u0001/g;

export function pictureMark(index: number): string {
  return `\u0000picture:${index}\u0001`;
}

/** Replaces the marks in `pages` by the text OCR'd from `pictures`; drops blocks and pages left empty. */
export async function placePictures(
  pages: ExtractedPage[],
  pictures: readonly Uint8Array[],
  options: PictureOptions | undefined,
  signal: AbortSignal | undefined,
  warnings: string[],
): Promise<ExtractedPage[]> {
  let texts: string[][] = [];
  if (pictures.length && options !== false) {
    const read = await readEmbeddedImages(pictures, { ...(options || {}), ...(signal ? { signal } : {}) });
    warnings.push(...read.warnings);
    texts = read.texts;
  }
  const textOf = (i: string) => texts[Number(i)] ?? [];
  return pages
    .map((page) => ({
      ...page,
      blocks: page.blocks.flatMap((b): Block[] => {
        if (!b.text.includes("\u0000picture:")) return [b];
        const whole = /^\u0000picture:(\d+)\u0001$/.exec(b.text);
        if (whole) return textOf(whole[1]!).map((text) => ({ kind: "paragraph" as const, text }));
        const text = b.text
          .replace(MARK, (_m, i: string) => textOf(i).join(" ").replace(/\s*\n\s*/g, " ").replace(/\|/g, "\\|"))
          .replace(/[ \t]{2,}/g, " ")
          .trim();
        return text ? [{ ...b, text }] : [];
      }),
    }))
    .filter((p) => p.blocks.length > 0);
}
