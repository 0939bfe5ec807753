import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { Readable } from "node:stream";
import type { Context } from "hono";
import type { AppEnv } from "../env.ts";
import type { UpdateTarget } from "../../services/jobs/context.ts";
import { ServiceError } from "../../services/errors.ts";
import { TEXT_LIMITS } from "../../services/limits.ts";
import { DocumentSchema, ErrorSchema, errorResponses, textMax } from "../schemas.ts";

export const documentRoutes = new OpenAPIHono<AppEnv>();

const IdParam = z.object({ id: z.string().min(1).max(100).openapi({ param: { name: "id", in: "path" } }) });

const UploadResponse = z
  .object({ jobId: z.string(), documents: z.array(z.object({ id: z.string(), source: z.string() })) })
  .openapi("UploadAccepted");

const uploadFields = {
  allow: z.string().optional(),
  deny: z.string().optional(),
  title: textMax(TEXT_LIMITS.title).optional(),
  tags: textMax(TEXT_LIMITS.comment).optional().openapi({ description: `Comma-separated tags for new documents (document default rules can match them), at most ${TEXT_LIMITS.tags}` }),
  classification: z.string().max(20).optional().openapi({ description: "public, internal, confidential or secret (or its level 0-3); absent: the document default rules decide (internal unless a rule says otherwise)" }),
  password: textMax(TEXT_LIMITS.pdfPassword)
    .optional()
    .openapi({
      description:
        "The password of the encrypted PDFs in this upload (other files ignore it). Without it such a file fails with `encrypted_pdf`, with a wrong one `wrong_password`. Kept in the job's file rows only until each file is processed; never shown by the API nor written to the audit log.",
    }),
};
const uploadResponses = {
  202: { description: "Accepted", content: { "application/json": { schema: UploadResponse } } },
  413: { description: "Upload too large", content: { "application/json": { schema: ErrorSchema } } },
  415: { description: "Not multipart/form-data", content: { "application/json": { schema: ErrorSchema } } },
  ...errorResponses,
};

/** `If-Match: "3"` (or `W/"3"`, `3`, `*`): the version the client last saw; absent or `*`: any. */
function expectedVersion(header: string | undefined): number | undefined {
  const v = header?.trim();
  if (!v || v === "*") return undefined;
  const m = /^(?:W\/)?"?(\d{1,9})"?$/.exec(v);
  if (!m) throw new ServiceError(400, "bad_if_match", 'If-Match must be a document version, e.g. "3"');
  return Number(m[1]);
}

/**
 * Both upload routes: permission (create, and update of the target) is checked before the body
 * is read, so a refused upload's bytes are neither read nor stored.
 */
async function upload(c: Context<AppEnv>, target?: UpdateTarget) {
  const kb = c.get("kb");
  const actor = c.get("actor");
  await kb.documents.authorizeUpload(actor, target);
  const type = c.req.header("content-type") ?? "";
  if (!type.toLowerCase().startsWith("multipart/form-data")) {
    throw new ServiceError(415, "unsupported_media_type", "send files as multipart/form-data with a `file` field");
  }
  const body = await c.req.parseBody({ all: true });
  const raw = body.file;
  const list = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).filter((f): f is File => typeof f === "object" && f !== null && "arrayBuffer" in f);
  if (list.length === 0) throw new ServiceError(400, "no_file", "no `file` field in the upload");
  const files = await Promise.all(list.map(async (f) => ({ name: f.name || "upload", bytes: new Uint8Array(await f.arrayBuffer()) })));
  const field = (k: string) => (typeof body[k] === "string" ? (body[k] as string) : undefined);
  const result = await kb.documents.upload(actor, files, { allow: field("allow"), deny: field("deny"), title: field("title"), tags: field("tags"), classification: field("classification"), password: field("password") }, target);
  kb.wakeWorker();
  return c.json(result, 202);
}

documentRoutes.openapi(
  createRoute({
    method: "post",
    path: "/documents",
    summary: "Upload files for ingestion",
    description:
      "Multipart form: `file` (repeatable), optional `allow` and `deny` (comma lists of `group:x`/`user:y`; GET /api/v1/directory lists them), `classification`, `title` and `tags`. " +
      "Returns at once with a job to follow at GET /api/v1/jobs/{id}. Each file updates *your own* document of the same file name " +
      "(unchanged content is a no-op) or creates a new document: a name never refers to anyone else's document, whether or not you can see it. " +
      "To update a document someone else owns, use PUT /api/v1/documents/{id}/content.",
    request: {
      body: {
        required: true,
        content: {
          "multipart/form-data": {
            schema: z.object({ file: z.union([z.any(), z.array(z.any())]).openapi({ type: "string", format: "binary" }), ...uploadFields }),
          },
        },
      },
    },
    responses: uploadResponses,
  }),
  (c) => upload(c),
);

documentRoutes.openapi(
  createRoute({
    method: "put",
    path: "/documents/{id}/content",
    summary: "Upload a new version of a document",
    description:
      "Multipart form with one `file` (optional `allow`, `deny`, `title`) that replaces the content of document `id`, whoever owns it, " +
      "if you may update it (its owner, a manager in its `manage` list, or an admin). The owner stays the same. " +
      "`If-Match: \"<version>\"` (the `version` of GET /api/v1/documents/{id}, also sent there as `ETag`) makes the update conditional: " +
      "another live version answers 409 `version_conflict`, at submission or, if another update wins meanwhile, as the job file's `errorCode`. " +
      "404 when you may not read the document, 403 when you may read but not update it; both before the body is read.",
    request: {
      params: IdParam,
      headers: z.object({ "if-match": z.string().optional().openapi({ description: 'The version you last saw, e.g. "3"' }) }),
      body: {
        required: true,
        content: {
          "multipart/form-data": {
            schema: z.object({ file: z.any().openapi({ type: "string", format: "binary" }), allow: uploadFields.allow, deny: uploadFields.deny, title: uploadFields.title, classification: uploadFields.classification, password: uploadFields.password }),
          },
        },
      },
    },
    responses: { ...uploadResponses, 409: { description: "If-Match names another version", content: { "application/json": { schema: ErrorSchema } } } },
  }),
  (c) => upload(c, { documentId: c.req.valid("param").id, expectedVersion: expectedVersion(c.req.header("if-match")) }),
);

documentRoutes.openapi(
  createRoute({
    method: "get",
    path: "/documents",
    summary: "List the documents you may read",
    description:
      "Filters: `type` (comma list of extensions: `pdf,docx`), `folder` (source prefix), `tag`, `updatedSince`/`updatedUntil` (ISO times, inclusive, on `versionAt`: when the live version was written) and `q` (title contains). " +
      "Text filters match what you are shown (personal data masked unless you hold view_sensitive). `total` counts the matching documents you may read.",
    request: {
      query: z.object({
        limit: z.coerce.number().int().min(1).max(500).default(50),
        offset: z.coerce.number().int().min(0).default(0),
        type: z.string().max(200).optional(),
        folder: textMax(TEXT_LIMITS.path).optional(),
        tag: z.string().max(64).optional(),
        updatedSince: z.string().max(40).optional(),
        updatedUntil: z.string().max(40).optional(),
        q: textMax(TEXT_LIMITS.title).optional(),
      }),
    },
    responses: {
      200: {
        description: "A page of documents",
        content: { "application/json": { schema: z.object({ items: z.array(DocumentSchema), total: z.number().int(), limit: z.number().int(), offset: z.number().int() }) } },
      },
      ...errorResponses,
    },
  }),
  async (c) => {
    const { limit, offset, type, ...filter } = c.req.valid("query");
    const types = type ? type.split(",").map((x) => x.trim()).filter(Boolean) : undefined;
    const page = await c.get("kb").documents.list(c.get("actor"), { limit, offset }, { ...filter, types });
    return c.json({ ...page, limit, offset }, 200);
  },
);

documentRoutes.openapi(
  createRoute({
    method: "get",
    path: "/documents/{id}",
    summary: "Document metadata",
    request: { params: IdParam },
    responses: { 200: { description: "The document (`ETag`: its version, for If-Match on PUT /documents/{id}/content)", content: { "application/json": { schema: DocumentSchema } } }, ...errorResponses },
  }),
  async (c) => {
    const view = await c.get("kb").documents.get(c.get("actor"), c.req.valid("param").id);
    c.header("ETag", `"${view.version}"`);
    return c.json(view, 200);
  },
);

documentRoutes.openapi(
  createRoute({
    method: "get",
    path: "/documents/{id}/text",
    summary: "Extracted text, page by page",
    request: { params: IdParam },
    responses: {
      200: {
        description: "Pages",
        content: { "application/json": { schema: z.object({ id: z.string(), pages: z.array(z.object({ page: z.number().int(), text: z.string() })) }) } },
      },
      ...errorResponses,
    },
  }),
  async (c) => c.json(await c.get("kb").documents.text(c.get("actor"), c.req.valid("param").id), 200),
);

export const DocumentPageSchema = z
  .object({
    id: z.string(),
    page: z.number().int(),
    pageCount: z.number().int(),
    title: z.string(),
    source: z.string(),
    type: z.string(),
    mime: z.string().nullable(),
    classification: z.string(),
    text: z.string(),
    originalAvailable: z.boolean(),
  })
  .openapi("DocumentPage");

const PageParam = IdParam.extend({ n: z.coerce.number().int().min(1).max(1_000_000).openapi({ param: { name: "n", in: "path" } }) });

documentRoutes.openapi(
  createRoute({
    method: "get",
    path: "/documents/{id}/pages/{n}",
    summary: "One page's extracted text (to show a citation's page)",
    description:
      "The text is masked for users without view_sensitive exactly as GET /documents/{id}/text masks it; a citation's `quote` is a passage of it (its whitespace may differ). " +
      "`originalAvailable` says whether GET /documents/{id}/original would give you the file. 404 when you may not read the document, `page_not_found` past its last page.",
    request: { params: PageParam },
    responses: {
      200: {
        description: "The page",
        content: {
          "application/json": {
            schema: DocumentPageSchema,
          },
        },
      },
      ...errorResponses,
    },
  }),
  async (c) => {
    const { id, n } = c.req.valid("param");
    return c.json(await c.get("kb").documents.page(c.get("actor"), id, n), 200);
  },
);

/** `attachment` with an ASCII fallback name and the UTF-8 name (RFC 6266 / 5987). */
function contentDisposition(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]/g, "_").replace(/[%;]/g, "_");
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(fileName).replace(/['()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`)}`;
}

documentRoutes.openapi(
  createRoute({
    method: "get",
    path: "/documents/{id}/original",
    summary: "Download the original file",
    description:
      "Only when you may read the document and either hold view_sensitive or the document has no recorded personal data (an original cannot be masked). " +
      "404 when you may not read it (or no original is stored: `original_not_stored`); 403 `original_has_personal_data`, or `personal_data_unchecked` while its personal data is not yet checked by the current detector. Downloads are audited.",
    request: { params: IdParam },
    responses: {
      200: { description: "The file, as an attachment", content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } } },
      ...errorResponses,
    },
  }),
  async (c) => {
    const file = await c.get("kb").documents.original(c.get("actor"), c.req.valid("param").id);
    const body = Readable.toWeb(file.stream()) as ReadableStream<Uint8Array>;
    return new Response(body, {
      status: 200,
      headers: {
        "Content-Type": file.mime,
        "Content-Length": String(file.size),
        "Content-Disposition": contentDisposition(file.fileName),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
      },
    }) as never;
  },
);

documentRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/documents/{id}",
    summary: "Delete a document and its chunks",
    description:
      "Removes the document from search at once, then erases it before answering: its chunks from every chunk table and table version (the rollback table too), its page texts, personal-data rows and original (unless another document has the same bytes); conversation quotes of it become \"[deleted]\", audit events keep its id only. Backups are not touched.",
    request: { params: IdParam },
    responses: { 204: { description: "Deleted and erased" }, ...errorResponses },
  }),
  async (c) => {
    await c.get("kb").documents.delete(c.get("actor"), c.req.valid("param").id);
    return c.body(null, 204);
  },
);
