/**
 * SCIM PATCH (RFC 7644 §3.5.2) applied to a resource's JSON: `add`, `remove`, `replace`, `op`
 * in any case (Entra ID sends "Add", "Replace", "Remove"), paths `attr`, `attr.sub`,
 * `urn:…:attr`, `attr[filter]` and `attr[filter].sub`, and a `replace`/`add` without a path
 * whose value is an object of attributes (Okta, Entra ID; Entra's keys may be paths themselves:
 * `"name.givenName": "…"`). The result is a new object; the caller validates it as a whole.
 */
import { deepCopy, deleteAttr, getAttr, isObject, keyOf, PATCH_OP, setAttr, splitUrn, type Json, type JsonObject } from "./attributes.ts";
import { invalidPath, invalidSyntax, invalidValue, mutability, noTarget, ScimError } from "./errors.ts";
import { matches, parseFilter, type Filter } from "./filter.ts";

export type PatchOp = "add" | "remove" | "replace";
export interface PatchOperation {
  op: PatchOp;
  path?: string;
  value?: Json;
}

/** Operations per request, at most (each may rewrite a large group's member list). */
export const MAX_OPERATIONS = 1000;

/** Attributes that hold several values (RFC 7643 §4.1.2, §4.2): `add` appends to them. */
const MULTI_VALUED = new Set(["emails", "phonenumbers", "ims", "photos", "addresses", "groups", "entitlements", "roles", "x509certificates", "members"]);
/** Set by the server: a change is refused (an equal `id`, as Okta sends, is accepted). */
const READ_ONLY = new Set(["id", "meta", "groups"]);

/** The operations of a PatchOp request body, checked. */
export function parsePatchRequest(body: unknown): PatchOperation[] {
  if (!isObject(body)) throw invalidSyntax("a PATCH body must be a PatchOp object");
  const schemas = getAttr(body, "schemas");
  if (!Array.isArray(schemas) || !schemas.some((s) => typeof s === "string" && s.toLowerCase() === PATCH_OP.toLowerCase())) throw invalidSyntax(`schemas must contain "${PATCH_OP}"`);
  const ops = getAttr(body, "Operations");
  if (!Array.isArray(ops) || ops.length === 0) throw invalidSyntax("Operations must be a non-empty array");
  if (ops.length > MAX_OPERATIONS) throw new ScimError(400, "tooMany", `at most ${MAX_OPERATIONS} operations per request`);
  return ops.map((o, i) => {
    if (!isObject(o)) throw invalidSyntax(`Operations[${i}] must be an object`);
    const op = getAttr(o, "op");
    const kind = typeof op === "string" ? op.toLowerCase() : "";
    if (kind !== "add" && kind !== "remove" && kind !== "replace") throw invalidSyntax(`Operations[${i}].op must be add, remove or replace (got ${JSON.stringify(op)})`);
    const path = getAttr(o, "path");
    if (path !== undefined && path !== null && typeof path !== "string") throw invalidPath(`Operations[${i}].path must be a string`);
    const value = getAttr(o, "value");
    if (kind !== "remove" && value === undefined) throw invalidValue(`Operations[${i}] (${kind}) needs a value`);
    return { op: kind, ...(path ? { path: path.trim() } : {}), ...(value !== undefined ? { value } : {}) };
  });
}

interface ParsedPath {
  /** An extension schema URN whose object holds the attribute. */
  urn?: string;
  attr: string;
  filter?: Filter;
  sub?: string;
}

const NAME = /^[A-Za-z][\w$-]*$/;

/** `attr`, `attr.sub`, `attr[filter]`, `attr[filter].sub`, each optionally after a schema URN. */
export function parsePath(path: string, coreSchema: string): ParsedPath {
  const bracket = path.indexOf("[");
  const head = bracket < 0 ? path : path.slice(0, bracket);
  const { urn, rest } = splitUrn(head, coreSchema);
  if (bracket < 0) {
    const parts = rest.split(".");
    if (parts.length > 2 || !parts.every((p) => NAME.test(p))) throw invalidPath(`invalid path ${JSON.stringify(path)}`);
    return { ...(urn ? { urn } : {}), attr: parts[0]!, ...(parts[1] ? { sub: parts[1] } : {}) };
  }
  const close = path.lastIndexOf("]");
  if (close < bracket || !NAME.test(rest)) throw invalidPath(`invalid path ${JSON.stringify(path)}`);
  const after = path.slice(close + 1);
  if (after && !/^\.[A-Za-z][\w$-]*$/.test(after)) throw invalidPath(`invalid path ${JSON.stringify(path)}`);
  let filter: Filter;
  try {
    filter = parseFilter(path.slice(bracket + 1, close));
  } catch (err) {
    throw invalidPath(`invalid filter in path ${JSON.stringify(path)}: ${(err as Error).message}`);
  }
  return { ...(urn ? { urn } : {}), attr: rest, filter, ...(after ? { sub: after.slice(1) } : {}) };
}

/** Equal values, and complex values with the same `value` (a member, an e-mail) are one value. */
function sameValue(a: Json, b: Json): boolean {
  if (isObject(a) && isObject(b)) {
    const va = getAttr(a, "value");
    const vb = getAttr(b, "value");
    if (va !== undefined && vb !== undefined) return JSON.stringify(va) === JSON.stringify(vb);
  }
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The `a eq "x" and b eq "y"` of a filter, to create the value a `replace` found missing (Entra's `emails[type eq "work"].value`). */
function equalities(f: Filter): JsonObject | null {
  if (f.op === "eq" && NAME.test(f.attrPath) && f.compValue !== null && typeof f.compValue !== "object") return { [f.attrPath]: f.compValue };
  if (f.op === "and") {
    const parts = f.filters.map(equalities);
    if (parts.every((p) => p !== null)) return Object.assign({}, ...parts) as JsonObject;
  }
  return null;
}

class Patcher {
  constructor(
    private readonly resource: JsonObject,
    private readonly coreSchema: string,
  ) {}

  private container(p: ParsedPath, create: boolean): JsonObject | undefined {
    if (!p.urn) return this.resource;
    const ext = getAttr(this.resource, p.urn);
    if (isObject(ext)) return ext;
    if (!create) return undefined;
    const made: JsonObject = {};
    setAttr(this.resource, p.urn, made);
    return made;
  }

  private checkWritable(p: ParsedPath, value?: Json): void {
    if (p.urn || !READ_ONLY.has(p.attr.toLowerCase())) return;
    if (p.attr.toLowerCase() === "id" && !p.sub && !p.filter && value !== undefined && value === getAttr(this.resource, "id")) return;
    throw mutability(`"${p.attr}" is read-only`);
  }

  apply(o: PatchOperation): void {
    if (!o.path) {
      if (o.op === "remove") throw noTarget("remove needs a path");
      if (!isObject(o.value)) throw invalidValue(`${o.op} without a path needs an object of attributes as its value`);
      for (const [key, value] of Object.entries(o.value)) {
        if (key.toLowerCase() === "schemas") continue;
        const { urn, rest } = splitUrn(key, this.coreSchema);
        if (urn && !rest && isObject(value)) {
          // An extension's object: each of its attributes in turn.
          for (const [k, v] of Object.entries(value)) this.applyPath(o.op, { urn, ...this.plain(k, key) }, v);
        } else {
          this.applyPath(o.op, parsePath(key, this.coreSchema), value);
        }
      }
      return;
    }
    this.applyPath(o.op, parsePath(o.path, this.coreSchema), o.value);
  }

  private plain(name: string, within: string): Omit<ParsedPath, "urn"> {
    const parts = name.split(".");
    if (parts.length > 2 || !parts.every((p) => NAME.test(p))) throw invalidPath(`invalid attribute ${JSON.stringify(name)} in ${JSON.stringify(within)}`);
    return { attr: parts[0]!, ...(parts[1] ? { sub: parts[1] } : {}) };
  }

  private applyPath(op: PatchOp, p: ParsedPath, value: Json | undefined): void {
    this.checkWritable(p, value);
    if (op === "remove") return this.remove(p, value);
    if (value === undefined) throw invalidValue(`${op} needs a value`);
    const c = this.container(p, true)!;
    if (p.filter) return this.replaceFiltered(c, p, value);
    if (p.sub) {
      const parent = getAttr(c, p.attr);
      if (Array.isArray(parent)) {
        // `emails.value` on a multi-valued attribute: every value's sub-attribute.
        if (parent.length === 0) throw noTarget(`"${p.attr}" has no values`);
        for (const el of parent) if (isObject(el)) setAttr(el, p.sub, deepCopy(value));
        return;
      }
      const obj = isObject(parent) ? parent : {};
      if (op === "add" && isObject(getAttr(obj, p.sub)) && isObject(value)) Object.assign(getAttr(obj, p.sub) as JsonObject, deepCopy(value));
      else setAttr(obj, p.sub, deepCopy(value));
      setAttr(c, p.attr, obj);
      return;
    }
    const existing = getAttr(c, p.attr);
    const multi = MULTI_VALUED.has(p.attr.toLowerCase()) || Array.isArray(existing);
    if (multi) {
      const values = Array.isArray(value) ? value : [value];
      if (op === "replace") {
        setAttr(c, p.attr, deepCopy(values));
        return;
      }
      const list = Array.isArray(existing) ? existing : [];
      for (const v of values) if (!list.some((x) => sameValue(x, v))) list.push(deepCopy(v));
      setAttr(c, p.attr, list);
      return;
    }
    if (op === "add" && isObject(existing) && isObject(value)) {
      Object.assign(existing, deepCopy(value));
      return;
    }
    setAttr(c, p.attr, deepCopy(value));
  }

  private replaceFiltered(c: JsonObject, p: ParsedPath, value: Json): void {
    const list = getAttr(c, p.attr);
    const items = Array.isArray(list) ? list : [];
    const hit = items.filter((el) => matches(el, p.filter!, this.coreSchema));
    if (hit.length === 0) {
      // Nothing matched: a value the filter describes fully is created (Entra ID sets
      // `emails[type eq "work"].value` on a user who has no work address yet).
      const seed = equalities(p.filter!);
      if (!seed) throw noTarget(`no value of "${p.attr}" matches the path's filter`);
      const made: JsonObject = { ...seed };
      if (p.sub) made[p.sub] = deepCopy(value);
      else if (isObject(value)) Object.assign(made, deepCopy(value));
      else throw invalidValue(`the value for "${p.attr}[…]" must be an object`);
      setAttr(c, p.attr, [...items, made]);
      return;
    }
    for (const el of hit) {
      if (!isObject(el)) continue;
      if (p.sub) setAttr(el, p.sub, deepCopy(value));
      else if (isObject(value)) Object.assign(el, deepCopy(value));
      else throw invalidValue(`the value for "${p.attr}[…]" must be an object`);
    }
  }

  private remove(p: ParsedPath, value: Json | undefined): void {
    const c = this.container(p, false);
    if (!c) return;
    const k = keyOf(c, p.attr);
    if (k === undefined) return; // nothing to remove: removing is idempotent
    const current = c[k]!;
    if (p.filter) {
      if (!Array.isArray(current)) throw invalidPath(`"${p.attr}" is not multi-valued`);
      if (p.sub) {
        for (const el of current) if (isObject(el) && matches(el, p.filter, this.coreSchema)) deleteAttr(el, p.sub);
        return;
      }
      const kept = current.filter((el) => !matches(el, p.filter!, this.coreSchema));
      if (kept.length) c[k] = kept;
      else delete c[k];
      return;
    }
    if (p.sub) {
      if (isObject(current)) deleteAttr(current, p.sub);
      else if (Array.isArray(current)) for (const el of current) if (isObject(el)) deleteAttr(el, p.sub);
      return;
    }
    if (Array.isArray(current) && value !== undefined && value !== null) {
      // Entra ID's older form: remove the listed values ({"op":"Remove","path":"members","value":[{"value":"…"}]}).
      const gone = Array.isArray(value) ? value : [value];
      const kept = current.filter((x) => !gone.some((g) => sameValue(x, g)));
      if (kept.length) c[k] = kept;
      else delete c[k];
      return;
    }
    delete c[k];
  }
}

/** `resource` with the operations applied in order (a copy; `resource` is not changed). */
export function applyPatch(resource: JsonObject, ops: PatchOperation[], coreSchema: string): JsonObject {
  const copy = deepCopy(resource);
  const patcher = new Patcher(copy, coreSchema);
  for (const o of ops) patcher.apply(o);
  return copy;
}
