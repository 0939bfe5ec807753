/**
 * SCIM Users and Groups as sent and as shown: what a request body must hold, what is kept of it,
 * and what a response shows (`attributes` / `excludedAttributes` projection, RFC 7644 §3.9).
 */
import { CORE_GROUP, CORE_USER, getAttr, isObject, keyOf, scimBoolean, splitUrn, type Json, type JsonObject } from "./attributes.ts";
import { invalidValue } from "./errors.ts";

/** Longest userName / displayName / externalId / member value accepted. */
export const MAX_NAME_LENGTH = 1024;

/** Never kept: set by the server (id, meta), described by the body (schemas), or not ours to keep (password, groups). */
const NOT_STORED = new Set(["id", "meta", "schemas", "password", "groups"]);

function requireSchema(body: JsonObject, schema: string): void {
  const schemas = getAttr(body, "schemas");
  if (!Array.isArray(schemas) || !schemas.some((s) => typeof s === "string" && s.toLowerCase() === schema.toLowerCase())) {
    throw invalidValue(`schemas must contain "${schema}"`);
  }
}

function optionalString(body: JsonObject, name: string): string | null {
  const v = getAttr(body, name);
  if (v === undefined || v === null) return null;
  if (typeof v !== "string") throw invalidValue(`${name} must be a string`);
  if (v.length > MAX_NAME_LENGTH) throw invalidValue(`${name} is longer than ${MAX_NAME_LENGTH} characters`);
  return v;
}

function requiredString(body: JsonObject, name: string): string {
  const v = optionalString(body, name);
  if (v === null || v.trim() === "") throw invalidValue(`${name} is required`);
  return v;
}

/** What is stored of a body: every attribute but the ones the server owns. */
function kept(body: JsonObject): JsonObject {
  return Object.fromEntries(Object.entries(body).filter(([k]) => !NOT_STORED.has(k.toLowerCase())));
}

export interface UserFacts {
  attributes: JsonObject;
  userName: string;
  externalId: string | null;
  /** undefined: the body did not say (a PUT without `active` keeps the current state). */
  active: boolean | undefined;
  /** For screens: displayName, else name.formatted, else given + family name, else userName. */
  displayName: string;
  /** The primary e-mail, else the first. */
  email: string | null;
}

export function userFacts(body: unknown, options: { requireSchemas: boolean }): UserFacts {
  if (!isObject(body)) throw invalidValue("a User must be a JSON object");
  if (options.requireSchemas) requireSchema(body, CORE_USER);
  const userName = requiredString(body, "userName").trim();
  const externalId = optionalString(body, "externalId");
  const rawActive = getAttr(body, "active");
  const active = rawActive === undefined || rawActive === null ? undefined : scimBoolean(rawActive, "active");
  const attributes = kept(body);
  // Stored as a boolean whatever the client sent ("False" from Entra ID), so filters and GETs agree.
  const activeKey = keyOf(attributes, "active");
  if (activeKey !== undefined) {
    if (active === undefined) delete attributes[activeKey];
    else attributes[activeKey] = active;
  }
  const userNameKey = keyOf(attributes, "userName")!;
  attributes[userNameKey] = userName;
  const name = getAttr(body, "name");
  const given = isObject(name) ? [getAttr(name, "givenName"), getAttr(name, "familyName")].filter((x): x is string => typeof x === "string" && x.trim() !== "").join(" ") : "";
  const formatted = isObject(name) ? getAttr(name, "formatted") : undefined;
  const display = optionalString(body, "displayName");
  const displayName = [display, typeof formatted === "string" ? formatted : null, given, userName].find((x) => typeof x === "string" && x.trim() !== "")!.trim();
  return { attributes, userName, externalId, active, displayName, email: primaryEmail(getAttr(body, "emails")) };
}

function primaryEmail(emails: Json | undefined): string | null {
  if (emails === undefined || emails === null) return null;
  if (!Array.isArray(emails)) throw invalidValue("emails must be an array");
  const values = emails.filter(isObject).filter((e) => typeof getAttr(e, "value") === "string");
  const isPrimary = (e: JsonObject) => {
    const p = getAttr(e, "primary");
    return p !== undefined && p !== null && scimBoolean(p, "emails.primary");
  };
  const chosen = values.find(isPrimary) ?? values[0];
  return chosen ? (getAttr(chosen, "value") as string) : null;
}

export interface GroupMember {
  value: string;
  /** "User" or "Group" when the client said so. */
  type?: string;
}

export interface GroupFacts {
  attributes: JsonObject;
  displayName: string;
  externalId: string | null;
  members: GroupMember[];
}

export function groupMembers(members: Json | undefined): GroupMember[] {
  if (members === undefined || members === null) return [];
  if (!Array.isArray(members)) throw invalidValue("members must be an array");
  const out = new Map<string, GroupMember>();
  for (const m of members) {
    if (!isObject(m)) throw invalidValue("each member must be an object with a value");
    const value = getAttr(m, "value");
    if (typeof value !== "string" || value === "" || value.length > MAX_NAME_LENGTH) throw invalidValue("each member needs a value (the member's id)");
    const type = getAttr(m, "type");
    if (type !== undefined && type !== null && (typeof type !== "string" || !/^(user|group)$/i.test(type))) throw invalidValue(`member type must be User or Group (got ${JSON.stringify(type)})`);
    out.set(value, { value, ...(typeof type === "string" ? { type: type.toLowerCase() === "user" ? "User" : "Group" } : {}) });
  }
  return [...out.values()];
}

export function groupFacts(body: unknown, options: { requireSchemas: boolean }): GroupFacts {
  if (!isObject(body)) throw invalidValue("a Group must be a JSON object");
  if (options.requireSchemas) requireSchema(body, CORE_GROUP);
  const displayName = requiredString(body, "displayName").trim();
  const externalId = optionalString(body, "externalId");
  const members = groupMembers(getAttr(body, "members"));
  const attributes = kept(body);
  attributes[keyOf(attributes, "displayName")!] = displayName;
  const mk = keyOf(attributes, "members");
  if (mk !== undefined) delete attributes[mk];
  return { attributes, displayName, externalId, members };
}

/** The schema URNs a resource shows: its core schema and each extension it holds. */
export function schemasOf(core: string, attributes: JsonObject): string[] {
  return [core, ...Object.keys(attributes).filter((k) => /^urn:/i.test(k) && isObject(attributes[k]))];
}

/** Parses `attributes=a,b.c` / `excludedAttributes=…` (comma-separated, case-insensitive). */
export function attributeList(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  const list = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return list.length ? list : undefined;
}

/**
 * The resource with only `attributes` (plus id and schemas, always returned), or without
 * `excluded`. Names may be `attr`, `attr.sub` or `urn:…:attr`.
 */
export function project(resource: JsonObject, core: string, attributes?: string[], excluded?: string[]): JsonObject {
  const paths = (list: string[]) =>
    list.map((p) => {
      const { urn, rest } = splitUrn(p, core);
      const [attr, sub] = rest.split(".");
      return { urn, attr: attr ?? "", sub };
    });
  if (attributes) {
    const out: JsonObject = {};
    for (const k of ["schemas", "id"]) if (resource[k] !== undefined) out[k] = resource[k]!;
    for (const { urn, attr, sub } of paths(attributes)) {
      const from = urn ? getAttr(resource, urn) : resource;
      if (!isObject(from)) continue;
      const target: JsonObject = urn ? ((out[keyOf(resource, urn)!] as JsonObject | undefined) ?? (out[keyOf(resource, urn)!] = {})) : out;
      if (!attr) {
        if (urn) Object.assign(target, from);
        continue;
      }
      const k = keyOf(from, attr);
      if (k === undefined) continue;
      const v = from[k]!;
      if (!sub) target[k] = v;
      else if (isObject(v)) {
        const sk = keyOf(v, sub);
        if (sk !== undefined) target[k] = { ...(isObject(target[k]) ? (target[k] as JsonObject) : {}), [sk]: v[sk]! };
      } else if (Array.isArray(v)) {
        target[k] = v.filter(isObject).map((el) => {
          const sk = keyOf(el, sub);
          return sk === undefined ? {} : { [sk]: el[sk]! };
        });
      }
    }
    return out;
  }
  if (excluded) {
    const out = structuredClone(resource);
    for (const { urn, attr, sub } of paths(excluded)) {
      if (!urn && ["id", "schemas"].includes(attr.toLowerCase())) continue; // returned always
      const from = urn ? getAttr(out, urn) : out;
      if (!isObject(from)) continue;
      if (!attr) {
        delete out[keyOf(out, urn!)!];
        continue;
      }
      const k = keyOf(from, attr);
      if (k === undefined) continue;
      const v = from[k];
      if (!sub) delete from[k];
      else if (isObject(v)) {
        const sk = keyOf(v, sub);
        if (sk !== undefined) delete v[sk];
      }
    }
    return out;
  }
  return resource;
}
