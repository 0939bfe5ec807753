/**
 * Document access (PUT /documents/{id}/acl, bulk changes), policy explain, sensitive-data
 * reports, policy status and the audit log. Decisions and auditing live in the services.
 */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { stream } from "hono/streaming";
import { AUDIT_CSV_HEADER, auditCsvLine, auditJsonLine } from "../../services/audit.ts";
import type { AppEnv } from "../env.ts";
import { TEXT_LIMITS } from "../../services/limits.ts";
import { errorResponses, QueryText, textMax } from "../schemas.ts";
import { ClassificationInput } from "./admin.ts";

export const accessRoutes = new OpenAPIHono<AppEnv>();

const Principals = z
  .array(z.string().min(1).max(80))
  .max(1000)
  .openapi({ description: "user:<name>, group:<name> or role:<name>; stored in canonical form (NFKC + case folding: user:Kim is user:kim), 400 `bad_principal` for a name that mixes scripts" });
const AccessSchema = z.object({ allow: z.array(z.string()), deny: z.array(z.string()), classification: z.number().int(), manage: z.array(z.string()) }).openapi("DocumentAccess");
const json = <T extends z.ZodType>(schema: T, description = "OK") => ({ description, content: { "application/json": { schema } } });
const body = <T extends z.ZodType>(schema: T) => ({ body: { required: true, content: { "application/json": { schema } } } });

accessRoutes.openapi(
  createRoute({
    method: "put",
    path: "/documents/{id}/acl",
    summary: "Replace a document's access lists (and optionally its classification); applies to the next query",
    description:
      "`allow` and `deny` replace the lists (deny wins; the owner keeps read access). `classification` is a level or label; editors may set it up to their own clearance. " +
      "`manage` grants editors management of the document. Chunks are updated in place in the index, nothing is re-embedded. Audited with before/after.",
    request: {
      params: z.object({ id: z.string().min(1).max(100).openapi({ param: { name: "id", in: "path" } }) }),
      ...body(z.object({ allow: Principals, deny: Principals, classification: ClassificationInput.optional(), manage: Principals.optional() }).openapi("AclUpdate")),
    },
    responses: { 200: json(z.object({ id: z.string(), changed: z.boolean(), before: AccessSchema, after: AccessSchema })), ...errorResponses },
  }),
  async (c) => c.json(await c.get("kb").access.setAcl(c.get("actor"), c.req.valid("param").id, c.req.valid("json")), 200),
);

accessRoutes.openapi(
  createRoute({
    method: "post",
    path: "/admin/documents/acl",
    summary: "Change the access of many documents at once (by ids, source prefix, tag or search query)",
    description:
      "`select` criteria are combined with AND. `change` replaces lists (`allow`, `deny`, `manage`), edits them (`addAllow`, `removeAllow`, `addDeny`, `removeDeny`) and/or sets `classification`. " +
      "Documents you may not change are reported in `skipped`. `dryRun: true` reports without changing anything.",
    request: body(
      z
        .object({
          select: z.object({
            ids: z.array(z.string().max(100)).max(10000).optional(),
            prefix: textMax(TEXT_LIMITS.path).min(1).optional(),
            tag: z.string().min(1).max(64).optional(),
            query: QueryText.optional(),
            queryTopK: z.number().int().min(1).max(500).optional(),
          }),
          change: z.object({
            allow: Principals.optional(),
            deny: Principals.optional(),
            manage: Principals.optional(),
            addAllow: Principals.optional(),
            removeAllow: Principals.optional(),
            addDeny: Principals.optional(),
            removeDeny: Principals.optional(),
            classification: ClassificationInput.optional(),
          }),
          dryRun: z.boolean().optional(),
        })
        .openapi("BulkAclChange"),
    ),
    responses: {
      200: json(
        z.object({
          dryRun: z.boolean(),
          matched: z.number().int(),
          changed: z.array(z.object({ id: z.string(), source: z.string(), before: AccessSchema, after: AccessSchema })),
          unchanged: z.array(z.string()),
          skipped: z.array(z.object({ id: z.string(), reason: z.string() })),
        }),
      ),
      ...errorResponses,
    },
  }),
  async (c) => {
    const { select, change, dryRun } = c.req.valid("json");
    return c.json(await c.get("kb").access.bulk(c.get("actor"), select, change, { dryRun }), 200);
  },
);

accessRoutes.openapi(
  createRoute({
    method: "get",
    path: "/admin/explain",
    summary: "Why may (or may not) a user read a document: matched principals, deny hits, clearance, default rules",
    description:
      "`document` is an id, or a source when exactly one document has it. A document you may not read yourself answers 404, exactly like one that does not exist, and is never a candidate. Sources are not unique (each owner and folder sync names its own documents): " +
      "a source several documents share answers 409 `ambiguous_document` with their `candidates` (`id`, `source`, `title`, `owner`) in the error body.",
    request: { query: z.object({ user: z.string().min(1).max(64), document: textMax(TEXT_LIMITS.path).min(1) }) },
    responses: {
      200: json(z.record(z.string(), z.unknown())),
      409: json(
        z.object({
          error: z.object({ code: z.string(), message: z.string(), candidates: z.array(z.object({ id: z.string(), source: z.string(), title: z.string(), owner: z.string().nullable() })) }),
        }),
        "The source names several documents",
      ),
      ...errorResponses,
    },
  }),
  async (c) => {
    const { user, document } = c.req.valid("query");
    return c.json((await c.get("kb").access.explain(c.get("actor"), user, document)) as unknown as Record<string, unknown>, 200);
  },
);

accessRoutes.openapi(
  createRoute({
    method: "get",
    path: "/admin/sensitive",
    summary: "Documents containing personal data, with counts per kind",
    description: "Only documents you may read are listed (the others are left out as if they did not exist); titles and sources are masked without view_sensitive.",
    request: { query: z.object({ kind: z.enum(["rrn", "card", "phone", "account", "email"]).optional() }) },
    responses: {
      200: json(z.object({ items: z.array(z.object({ documentId: z.string(), source: z.string(), title: z.string(), counts: z.record(z.string(), z.number().int()) })) })),
      ...errorResponses,
    },
  }),
  async (c) => c.json({ items: await c.get("kb").sensitive.report(c.get("actor"), c.req.valid("query").kind) }, 200),
);

accessRoutes.openapi(
  createRoute({
    method: "get",
    path: "/admin/policy",
    summary: "The policy files in force (roles, document default rules) and any reload error",
    responses: { 200: json(z.record(z.string(), z.unknown())), ...errorResponses },
  }),
  (c) => c.json(c.get("kb").access.policyInForce(c.get("actor")), 200),
);

const AuditQuery = z.object({
  actor: z.string().max(100).optional().openapi({ description: "e.g. user:kim" }),
  action: z.string().max(100).optional().openapi({ description: 'An action ("search"), or a prefix ending in "." or "*" ("document.", "token.*")' }),
  target: textMax(TEXT_LIMITS.path).optional(),
  outcome: z.enum(["ok", "denied", "error", "warning"]).optional(),
  since: z.string().max(40).optional().openapi({ description: "ISO time (inclusive)" }),
  until: z.string().max(40).optional().openapi({ description: "ISO time (inclusive)" }),
  before: z.coerce.number().int().positive().optional().openapi({ description: "Paging: events with id < before (use nextBefore)" }),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  format: z.enum(["json", "jsonl"]).default("json").openapi({ description: "jsonl: every matching event, one JSON object per line (export)" }),
});

const AuditEvent = z
  .object({ id: z.number().int(), at: z.string(), actor: z.string().nullable(), action: z.string(), target: z.string().nullable(), outcome: z.enum(["ok", "denied", "error", "warning"]), details: z.record(z.string(), z.unknown()).nullable() })
  .openapi("AuditEvent");

accessRoutes.openapi(
  createRoute({
    method: "get",
    path: "/audit",
    summary: "The audit log, newest first (filters, paging, JSONL export)",
    request: { query: AuditQuery },
    responses: {
      200: {
        description: "A page of events, or the JSONL export",
        content: { "application/json": { schema: z.object({ items: z.array(AuditEvent), nextBefore: z.number().int().nullable() }) }, "application/x-ndjson": { schema: z.string() } },
      },
      ...errorResponses,
    },
  }),
  async (c) => {
    const kb = c.get("kb");
    const actor = c.get("actor");
    const { format, limit, before, ...filters } = c.req.valid("query");
    if (format === "jsonl") {
      const rows = kb.audit.export(actor, filters);
      const first = await rows.next(); // authorizes (throws 403) before the response starts
      c.header("Content-Type", "application/x-ndjson; charset=utf-8");
      c.header("Content-Disposition", `attachment; filename="audit-${new Date().toISOString().slice(0, 10)}.jsonl"`);
      return stream(c, async (s) => {
        if (!first.done) await s.write(auditJsonLine(first.value));
        let n = 0;
        for await (const row of rows) {
          await s.write(auditJsonLine(row));
          if (++n % 1000 === 0) await new Promise((r) => setImmediate(r));
        }
      }) as never;
    }
    return c.json(await kb.audit.query(actor, { ...filters, limit, before }), 200);
  },
);

/** The most events one export writes; narrow it with since/until for more. */
export const AUDIT_EXPORT_MAX = 1_000_000;

const { format: _format, limit: _limit, before: _before, ...auditFilters } = AuditQuery.shape;

accessRoutes.openapi(
  createRoute({
    method: "get",
    path: "/audit/export",
    summary: "Export the audit log as JSONL or CSV (same filters and access as GET /audit)",
    description:
      `Every matching event, newest first, streamed page by page; at most \`limit\` (default and most ${AUDIT_EXPORT_MAX}). Needs view_audit; strings are masked for readers without view_sensitive as in GET /audit. ` +
      "CSV: UTF-8 with a byte-order mark, a header row, CRLF rows, `details` as JSON text; a text starting with = + - @ is prefixed with ' (no spreadsheet formulas). The export is audited (`audit.export`).",
    request: {
      query: z.object({
        ...auditFilters,
        format: z.enum(["jsonl", "csv"]).default("jsonl"),
        limit: z.coerce.number().int().min(1).max(AUDIT_EXPORT_MAX).default(AUDIT_EXPORT_MAX),
      }),
    },
    responses: {
      200: { description: "The events", content: { "application/x-ndjson": { schema: z.string() }, "text/csv": { schema: z.string() } } },
      ...errorResponses,
    },
  }),
  async (c) => {
    const kb = c.get("kb");
    const { format, limit, ...filters } = c.req.valid("query");
    const rows = kb.audit.export(c.get("actor"), filters, 1000, { max: limit, format });
    const first = await rows.next(); // authorizes (throws 403) before the response starts
    const csv = format === "csv";
    c.header("Content-Type", csv ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8");
    c.header("Content-Disposition", `attachment; filename="audit-${new Date().toISOString().slice(0, 10)}.${csv ? "csv" : "jsonl"}"`);
    c.header("X-Content-Type-Options", "nosniff");
    const line = csv ? auditCsvLine : auditJsonLine;
    return stream(c, async (s) => {
      if (csv) await s.write(`\uFEFF${AUDIT_CSV_HEADER}`);
      if (!first.done) await s.write(line(first.value));
      let n = 0;
      for await (const row of rows) {
        if (s.aborted) break; // the client left: stop reading pages
        await s.write(line(row));
        if (++n % 1000 === 0) await new Promise((r) => setImmediate(r));
      }
    }) as never;
  },
);
