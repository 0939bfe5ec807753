/**
 * Declarative capability rules in the style of `allow(actor, action, subject, predicate)`:
 * each resource file registers who may do what, and routes ask `can`/`authorize`.
 * Anything not allowed by a rule is denied.
 */
import type { Actor } from "./actor.ts";
import { scopesPermit } from "./scopes.ts";

export interface Resource<S> {
  readonly name: string;
  /** Phantom field carrying the subject type. */
  readonly _subject?: S;
}

export function resource<S>(name: string): Resource<S> {
  return { name };
}

type Predicate<S> = (actor: Actor, subject: S) => boolean;

const registry = new Map<string, Predicate<unknown>[]>();

export function allow<S>(res: Resource<S>, actions: string | string[], predicate: Predicate<S>): void {
  for (const action of Array.isArray(actions) ? actions : [actions]) {
    const key = `${res.name}:${action}`;
    const list = registry.get(key) ?? [];
    list.push(predicate as Predicate<unknown>);
    registry.set(key, list);
  }
}

/** True when the actor's token scopes (if any) do not name this check (policies/scopes.ts). */
function outOfScope(actor: Actor, action: string, res: Resource<unknown>): boolean {
  return actor.scopes !== undefined && !scopesPermit(actor.scopes, res.name, action);
}

export function can<S>(actor: Actor, action: string, res: Resource<S>, subject: S): boolean {
  if (outOfScope(actor, action, res)) return false;
  const predicates = registry.get(`${res.name}:${action}`);
  if (!predicates) return false;
  return predicates.some((p) => p(actor, subject));
}

export class ForbiddenError extends Error {
  readonly status = 403;
  constructor(
    readonly action: string,
    readonly resourceName: string,
    /** Set when the request's token scopes do not cover the action (whatever the role allows): the scopes it had. */
    readonly scopes?: readonly string[],
  ) {
    super(scopes ? `not allowed to ${action} ${resourceName} with this token (scopes: ${scopes.join(", ") || "none"})` : `not allowed to ${action} ${resourceName}`);
    this.name = "ForbiddenError";
  }
}

export function authorize<S>(actor: Actor, action: string, res: Resource<S>, subject: S): void {
  if (!can(actor, action, res, subject)) throw new ForbiddenError(action, res.name, outOfScope(actor, action, res) ? actor.scopes : undefined);
}

/** The registered actions of a resource (for docs and tests). */
export function actionsOf(res: Resource<unknown>): string[] {
  const prefix = `${res.name}:`;
  return [...registry.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
}
