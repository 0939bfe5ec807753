/** SCIM discovery (RFC 7644 §4): ServiceProviderConfig, ResourceTypes, Schemas. */
import { Hono } from "hono";
import { listOf, resourceTypes, schemas, serviceProviderConfig } from "../../../domain/scim/discovery.ts";
import { scimNotFound } from "../../../domain/scim/errors.ts";
import { scimBase, scimJson, type ScimEnv } from "./common.ts";

export const scimDiscoveryRoutes = new Hono<ScimEnv>();

scimDiscoveryRoutes.get("/ServiceProviderConfig", (c) => scimJson(c, serviceProviderConfig(scimBase(c))));
scimDiscoveryRoutes.get("/ResourceTypes", (c) => scimJson(c, listOf(resourceTypes(scimBase(c)))));
scimDiscoveryRoutes.get("/ResourceTypes/:id", (c) => {
  const found = resourceTypes(scimBase(c)).find((r) => r.id === c.req.param("id"));
  if (!found) throw scimNotFound(`resource type ${JSON.stringify(c.req.param("id"))} not found`);
  return scimJson(c, found);
});
scimDiscoveryRoutes.get("/Schemas", (c) => scimJson(c, listOf(schemas(scimBase(c)))));
scimDiscoveryRoutes.get("/Schemas/:id", (c) => {
  const found = schemas(scimBase(c)).find((s) => s.id === c.req.param("id"));
  if (!found) throw scimNotFound(`schema ${JSON.stringify(c.req.param("id"))} not found`);
  return scimJson(c, found);
});
