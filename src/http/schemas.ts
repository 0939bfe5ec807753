/** Shared request/response schemas; they generate /openapi.json. */
import { z } from "@hono/zod-openapi";
import { TEXT_LIMITS, tooLongMessage } from "../services/limits.ts";
import { JOB_KINDS } from "../services/jobs/kinds.ts";

/** Free text with the service's length limit, so /openapi.json states it as maxLength. */
export const textMax = (max: number) => z.string().max(max, tooLongMessage(max));

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      requestId: z.string().optional().openapi({ description: "The request's id, also in the X-Request-Id header and on the server's log lines for it" }),
    }),
  })
  .openapi("Error");

export const errorResponses = {
  400: { description: "Invalid request", content: { "application/json": { schema: ErrorSchema } } },
  401: { description: "Missing or invalid token", content: { "application/json": { schema: ErrorSchema } } },
  403: { description: "Not allowed", content: { "application/json": { schema: ErrorSchema } } },
  404: { description: "Not found (or not visible to you)", content: { "application/json": { schema: ErrorSchema } } },
  429: { description: "Rate limited or busy; see Retry-After", content: { "application/json": { schema: ErrorSchema } } },
} as const;

export const AclSchema = z.object({
  allow: z.array(z.string()),
  deny: z.array(z.string()),
  classification: z.number().int(),
  manage: z.array(z.string()).optional().openapi({ description: "Principals granted management of the document besides its owner" }),
});

export const DocumentSchema = z
  .object({
    id: z.string(),
    source: z.string(),
    title: z.string(),
    mime: z.string().nullable(),
    status: z.enum(["processing", "ready", "failed"]),
    version: z.number().int(),
    pageCount: z.number().int(),
    chunkCount: z.number().int(),
    sizeBytes: z.number().int(),
    acl: AclSchema,
    type: z.string().openapi({ description: 'The file type: the source\'s extension in lower case ("pdf", "docx", "hwp"); "" when it has none' }),
    classification: z.string().openapi({ description: "The classification's label (public, internal, confidential, secret); `acl.classification` is its level" }),
    tags: z.array(z.string()).optional(),
    owner: z.string().nullable(),
    sensitive: z
      .record(z.string(), z.number().int())
      .optional()
      .openapi({ description: "Personal data found, per kind (rrn, phone, email, card, account); shown to holders of view_sensitive or manage_all_documents" }),
    error: z.string().nullable(),
    versionAt: z.string().nullable().openapi({ description: "When the live version's content was written (null before the first version): what `updatedSince`/`updatedUntil` filter on" }),
    createdAt: z.string(),
    updatedAt: z.string().openapi({ description: "The row's last change of any kind (access, a sync's check, status)" }),
  })
  .openapi("Document");

export const JobFileSchema = z.object({
  source: z.string(),
  documentId: z.string().optional(),
  action: z.enum(["ingest", "delete", "reindex", "reembed"]).optional().openapi({ description: "absent: ingest" }),
  status: z.enum(["queued", "running", "succeeded", "unchanged", "failed", "cancelled"]),
  error: z.string().optional(),
  errorCode: z.string().optional().openapi({
    description:
      "why the file failed, e.g. unsupported_type, corrupt_document, zip_bomb (over KB_MAX_XML_PART_MB / KB_MAX_DOCUMENT_UNCOMPRESSED_MB), extract_timeout (over KB_EXTRACT_TIMEOUT_S), extract_memory (over KB_EXTRACT_MAX_RSS_MB), extract_crashed",
  }),
});

export const JobSchema = z
  .object({
    id: z.string(),
    kind: z.string().openapi({ description: JOB_KINDS.join(" | ") }),
    status: z.enum(["queued", "running", "succeeded", "failed", "partial", "cancelled"]),
    progress: z.object({ done: z.number().int(), total: z.number().int() }),
    throughput: z.number().nullable().openapi({ description: "Files (documents, for reembed) finished per second over the last minute, or over the whole run once finished" }),
    etaSeconds: z.number().int().nullable().openapi({ description: "Seconds left at that rate; null when unknown" }),
    phase: z.string().optional().openapi({ description: "What a multi-phase job does now: planning, copying, indexing, catching up, switching, verifying, optimizing" }),
    counts: z.record(z.string(), z.number().int()).openapi({ description: "Files per status" }),
    params: z.record(z.string(), z.unknown()),
    createdBy: z.string().nullable(),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    error: z.string().optional(),
    files: z.array(JobFileSchema),
  })
  .openapi("Job");

export const RerankerSchema = z
  .object({
    model: z.string().openapi({ description: "KB_RERANK_MODEL: the cross-encoder's folder in the models folder" }),
    status: z.enum(["ready", "loading", "failed"]).openapi({ description: "ready: reranks every search and question; loading: not loaded yet (loads at the first query in CLI commands); failed: search and ask run without reranking (see `error`)" }),
    candidates: z.number().int().openapi({ description: "KB_RERANK_CANDIDATES: fused candidates it re-scores per query" }),
    error: z.string().optional().openapi({ description: "Why it failed to load" }),
  })
  .openapi("Reranker");

export const ImageModelSchema = z
  .object({
    model: z.string().openapi({ description: "KB_IMAGE_MODEL: the image-to-text model's folder in the models folder" }),
    status: z.enum(["idle", "loading", "ready", "failed"]).openapi({ description: "idle: configured, loads at the first picture to describe; loading; ready: describes pictures without much text; failed: pictures keep their OCR text only (see `error`)" }),
    described: z.number().int().openapi({ description: "Pictures described since the server started" }),
    failed: z.number().int().openapi({ description: "Pictures the model failed on (an error or an empty description)" }),
    timedOut: z.number().int().openapi({ description: "Pictures left without a description because the model ran over KB_IMAGE_TIMEOUT_S" }),
    error: z.string().optional().openapi({ description: "Why it failed to load" }),
  })
  .openapi("ImageModel");

export const StatusNoticeSchema = z
  .object({
    code: z
      .enum(["embedding_problem", "lexical_only", "reranker_failed", "image_model_failed", "extractive_only", "llm_gpu_fallback", "model_servers", "sensitive_stale"])
      .openapi({ description: "What the note is about, for clients that word it in their own language" }),
    params: z.record(z.string(), z.union([z.string(), z.number()])).openapi({ description: "The note's values (model, error, count, hosts…), by name" }),
    text: z.string().openapi({ description: "The note in English (the same as the matching entry of `notes`)" }),
  })
  .openapi("StatusNotice");

export const StagesSchema = z
  .array(z.enum(["lexical", "vector", "rerank"]))
  .openapi({ description: "The retrieval stages that ran for this query, in order: the BM25 search, the vector search (hybrid mode), the cross-encoder reranker (when one is loaded; absent when it failed on this query)" });

export const ModeSchema = z.enum(["lexical", "hybrid"]).openapi({ description: "lexical: BM25 only (no embedding model); hybrid: BM25 + vectors, rank-fused" });

/** Queries are bounded: long enough for a pasted paragraph, short enough to keep searches cheap. */
export const QueryText = z.string().trim().min(1, "must not be empty").max(TEXT_LIMITS.query, tooLongMessage(TEXT_LIMITS.query));
export const TopK = z.number().int().min(1).max(50).optional();

export const DocumentCopySchema = z
  .object({ documentId: z.string(), title: z.string(), source: z.string() })
  .openapi("DocumentCopy");

export const SearchResultSchema = z
  .object({
    documentId: z.string(),
    chunkId: z.string(),
    title: z.string(),
    source: z.string(),
    page: z.number().int(),
    pageEnd: z.number().int(),
    headings: z.string(),
    text: z.string(),
    rank: z.number().int().min(1).openapi({ description: "Position in the results, from 1" }),
    copies: z
      .array(DocumentCopySchema)
      .optional()
      .openapi({
        description:
          "Near-duplicates of this result's document (the same text saved again, or exported to another format) found among the documents you may read; they are not listed as results of their own. Absent when there are none.",
      }),
    score: z
      .number()
      .optional()
      .openapi({
        description:
          "Relevance score (BM25 in lexical mode, rank-fused in hybrid mode), only for users with the `read_all_documents` capability: BM25 statistics count documents the asker may not read, so a score would reveal how common a term is among them",
      }),
    rerankScore: z.number().optional().openapi({ description: "The reranker's relevance score, for the results it re-scored (stages has \"rerank\"), with `score` and for the same users; the results it re-scored come first, in this score's order" }),
  })
  .openapi("SearchResult");

export const CitationSchema = z
  .object({
    n: z.number().int().openapi({ description: "The [n] marker in the answer" }),
    documentId: z.string(),
    title: z.string(),
    source: z.string(),
    page: z.number().int().openapi({ description: "The page the quote stands on (GET /api/v1/documents/{documentId}/pages/{page})" }),
    quote: z.string().openapi({ description: "The quoted passage, verbatim from the source's text as the asker is shown it (masked alike), to highlight on the page" }),
    chunkId: z.string().optional().openapi({ description: "The passage quoted (absent in conversations stored by older versions)" }),
  })
  .openapi("Citation");

/** A search or ask scope ("only in 인사규정"): combined with your access inside the search. */
export const ScopeSchema = z
  .object({
    types: z.array(z.string().min(1).max(20)).max(20).optional().openapi({ description: 'File types (extensions): ["pdf", "docx"]' }),
    folder: textMax(TEXT_LIMITS.path).optional().openapi({ description: "Source prefix (a synced or ingested folder)" }),
    tag: z.string().max(64).optional(),
    updatedSince: z.string().max(40).optional().openapi({ description: "ISO time, inclusive: documents whose live version was written since (`versionAt`)" }),
    updatedUntil: z.string().max(40).optional().openapi({ description: "ISO time, inclusive" }),
    q: textMax(TEXT_LIMITS.title).optional().openapi({ description: "Title contains (case-insensitive for Latin letters)" }),
  })
  .openapi("SearchScope", {
    description:
      "Only documents matching every given field, matched as GET /api/v1/documents filters (on what you are shown). Applied with your access inside each search, so `topK` results come from the documents in scope that you may read.",
  });
