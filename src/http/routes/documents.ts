import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";
import { ServiceError } from "../../services/errors.ts";
import { TEXT_LIMITS } from "../../services/limits.ts";
import { DocumentSchema, ErrorSchema, errorResponses, textMax } from "../schemas.ts";

export const documentRoutes = new OpenAPIHono<AppEnv>();

const IdParam = z.object({ id: z.string().min(1).max(100).openapi({ param: { name: "id", in: "path" } }) });

const UploadResponse = z
  .object({ jobId: z.string(), documents: z.array(z.object({ id: z.string(), source: z.string() })) })
  .openapi("UploadAccepted");

documentRoutes.openapi(
  createRoute({
    method: "post",
    path: "/documents",
    summary: "Upload files for ingestion",
    description:
      "Multipart form: `file` (repeatable), optional `allow` and `deny` (comma lists of `group:x`/`user:y`), `title` and `tags`. " +
      "Returns at once with a job to follow at GET /api/v1/jobs/{id}. Re-uploading the same file name updates that document; unchanged content is a no-op.",
    request: {
      body: {
        required: true,
        content: {
          "multipart/form-data": {
            schema: z.object({
              file: z.union([z.any(), z.array(z.any())]).openapi({ type: "string", format: "binary" }),
              allow: z.string().optional(),
              deny: z.string().optional(),
              title: textMax(TEXT_LIMITS.title).optional(),
              tags: textMax(TEXT_LIMITS.comment).optional().openapi({ description: `Comma-separated tags for new documents (document default rules can match them), at most ${TEXT_LIMITS.tags}` }),
            }),
          },
        },
      },
    },
    responses: {
      202: { description: "Accepted", content: { "application/json": { schema: UploadResponse } } },
      413: { description: "Upload too large", content: { "application/json": { schema: ErrorSchema } } },
      415: { description: "Not multipart/form-data", content: { "application/json": { schema: ErrorSchema } } },
      ...errorResponses,
    },
  }),
  async (c) => {
    const kb = c.get("kb");
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
    const result = kb.documents.upload(c.get("actor"), files, { allow: field("allow"), deny: field("deny"), title: field("title"), tags: field("tags") });
    kb.wakeWorker();
    return c.json(result, 202);
  },
);

documentRoutes.openapi(
  createRoute({
    method: "get",
    path: "/documents",
    summary: "List the documents you may read",
    request: { query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50), offset: z.coerce.number().int().min(0).default(0) }) },
    responses: {
      200: {
        description: "A page of documents",
        content: { "application/json": { schema: z.object({ items: z.array(DocumentSchema), total: z.number().int(), limit: z.number().int(), offset: z.number().int() }) } },
      },
      ...errorResponses,
    },
  }),
  (c) => {
    const { limit, offset } = c.req.valid("query");
    const page = c.get("kb").documents.list(c.get("actor"), { limit, offset });
    return c.json({ ...page, limit, offset }, 200);
  },
);

documentRoutes.openapi(
  createRoute({
    method: "get",
    path: "/documents/{id}",
    summary: "Document metadata",
    request: { params: IdParam },
    responses: { 200: { description: "The document", content: { "application/json": { schema: DocumentSchema } } }, ...errorResponses },
  }),
  (c) => c.json(c.get("kb").documents.get(c.get("actor"), c.req.valid("param").id), 200),
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
  (c) => c.json(c.get("kb").documents.text(c.get("actor"), c.req.valid("param").id), 200),
);

documentRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/documents/{id}",
    summary: "Delete a document and its chunks",
    request: { params: IdParam },
    responses: { 204: { description: "Deleted" }, ...errorResponses },
  }),
  async (c) => {
    await c.get("kb").documents.delete(c.get("actor"), c.req.valid("param").id);
    return c.body(null, 204);
  },
);
