/**
 * Admin API: users, groups, memberships and tokens under /api/v1/admin. Authorization and
 * auditing live in AdminService (policies/users.ts decides), so these handlers only translate.
 */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { CLASSIFICATIONS, classificationLevel, SCOPE_NAMES, TOKEN_SCOPES } from "../../../policies/index.ts";
import { MAX_TOKEN_RATE_PER_MINUTE } from "../../services/accounts.ts";
import { badRequest } from "../../services/errors.ts";
import type { AppEnv } from "../env.ts";
import { errorResponses, ImageModelSchema, RerankerSchema, StatusNoticeSchema } from "../schemas.ts";

export const adminRoutes = new OpenAPIHono<AppEnv>();

/** A classification as a level (0..3) or a label ("confidential"). */
export const ClassificationInput = z
  .union([z.number().int().min(0).max(CLASSIFICATIONS.length - 1), z.enum(CLASSIFICATIONS)])
  .transform((v) => (typeof v === "number" ? v : classificationLevel(v)))
  .openapi({ description: `A level 0..${CLASSIFICATIONS.length - 1} or a label: ${CLASSIFICATIONS.join(", ")}` });

// Up to 64 characters once canonical; an NFD spelling is longer, hence the looser bound here.
const Name = z.string().min(1).max(256).openapi({
  description:
    "A user or group name, compared and stored in canonical form (NFKC, then case folding: `Kim`, `ｋｉｍ` and `kim` are one name; NFC and NFD spellings of 김철수 too). " +
    "A new name must be 1-64 letters, digits, `. _ @ -` from one script or Latin + Han with Hangul, Kana or Bopomofo (UTS #39 highly restrictive), " +
    "without fullwidth/halfwidth forms, and must not look like an existing user or group; else 400 with code `invalid_name`, `mixed_script`, `compatibility_characters` or `confusable_name`.",
});
const NameParam = z.object({ name: Name.openapi({ param: { name: "name", in: "path" } }) });
const IdParam = z.object({ id: z.string().min(1).max(100).openapi({ param: { name: "id", in: "path" } }) });

const UserSchema = z
  .object({
    name: z.string(),
    source: z.string().openapi({ description: "`local` (created here), or the directory that manages the account: `oidc:<id>`, `ldap:<id>`, `scim:<id>`" }),
    externalId: z.string().nullable().openapi({ description: "The account's stable id in its directory (null for local accounts)" }),
    displayName: z.string().nullable().openapi({ description: "For screens; never part of an access decision" }),
    kind: z.enum(["person", "service"]).openapi({ description: "`service`: an integration's account, which only uses API tokens (password and single sign-on are refused)" }),
    role: z.string(),
    clearance: z.number().int(),
    disabled: z.boolean(),
    groups: z.array(z.string()),
    createdAt: z.string(),
  })
  .openapi("User");
const UserDetailSchema = UserSchema.extend({
  memberOf: z.record(z.string(), z.array(z.string())).openapi({ description: "Each group (after nesting) → the chain of groups through which the user belongs to it" }),
  capabilities: z.array(z.string()),
}).openapi("UserDetail");
const MemberSchema = z.object({ kind: z.enum(["user", "group"]), name: z.string() });
const MemberOriginSchema = z
  .object({
    kind: z.enum(["user", "group"]),
    name: z.string(),
    displayName: z.string().nullable(),
    origin: z.string().openapi({ description: "Who wrote the membership: `manual` (an admin) or the directory source whose sync replaces it" }),
    override: z.boolean().openapi({ description: "A manual row in a directory-managed group: kept through every sync until an admin removes it" }),
  })
  .openapi("MemberOrigin");
const GroupSchema = z
  .object({
    name: z.string(),
    description: z.string().nullable(),
    source: z.string().openapi({ description: "`local`, or the directory that manages the group" }),
    externalId: z.string().nullable(),
    displayName: z.string().nullable(),
    members: z.array(MemberSchema).openapi({ description: "Direct members, each once" }),
    memberOrigins: z.array(MemberOriginSchema).openapi({ description: "Direct membership rows with who wrote each (a membership written by a directory and by an admin appears twice)" }),
  })
  .openapi("Group");
const TokenSchema = z
  .object({
    id: z.string(),
    user: z.string(),
    name: z.string().nullable(),
    createdAt: z.string(),
    expiresAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
    lastUsedAt: z.string().nullable(),
    scopes: z.array(z.string()).nullable().openapi({ description: "What the token may be used for (null: everything its user's role allows)" }),
    rateLimitPerMinute: z.number().int().nullable().openapi({ description: "The token's own requests per minute (null: the server's limit; 0: unlimited)" }),
  })
  .openapi("Token");
const ScopeName = z.enum(SCOPE_NAMES as [string, ...string[]]).openapi({
  description: `A token scope: ${Object.entries(TOKEN_SCOPES)
    .map(([n, d]) => `\`${n}\` (${d.description})`)
    .join("; ")}. A scoped token keeps only what both its user's role and its scopes allow; anything else is 403 \`scope_denied\`.`,
});

const json = <T extends z.ZodType>(schema: T, description = "OK") => ({ description, content: { "application/json": { schema } } });
const body = <T extends z.ZodType>(schema: T) => ({ body: { required: true, content: { "application/json": { schema } } } });

// ---- users ----------------------------------------------------------------------------------

adminRoutes.openapi(
  createRoute({ method: "get", path: "/admin/users", summary: "List users", responses: { 200: json(z.object({ items: z.array(UserSchema) })), ...errorResponses } }),
  async (c) => c.json({ items: await c.get("kb").admin.listUsers(c.get("actor")) }, 200),
);

adminRoutes.openapi(
  createRoute({
    method: "post",
    path: "/admin/users",
    summary: "Create a user",
    request: body(
      z
        .object({
          name: Name,
          role: z.string().optional(),
          groups: z.array(Name).optional(),
          clearance: ClassificationInput.optional(),
          kind: z.enum(["person", "service"]).optional().openapi({ description: "`service` for an integration's account (API tokens only); default `person`" }),
        })
        .openapi("NewUser"),
    ),
    responses: { 201: json(UserSchema, "Created"), 409: errorResponses[400], ...errorResponses },
  }),
  async (c) => c.json(await c.get("kb").admin.createUser(c.get("actor"), c.req.valid("json")), 201),
);

adminRoutes.openapi(
  createRoute({ method: "get", path: "/admin/users/{name}", summary: "A user, with nested memberships and capabilities", request: { params: NameParam }, responses: { 200: json(UserDetailSchema), ...errorResponses } }),
  async (c) => c.json(await c.get("kb").admin.getUser(c.get("actor"), c.req.valid("param").name), 200),
);

adminRoutes.openapi(
  createRoute({
    method: "patch",
    path: "/admin/users/{name}",
    summary: "Change a user's role, clearance or disabled flag",
    request: { params: NameParam, ...body(z.object({ role: z.string().optional(), clearance: ClassificationInput.optional(), disabled: z.boolean().optional() }).openapi("UserPatch")) },
    responses: { 200: json(UserSchema), ...errorResponses },
  }),
  async (c) => c.json(await c.get("kb").admin.updateUser(c.get("actor"), c.req.valid("param").name, c.req.valid("json")), 200),
);

adminRoutes.openapi(
  createRoute({ method: "delete", path: "/admin/users/{name}", summary: "Delete a user and its tokens", request: { params: NameParam }, responses: { 204: { description: "Deleted" }, ...errorResponses } }),
  async (c) => {
    await c.get("kb").admin.deleteUser(c.get("actor"), c.req.valid("param").name);
    return c.body(null, 204);
  },
);

adminRoutes.openapi(
  createRoute({
    method: "post",
    path: "/admin/users/{name}/purge-history",
    summary: "Erase a user's conversations and feedback (a departed employee's personal data)",
    description:
      "Deletes every conversation of the user and every feedback they gave on answers, in one transaction; audited as `user.purge_history` with the counts. " +
      "The account stays (e.g. disabled); deleting the account deletes its conversations and feedback too. Needs `manage_users`.",
    request: { params: NameParam },
    responses: { 200: json(z.object({ user: z.string(), conversations: z.number().int(), feedback: z.number().int() }).openapi("HistoryPurged")), ...errorResponses },
  }),
  async (c) => c.json(await c.get("kb").admin.purgeHistory(c.get("actor"), c.req.valid("param").name), 200),
);

// ---- system status --------------------------------------------------------------------------

const JobStatusCounts = z.object({ queued: z.number().int(), running: z.number().int(), succeeded: z.number().int(), failed: z.number().int(), partial: z.number().int(), cancelled: z.number().int() });
const SystemStatusSchema = z
  .object({
    retrieval: z.enum(["lexical", "hybrid"]).openapi({ description: "Active retrieval mode: BM25 only, or BM25 + vectors" }),
    answer: z.enum(["extractive", "llm"]).openapi({ description: "Active answerer: quoted source sentences, or a local LLM" }),
    embedding: z.object({ model: z.string(), dimension: z.number() }).nullable().openapi({ description: "The embedding model, or null" }),
    reranker: RerankerSchema.nullable().optional().openapi({ description: "The cross-encoder reranker (KB_RERANK_MODEL) and its state, or null when none is configured" }),
    imageModel: ImageModelSchema.nullable().optional().openapi({ description: "The image-description model (KB_IMAGE_MODEL) and its state, or null when none is configured" }),
    llm: z.record(z.string(), z.unknown()).nullable().openapi({ description: "The LLM's setup (model, GPU backend, layers, threads, queue), or null" }),
    notes: z.array(z.string()).openapi({ description: "What runs in a degraded mode, and why" }),
    notices: z.array(StatusNoticeSchema).openapi({ description: "What runs in a degraded mode and why, with a code per note (the web app words it in the reader's language)" }),
    index: z.object({
      table: z.string().openapi({ description: "The chunk table serving queries" }),
      model: z.string().nullable(),
      dimension: z.number().nullable(),
      since: z.string().nullable().openapi({ description: "When it became active (null: since the data folder was created)" }),
      jobId: z.string().nullable().openapi({ description: "The job that made it active (a re-embed), if any" }),
      documents: z.number().int().openapi({ description: "Documents in the knowledge base, all of them" }),
      chunks: z.number().int().openapi({ description: "Chunks in the active index" }),
      sensitiveDetector: z.object({ version: z.number().int(), staleDocuments: z.number().int() }),
    }),
    jobs: z.object({
      workerAlive: z.boolean().openapi({ description: "Some worker process has shown life recently and will run queued jobs" }),
      counts: JobStatusCounts.openapi({ description: "Jobs per status, all of them" }),
      active: z.array(
        z.object({
          id: z.string(),
          kind: z.string(),
          status: z.enum(["queued", "running"]),
          done: z.number().int(),
          total: z.number().int(),
          phase: z.string().nullable(),
          createdAt: z.string(),
          startedAt: z.string().nullable(),
        }),
      ).openapi({ description: "Running, then queued jobs (at most 20)" }),
    }),
  })
  .openapi("SystemStatus");

adminRoutes.openapi(
  createRoute({
    method: "get",
    path: "/admin/status",
    summary: "The system: modes, models, the active index and the job queue",
    description:
      "What /readyz tells an admin's token, plus the active chunk table and the job queue, for the web app's system page (the session cookie is sent to /api only). " +
      "Counts include documents other users may not read, hence admins only (capability `manage_all_documents`; 403 otherwise).",
    responses: { 200: json(SystemStatusSchema), ...errorResponses },
  }),
  async (c) => c.json(await c.get("kb").status.system(c.get("actor")), 200),
);

adminRoutes.openapi(
  createRoute({
    method: "get",
    path: "/me",
    summary: "Who you are: name, role, groups (after nesting), clearance and capabilities",
    description: "For a client deciding what to offer (admin pages need `manage_users`, `view_audit`, `review_feedback`…); the server checks every request regardless.",
    responses: {
      200: json(
        z
          .object({
            name: z.string(),
            role: z.string(),
            groups: z.array(z.string()),
            clearance: z.number().int(),
            classification: z.string().openapi({ description: "The clearance as a classification label" }),
            capabilities: z.array(z.string()).openapi({ description: "What the role allows, narrowed to the token's scopes for a scoped token" }),
            scopes: z.array(z.string()).nullable().openapi({ description: "The scopes of the token this request used (null: not a scoped token)" }),
          })
          .openapi("Me"),
      ),
      ...errorResponses,
    },
  }),
  (c) => c.json(c.get("kb").admin.me(c.get("actor")), 200),
);

adminRoutes.openapi(
  createRoute({
    method: "get",
    path: "/directory",
    summary: "User and group names and classifications, to choose who may read an upload",
    description:
      "For those who may upload or manage documents (ingest, manage_own_documents, manage_all_documents or manage_users); enabled users and groups with their display names and sources (`local`, `oidc:<id>`, `ldap:<id>`, `scim:<id>`). `q`: names or display names containing it.",
    request: { query: z.object({ q: z.string().max(64).optional() }) },
    responses: {
      200: json(
        z
          .object({
            users: z.array(z.string()),
            userDetails: z.array(z.object({ name: z.string(), displayName: z.string().nullable(), source: z.string() })).openapi({ description: "The same users with their display names and sources" }),
            groups: z.array(z.object({ name: z.string(), description: z.string().nullable(), displayName: z.string().nullable(), source: z.string() })),
            classifications: z.array(z.object({ level: z.number().int(), label: z.string() })),
          })
          .openapi("Directory"),
      ),
      ...errorResponses,
    },
  }),
  async (c) => c.json(await c.get("kb").admin.directory(c.get("actor"), c.req.valid("query").q), 200),
);

// ---- groups ---------------------------------------------------------------------------------

adminRoutes.openapi(
  createRoute({ method: "get", path: "/admin/groups", summary: "List groups with their direct members", responses: { 200: json(z.object({ items: z.array(GroupSchema) })), ...errorResponses } }),
  async (c) => c.json({ items: await c.get("kb").admin.listGroups(c.get("actor")) }, 200),
);

adminRoutes.openapi(
  createRoute({
    method: "post",
    path: "/admin/groups",
    summary: "Create a group (members: user:<name> or group:<name>, groups may nest)",
    request: body(z.object({ name: Name, description: z.string().max(500).optional(), members: z.array(z.string()).optional() }).openapi("NewGroup")),
    responses: { 201: json(GroupSchema, "Created"), ...errorResponses },
  }),
  async (c) => {
    const { name, ...options } = c.req.valid("json");
    return c.json(await c.get("kb").admin.createGroup(c.get("actor"), name, options), 201);
  },
);

adminRoutes.openapi(
  createRoute({ method: "get", path: "/admin/groups/{name}", summary: "A group and its direct members", request: { params: NameParam }, responses: { 200: json(GroupSchema), ...errorResponses } }),
  async (c) => c.json(await c.get("kb").admin.getGroup(c.get("actor"), c.req.valid("param").name), 200),
);

adminRoutes.openapi(
  createRoute({ method: "delete", path: "/admin/groups/{name}", summary: "Delete a group (and its memberships)", request: { params: NameParam }, responses: { 204: { description: "Deleted" }, ...errorResponses } }),
  async (c) => {
    await c.get("kb").admin.deleteGroup(c.get("actor"), c.req.valid("param").name);
    return c.body(null, 204);
  },
);

adminRoutes.openapi(
  createRoute({
    method: "post",
    path: "/admin/groups/{name}/members",
    summary: "Add a member (user:<name> or group:<name>); a group member that would make a cycle is refused (409)",
    description: "Recorded as a manual membership. In a directory-managed group it is a manual override: kept through every sync until an admin removes it, audited with `override: true`.",
    request: { params: NameParam, ...body(z.object({ member: z.string().min(1).max(80) }).openapi("NewMember")) },
    responses: { 200: json(GroupSchema), 409: errorResponses[400], ...errorResponses },
  }),
  async (c) => c.json(await c.get("kb").admin.addMember(c.get("actor"), c.req.valid("param").name, c.req.valid("json").member), 200),
);

adminRoutes.openapi(
  createRoute({
    method: "delete",
    path: "/admin/groups/{name}/members/{member}",
    summary: "Remove a member (user:<name> or group:<name>)",
    description: "Removes the manual (admin's) membership. A membership only a directory wrote is refused with 409 `directory_membership`: change it in the directory.",
    request: { params: NameParam.extend({ member: z.string().min(1).max(80).openapi({ param: { name: "member", in: "path" } }) }) },
    responses: { 200: json(GroupSchema), 409: errorResponses[400], ...errorResponses },
  }),
  async (c) => {
    const { name, member } = c.req.valid("param");
    return c.json(await c.get("kb").admin.removeMember(c.get("actor"), name, member), 200);
  },
);

// ---- tokens ---------------------------------------------------------------------------------

adminRoutes.openapi(
  createRoute({
    method: "get",
    path: "/admin/tokens",
    summary: "List tokens (never the secrets), optionally of one user",
    request: { query: z.object({ user: Name.optional() }) },
    responses: { 200: json(z.object({ items: z.array(TokenSchema) })), ...errorResponses },
  }),
  async (c) => c.json({ items: await c.get("kb").admin.listTokens(c.get("actor"), c.req.valid("query").user) }, 200),
);

adminRoutes.openapi(
  createRoute({
    method: "post",
    path: "/admin/users/{name}/tokens",
    summary: "Create a token for a user; the secret is returned once",
    request: {
      params: NameParam,
      ...body(
        z
          .object({
            name: z.string().max(100).optional(),
            expiresInDays: z.number().positive().max(3650).optional(),
            expiresAt: z.string().datetime({ offset: true }).optional(),
            scopes: z.array(ScopeName).min(1).max(SCOPE_NAMES.length).optional().openapi({ description: "Omitted: everything the user's role allows" }),
            rateLimitPerMinute: z.number().int().min(0).max(MAX_TOKEN_RATE_PER_MINUTE).optional().openapi({ description: "The token's own requests per minute instead of the server's (0: unlimited)" }),
          })
          .openapi("NewToken"),
      ),
    },
    responses: { 201: json(z.object({ token: z.string(), info: TokenSchema }), "Created"), ...errorResponses },
  }),
  async (c) => c.json(await c.get("kb").admin.createToken(c.get("actor"), c.req.valid("param").name, c.req.valid("json")), 201),
);

adminRoutes.openapi(
  createRoute({ method: "post", path: "/admin/tokens/{id}/revoke", summary: "Revoke a token at once", request: { params: IdParam }, responses: { 200: json(TokenSchema), ...errorResponses } }),
  async (c) => c.json(await c.get("kb").admin.revokeToken(c.get("actor"), c.req.valid("param").id), 200),
);

adminRoutes.openapi(
  createRoute({
    method: "post",
    path: "/admin/tokens/{id}/expire",
    summary: "Set a token's expiry: `at` (ISO time), null for never; without `at`, it expires now",
    description: 'Optional JSON body `{ "at": "<ISO time>" | null }`; an empty body expires the token now.',
    request: { params: IdParam },
    responses: { 200: json(TokenSchema), ...errorResponses },
  }),
  async (c) => {
    const raw = await c.req.text();
    let at: string | null | undefined;
    if (raw.trim()) {
      const parsed = z.object({ at: z.string().datetime({ offset: true }).nullable().optional() }).safeParse(JSON.parse(raw));
      if (!parsed.success) throw badRequest("at: expected an ISO date-time or null", "invalid_request");
      at = parsed.data.at;
    }
    return c.json(await c.get("kb").admin.expireToken(c.get("actor"), c.req.valid("param").id, at), 200);
  },
);
