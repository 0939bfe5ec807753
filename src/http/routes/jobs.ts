import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { can, Job } from "../../../policies/index.ts";
import { notFound } from "../../services/errors.ts";
import type { AppEnv } from "../env.ts";
import { JobSchema, errorResponses } from "../schemas.ts";

export const jobRoutes = new OpenAPIHono<AppEnv>();

jobRoutes.openapi(
  createRoute({
    method: "get",
    path: "/jobs/{id}",
    summary: "Job status, progress and per-file outcomes",
    request: { params: z.object({ id: z.string().min(1).max(100).openapi({ param: { name: "id", in: "path" } }) }) },
    responses: { 200: { description: "The job", content: { "application/json": { schema: JobSchema } } }, ...errorResponses },
  }),
  (c) => {
    const kb = c.get("kb");
    const id = c.req.valid("param").id;
    const job = kb.jobsRepo.byId(id);
    if (!job || !can(c.get("actor"), "read", Job, { createdBy: job.createdBy })) throw notFound("job");
    return c.json(kb.ingest.view(id)!, 200);
  },
);
