/**
 * Attribute names and values in SCIM resources (RFC 7643): names are case-insensitive, an
 * extension's attributes live under its schema URN, and a few IdPs send booleans as strings.
 */
import { invalidValue } from "./errors.ts";

export const CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User";
export const CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
export const ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
export const LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
export const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

export const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

/** The key of `obj` that is `name` ignoring case, or undefined. */
export function keyOf(obj: JsonObject, name: string): string | undefined {
  if (Object.hasOwn(obj, name)) return name;
  const lower = name.toLowerCase();
  return Object.keys(obj).find((k) => k.toLowerCase() === lower);
}

export function getAttr(obj: JsonObject, name: string): Json | undefined {
  const k = keyOf(obj, name);
  return k === undefined ? undefined : obj[k];
}

/** Sets `name` on `obj`, reusing the spelling of an existing key. */
export function setAttr(obj: JsonObject, name: string, value: Json): void {
  obj[keyOf(obj, name) ?? name] = value;
}

export function deleteAttr(obj: JsonObject, name: string): boolean {
  const k = keyOf(obj, name);
  if (k === undefined) return false;
  delete obj[k];
  return true;
}

/**
 * A path's schema URN and the attribute names after it: `name.givenName` → [undefined, name,
 * givenName]; `urn:…:enterprise:2.0:User:employeeNumber` → [that URN, employeeNumber]. A core
 * schema's URN is dropped (its attributes sit at the top level).
 */
export function splitUrn(path: string, coreSchema: string): { urn: string | undefined; rest: string } {
  if (!/^urn:/i.test(path)) return { urn: undefined, rest: path };
  if (path.toLowerCase().startsWith(`${coreSchema.toLowerCase()}:`)) return { urn: undefined, rest: path.slice(coreSchema.length + 1) };
  if (path.toLowerCase() === coreSchema.toLowerCase()) return { urn: undefined, rest: "" };
  // The URN ends at the last ':' before the attribute (attribute names contain no ':'). A bare
  // extension URN (`…:2.0:User`, a version before the last part) names the extension object.
  const parts = path.split(":");
  if (parts.length >= 2 && /^\d+(\.\d+)*$/.test(parts[parts.length - 2]!)) return { urn: path, rest: "" };
  const i = path.lastIndexOf(":");
  return { urn: path.slice(0, i), rest: path.slice(i + 1) };
}

/** A boolean as SCIM clients send it: true/false, or (Entra ID) "True"/"False". */
export function scimBoolean(value: unknown, what: string): boolean {
  if (typeof value === "boolean") return value;
  if (typeof value === "string" && /^(true|false)$/i.test(value.trim())) return value.trim().toLowerCase() === "true";
  throw invalidValue(`${what} must be a boolean (got ${JSON.stringify(value)})`);
}

export const deepCopy = <T extends Json>(v: T): T => structuredClone(v);
