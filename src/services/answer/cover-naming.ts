/**
 * What names each source's document: the identifying lines of its cover page (issue 16). A
 * question about one of several look-alike reports names it ("2021년 2분기 별빛캐피탈
 * 분기보고서에서, …"); the extractive answerer must not quote the cover for matching those words,
 * and must judge the body's sentences on the rest of the question. The cover lines are derived
 * from the stored page texts the same way ingest derives the indexed context
 * (ingest/context.ts), once per document version, and kept in a small cache.
 */
import { coverLinesOfPageTexts } from "../../../ingest/context.ts";

type PageTexts = (documentId: string) => Promise<{ page: number; text: string }[]>;

const CACHE_MAX = 2048;

export class CoverNaming {
  private readonly cache = new Map<string, string>();

  constructor(private readonly pageTexts: PageTexts) {}

  /** Cover lines (joined) of each distinct document of `chunks`; documents without a cover are absent. */
  async of(chunks: readonly { documentId: string; documentVersion: number }[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const c of chunks) {
      if (out.has(c.documentId)) continue;
      const key = `${c.documentId}@${c.documentVersion}`;
      let naming = this.cache.get(key);
      if (naming === undefined) {
        naming = await this.derive(c.documentId);
        if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
        this.cache.set(key, naming);
      }
      if (naming) out.set(c.documentId, naming);
    }
    return out;
  }

  private async derive(documentId: string): Promise<string> {
    return coverLinesOfPageTexts(await this.pageTexts(documentId)).join("\n");
  }
}
