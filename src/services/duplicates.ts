/**
 * Near-duplicate documents in results (issue 16 item 6): among the hits a retrieval already
 * returned (so already filtered by the asker's access), a hit whose document is a near-duplicate
 * of a better-ranked hit's document is folded into that hit as a copy. Copies are never looked
 * up anywhere else, so a copy the asker may not read is never named or counted.
 *
 * Fingerprints (domain/duplicates) are computed from the stored page text of a document's live
 * version on first use and kept in memory per (document, version), not stored: no schema change.
 */
import { coverLinesOfPageTexts } from "../../ingest/context.ts";
import { areNearDuplicates, fingerprint, type Fingerprint } from "../domain/duplicates/fingerprint.ts";

/** A copy of a result's document, as listed under the result. */
export interface DocumentCopy {
  documentId: string;
  title: string;
  source: string;
}

/** The extracted text of a document's live version, page by page. */
export type DocumentPageTexts = (documentId: string) => Promise<{ page: number; text: string }[]>;

/** Fingerprint of a document version; null when it cannot be computed (the document is gone). */
export type FingerprintOf = (documentId: string, version: number) => Promise<Fingerprint | null>;

/** Fingerprints kept in memory, least recently used dropped first (about 0.5 KiB each). */
export class DocumentFingerprints {
  private readonly cache = new Map<string, Promise<Fingerprint | null>>();

  constructor(
    private readonly pageTexts: DocumentPageTexts,
    private readonly capacity = 4096,
  ) {}

  readonly of: FingerprintOf = (documentId, version) => {
    const key = `${documentId}@${version}`;
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key);
      this.cache.set(key, hit);
      return hit;
    }
    const computed = this.pageTexts(documentId).then(
      (pages) => (pages.length === 0 ? null : fingerprint(pages.map((p) => p.text).join("\n"), coverLinesOfPageTexts(pages))),
      () => null,
    );
    // A document without pages (deleted meanwhile) is not cached: a later version may have some.
    void computed.then((f) => {
      if (f === null) this.cache.delete(key);
    });
    this.cache.set(key, computed);
    while (this.cache.size > this.capacity) this.cache.delete(this.cache.keys().next().value!);
    return computed;
  };
}

interface Hit {
  documentId: string;
  documentVersion: number;
  title: string;
  source: string;
}

/**
 * Folds hits of near-duplicate documents into the best-ranked one, keeping order. Every kept hit
 * of a document lists that document's copies found among `hits` (none: no `copies`). A document
 * is compared with the documents kept before it, in rank order; the first match takes it.
 */
export async function collapseCopies<T extends Hit>(hits: T[], fingerprintOf: FingerprintOf): Promise<(T & { copies?: DocumentCopy[] })[]> {
  const versions = new Map<string, number>();
  for (const h of hits) if (!versions.has(h.documentId)) versions.set(h.documentId, h.documentVersion);
  if (versions.size < 2) return hits;
  const prints = new Map<string, Fingerprint | null>();
  await Promise.all([...versions].map(async ([id, v]) => prints.set(id, await fingerprintOf(id, v))));
  const keptDocs: string[] = [];
  /** Copy document → the kept document it was folded into. */
  const copyOf = new Map<string, string>();
  const copies = new Map<string, DocumentCopy[]>();
  for (const h of hits) {
    const id = h.documentId;
    if (copyOf.has(id) || keptDocs.includes(id)) continue;
    const mine = prints.get(id);
    const original = mine ? keptDocs.find((k) => { const theirs = prints.get(k); return theirs ? areNearDuplicates(mine, theirs) : false; }) : undefined;
    if (original === undefined) {
      keptDocs.push(id);
      continue;
    }
    copyOf.set(id, original);
    const list = copies.get(original) ?? [];
    list.push({ documentId: id, title: h.title, source: h.source });
    copies.set(original, list);
  }
  if (copyOf.size === 0) return hits;
  return hits.filter((h) => !copyOf.has(h.documentId)).map((h) => {
    const list = copies.get(h.documentId);
    return list ? { ...h, copies: list } : h;
  });
}
