/**
 * Personal data: recorded at ingestion (per chunk, for reports) and masked on the way out.
 * Masking happens here, in the services, for every output path: `Retriever.retrieve` masks the
 * chunks it returns (so search, the ask sources given to any answerer, citations, quotes,
 * answers and SSE deltas only ever contain masked text), and `DocumentService` masks page
 * text, titles and sources. The policy (who sees unmasked data) is `mustMask` in policies/.
 */
import { authorize, can, canRead, mustMask, SensitiveData, type Actor } from "../../policies/index.ts";
import { countByKind, detectSensitive, maskSensitive, SENSITIVE_DETECTOR_VERSION, type SensitiveKind } from "../domain/sensitive/index.ts";
import type { ChunkStore } from "../stores/lance/chunk-store.ts";
import { accessOfRow, type DocumentsRepo } from "../stores/sqlite/documents-repo.ts";
import type { SensitiveStore } from "../stores/metadata.ts";

const identity = (text: string) => text;

/** The text transform for what `actor` is shown: masking, or none for holders of view_sensitive. */
export function redactorFor(actor: Actor): (text: string) => string {
  return mustMask(actor) ? maskSensitive : identity;
}

/** Masks the displayable fields of a retrieved chunk (or anything shaped like one). */
export function redactChunk<T extends { text: string; title: string; source: string; headings?: string }>(redact: (text: string) => string, chunk: T): T {
  if (redact === identity) return chunk;
  return {
    ...chunk,
    text: redact(chunk.text),
    title: redact(chunk.title),
    source: redact(chunk.source),
    ...(chunk.headings !== undefined ? { headings: redact(chunk.headings) } : {}),
  };
}

export interface SensitiveReportItem {
  documentId: string;
  source: string;
  title: string;
  counts: Record<string, number>;
}

/** Where a scan is recorded (the AuditLog; named by shape, since audit.ts imports this module's redactor). */
interface AuditSink {
  record(actor: Actor, action: string, target: string | null, details?: Record<string, unknown>): void;
}

export class SensitiveIndex {
  constructor(
    private readonly repo: SensitiveStore,
    /** The document rows the report names (their access decides who sees them), and the detector status. */
    private readonly documents: DocumentsRepo,
    /** The active chunk table (a scan reads every chunk of it). */
    private readonly chunks: ChunkStore,
    private readonly audit: AuditSink,
  ) {}

  /**
   * Re-detects personal data in every indexed chunk and records it (documents ingested before
   * detection existed, or by an older detector); audited. Chunks of a document whose row is gone
   * are skipped.
   */
  async scan(actor: Actor): Promise<{ chunks: number; documents: number; withPersonalData: number }> {
    authorize(actor, "scan", SensitiveData, null);
    const rows = await this.chunks.list(null, ["chunk_id", "document_id", "ordinal", "text"]);
    const byDoc = new Map<string, { chunkId: string; text: string }[]>();
    for (const r of rows) {
      const list = byDoc.get(String(r.document_id)) ?? [];
      list.push({ chunkId: String(r.chunk_id), text: String(r.text) });
      byDoc.set(String(r.document_id), list);
    }
    let found = 0;
    for (const [id, chunks] of byDoc) {
      if (!this.documents.byId(id)) continue;
      const counts = await this.record(id, chunks);
      if (Object.keys(counts).length) found++;
    }
    this.audit.record(actor, "sensitive.scan", null, { documents: byDoc.size, withPersonalData: found });
    return { chunks: rows.length, documents: byDoc.size, withPersonalData: found };
  }

  /** The detector version, and how many documents an older one indexed (for /readyz). */
  indexStatus(): { detectorVersion: number; staleDocuments: number } {
    return { detectorVersion: SENSITIVE_DETECTOR_VERSION, staleDocuments: this.documents.countIndexedBeforeSensitiveVersion(SENSITIVE_DETECTOR_VERSION) };
  }

  /** Detects and records the spans of a document's chunks (replacing earlier versions'); returns counts. */
  async record(documentId: string, chunks: readonly { chunkId: string; text: string }[]): Promise<Partial<Record<SensitiveKind, number>>> {
    const rows = chunks.flatMap((c) => detectSensitive(c.text).map((s) => ({ chunkId: c.chunkId, kind: s.kind, start: s.start, end: s.end })));
    await this.repo.replaceDocument(documentId, rows);
    return countByKind(rows);
  }

  /**
   * The personal data recorded for a document, per kind (no authorization: for the use cases'
   * own decisions, e.g. whether an original may be downloaded, never shown as such).
   */
  async recordedCounts(documentId: string): Promise<Record<string, number>> {
    return this.repo.countsOf(documentId);
  }

  /** Per-kind counts for a document, or undefined when `actor` may not see reports. */
  async countsFor(actor: Actor, documentId: string): Promise<Record<string, number> | undefined> {
    if (!can(actor, "report", SensitiveData, null)) return undefined;
    return this.repo.countsOf(documentId);
  }

  /**
   * Documents with personal data and their counts per kind, among the documents `actor` may
   * read: the capability to see reports (e.g. manage_all_documents) is not a capability to read
   * every document, so the others are left out as if they did not exist. Titles and sources are
   * masked like any other text for actors without view_sensitive.
   */
  async report(actor: Actor, kind?: SensitiveKind): Promise<SensitiveReportItem[]> {
    authorize(actor, "report", SensitiveData, null);
    const byDoc = new Map<string, Record<string, number>>();
    for (const r of await this.repo.report(kind)) {
      const c = byDoc.get(r.documentId) ?? {};
      c[r.kind] = r.n;
      byDoc.set(r.documentId, c);
    }
    const redact = redactorFor(actor);
    const items: SensitiveReportItem[] = [];
    for (const [documentId, counts] of byDoc) {
      const d = this.documents.byId(documentId);
      if (!d || !canRead(actor, accessOfRow(d))) continue;
      items.push({ documentId, source: redact(d.source), title: redact(d.title), counts });
    }
    return items;
  }
}
