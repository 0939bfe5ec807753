/** /scim/v2/Users and /scim/v2/Groups (RFC 7644 §3): list with filter and paging, get, create, replace, patch, delete. */
import { Hono } from "hono";
import { jsonBody, queryOf, scimBase, scimJson, type ScimEnv } from "./common.ts";

export const scimResourceRoutes = new Hono<ScimEnv>();

for (const [endpoint, type] of [
  ["Users", "User"],
  ["Groups", "Group"],
] as const) {
  scimResourceRoutes.get(`/${endpoint}`, async (c) => scimJson(c, await c.get("kb").scim.list(c.get("scimClient"), type, queryOf(c), scimBase(c))));
  scimResourceRoutes.get(`/${endpoint}/:id`, async (c) => scimJson(c, await c.get("kb").scim.get(c.get("scimClient"), type, c.req.param("id"), queryOf(c), scimBase(c))));
  scimResourceRoutes.post(`/${endpoint}`, async (c) => {
    const scim = c.get("kb").scim;
    const body = await jsonBody(c);
    const created = type === "User" ? await scim.createUser(c.get("scimClient"), body, scimBase(c)) : await scim.createGroup(c.get("scimClient"), body, scimBase(c));
    return scimJson(c, created.resource, 201, { Location: created.location });
  });
  scimResourceRoutes.put(`/${endpoint}/:id`, async (c) => {
    const scim = c.get("kb").scim;
    const body = await jsonBody(c);
    const id = c.req.param("id");
    return scimJson(c, type === "User" ? await scim.replaceUser(c.get("scimClient"), id, body, scimBase(c)) : await scim.replaceGroup(c.get("scimClient"), id, body, scimBase(c)));
  });
  scimResourceRoutes.patch(`/${endpoint}/:id`, async (c) => {
    const scim = c.get("kb").scim;
    const body = await jsonBody(c);
    const id = c.req.param("id");
    if (type === "User") return scimJson(c, await scim.patchUser(c.get("scimClient"), id, body, scimBase(c)));
    // Groups: 204 (Entra ID asks for no member list back), or the group when `attributes` asks for it.
    const group = await scim.patchGroup(c.get("scimClient"), id, body, scimBase(c));
    if (c.req.query("attributes") === undefined) return c.body(null, 204);
    return scimJson(c, await scim.get(c.get("scimClient"), type, group.id as string, queryOf(c), scimBase(c)));
  });
  scimResourceRoutes.delete(`/${endpoint}/:id`, async (c) => {
    const scim = c.get("kb").scim;
    const id = c.req.param("id");
    if (type === "User") await scim.deleteUser(c.get("scimClient"), id);
    else await scim.deleteGroup(c.get("scimClient"), id);
    return c.body(null, 204);
  });
}
