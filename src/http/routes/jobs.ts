/**
 * Jobs: follow, list and cancel them; submit the whole-index kinds (admins: folder sync,
 * reindex, re-embed with another model or roll back, optimize). Guarded by policies/jobs.ts.
 */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { classificationLevel, parsePrincipalList } from "../../../policies/index.ts";
import { ServiceError } from "../../services/errors.ts";
import type { AppEnv } from "../env.ts";
import { ErrorSchema, JobSchema, errorResponses, textMax } from "../schemas.ts";
import { JOB_KINDS } from "../../services/jobs/kinds.ts";
import { TEXT_LIMITS } from "../../services/limits.ts";

export const jobRoutes = new OpenAPIHono<AppEnv>();

const IdParam = z.object({ id: z.string().min(1).max(100).openapi({ param: { name: "id", in: "path" } }) });
const Accepted = z.object({ jobId: z.string() }).openapi("JobAccepted");
const accepted = { 202: { description: "Accepted: follow it at GET /api/v1/jobs/{id}", content: { "application/json": { schema: Accepted } } } };
const JobSummarySchema = JobSchema.omit({ files: true }).openapi("JobSummary");
const STATUSES = ["queued", "running", "succeeded", "failed", "partial", "cancelled"] as const;

const Principals = z
  .union([z.array(z.string().max(200)).max(200), z.string().max(4000)])
  .optional()
  .openapi({ description: "principals: an array, or a comma list (group:hr,user:kim); stored in canonical form (NFKC + case folding)" });

function principals(v: string[] | string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  try {
    return parsePrincipalList(Array.isArray(v) ? v.join(",") : v);
  } catch (err) {
    throw new ServiceError(400, "bad_principal", (err as Error).message);
  }
}

function classification(v: string | number | undefined): number | undefined {
  if (v === undefined || typeof v === "number") return v;
  try {
    return classificationLevel(v);
  } catch (err) {
    throw new ServiceError(400, "bad_classification", (err as Error).message);
  }
}

jobRoutes.openapi(
  createRoute({
    method: "get",
    path: "/jobs",
    summary: "Jobs, newest first (admins: all; others: their own), without per-file lists",
    request: {
      query: z.object({
        status: z.string().optional().openapi({ description: `comma list of ${STATUSES.join(", ")}` }),
        kind: z.string().optional().openapi({ description: `comma list of ${JOB_KINDS.join(", ")}` }),
        limit: z.coerce.number().int().min(1).max(500).default(50),
        offset: z.coerce.number().int().min(0).default(0),
      }),
    },
    responses: {
      200: {
        description: "A page of jobs",
        content: { "application/json": { schema: z.object({ items: z.array(JobSummarySchema), limit: z.number().int(), offset: z.number().int() }) } },
      },
      ...errorResponses,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const split = (v: string | undefined) => (v ? v.split(",").map((s) => s.trim()).filter(Boolean) : undefined);
    const status = split(q.status);
    const bad = status?.find((s) => !(STATUSES as readonly string[]).includes(s));
    if (bad) throw new ServiceError(400, "bad_request", `unknown status ${bad}`);
    const items = (
      await c.get("kb").jobs.list(c.get("actor"), { status: status as (typeof STATUSES)[number][] | undefined, kind: split(q.kind), limit: q.limit, offset: q.offset })
    ).map(({ files: _files, ...rest }) => rest);
    return c.json({ items, limit: q.limit, offset: q.offset }, 200);
  },
);

jobRoutes.openapi(
  createRoute({
    method: "get",
    path: "/jobs/{id}",
    summary: "Job status, progress (with throughput and ETA) and per-file outcomes",
    description:
      "A file whose document you may not read (a document manager following another user's job) is listed with its status and error code only: " +
      "`source` reads `[not shown: a document you may not read]`, and `documentId` and `error` are left out. Personal data in file names is masked for users without `view_sensitive`.",
    request: { params: IdParam },
    responses: { 200: { description: "The job", content: { "application/json": { schema: JobSchema } } }, ...errorResponses },
  }),
  async (c) => c.json(await c.get("kb").jobs.get(c.get("actor"), c.req.valid("param").id), 200),
);

jobRoutes.openapi(
  createRoute({
    method: "post",
    path: "/jobs/{id}/cancel",
    summary: "Cancel a queued or running job",
    description:
      "Files not yet started are cancelled at once; a worker finishes the document batch it is writing, then stops. " +
      "Documents created for the job that never got a version are removed. 409 when the job already finished.",
    request: { params: IdParam },
    responses: {
      200: { description: "The cancelled job", content: { "application/json": { schema: JobSchema } } },
      409: { description: "Already finished", content: { "application/json": { schema: ErrorSchema } } },
      ...errorResponses,
    },
  }),
  async (c) => c.json(await c.get("kb").jobs.cancel(c.get("actor"), c.req.valid("param").id), 200),
);

const json = <T extends z.ZodTypeAny>(schema: T) => ({ body: { required: true, content: { "application/json": { schema } } } });

jobRoutes.openapi(
  createRoute({
    method: "post",
    path: "/jobs/sync",
    summary: "Sync a server folder (admins): add new files, update changed ones, delete documents whose file is gone",
    description:
      "Unchanged files are recognised by size and mtime without reading them, changed ones by content hash. A missing folder fails the job (nothing is deleted). " +
      "The folder, with symlinks and `..` resolved, must lie under one of the server's sync roots (`KB_SYNC_ROOTS`): else 403 `folder_not_allowed`; " +
      "with no roots configured every API sync is refused (403 `sync_roots_not_configured`). Without `allow`, new documents get the access of the document rules " +
      "(a rule with `match.synced: true` applies to synced documents only, e.g. to make them deny-by-default).",
    request: json(
      z.object({
        folder: textMax(TEXT_LIMITS.path).min(1).openapi({ description: "absolute path on the server, under a sync root (KB_SYNC_ROOTS)" }),
        allow: Principals,
        deny: Principals,
        classification: z.union([z.string(), z.number().int().min(0)]).optional(),
      }),
    ),
    responses: { ...accepted, ...errorResponses },
  }),
  async (c) => {
    const b = c.req.valid("json");
    const r = await c.get("kb").jobs.submitSync(c.get("actor"), { folder: b.folder, allow: principals(b.allow), deny: principals(b.deny), classification: classification(b.classification) });
    return c.json(r, 202);
  },
);

jobRoutes.openapi(
  createRoute({
    method: "post",
    path: "/jobs/reindex",
    summary: "Re-extract documents from their stored originals and rewrite their chunks (admins)",
    description: "All documents, or those listed / under a source prefix. Documents whose chunks would not change are left untouched.",
    request: json(
      z.object({
        documentIds: z.array(z.string().max(100)).max(10_000).optional(),
        sourcePrefix: textMax(TEXT_LIMITS.path).optional(),
        sensitiveStale: z.boolean().optional().openapi({ description: "only documents indexed by an older personal-data detector (see /readyz)" }),
      }),
    ),
    responses: { ...accepted, ...errorResponses },
  }),
  async (c) => c.json(await c.get("kb").jobs.submitReindex(c.get("actor"), c.req.valid("json")), 202),
);

jobRoutes.openapi(
  createRoute({
    method: "post",
    path: "/jobs/reembed",
    summary: "Re-embed every chunk into a new table with another model, switching when complete (admins)",
    description:
      "Queries keep answering from the current table meanwhile; the switch is atomic and every server follows it within a second. " +
      "`model`: a model folder under the models dir (default: the configured one), or null for a table without vectors. " +
      "`rollback: true`: back to the previous table (kept after each switch).",
    request: json(
      z.object({
        model: z.string().min(1).max(200).nullable().optional(),
        rollback: z.boolean().optional(),
        force: z.boolean().optional().openapi({ description: "rebuild even when the model is already the active one" }),
      }),
    ),
    responses: { ...accepted, 409: { description: "Nothing to roll back to", content: { "application/json": { schema: ErrorSchema } } }, ...errorResponses },
  }),
  async (c) => c.json(await c.get("kb").jobs.submitReembed(c.get("actor"), c.req.valid("json")), 202),
);

jobRoutes.openapi(
  createRoute({
    method: "post",
    path: "/jobs/optimize",
    summary: "Compact the chunk table, fold new rows into its indexes and drop old table versions (admins)",
    request: json(z.object({ cleanupOlderThanMinutes: z.number().int().min(0).max(525_600).optional() })),
    responses: { ...accepted, ...errorResponses },
  }),
  async (c) => c.json(await c.get("kb").jobs.submitOptimize(c.get("actor"), c.req.valid("json")), 202),
);

jobRoutes.openapi(
  createRoute({
    method: "post",
    path: "/admin/directories/{id}/sync",
    summary: "Sync one LDAP / Active Directory directory now (admins): users, groups and memberships of source ldap:{id}",
    description:
      "Submits a `directory-sync` job. The job reads the directory's users and groups (paged), upserts them, sets group members (nested groups included), deactivates users no longer found (their tokens and sessions revoked) and removes groups no longer found; its counts are in the job's `params.result`. A directory that cannot be reached fails the job with the reason and changes nothing. 404 `not_found` for an id not in ldap-directories.json.",
    request: { params: z.object({ id: z.string().min(1).max(16).openapi({ param: { name: "id", in: "path" }, example: "corp" }) }) },
    responses: { ...accepted, ...errorResponses },
  }),
  async (c) => c.json(await c.get("kb").ldap.submitSync(c.get("actor"), c.req.valid("param").id), 202),
);
