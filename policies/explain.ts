/**
 * `kb policy explain`: why may (or may not) this user read this document? Built from the same
 * rule data that `evaluate` and the LanceDB filter use: the read rule is run through the
 * `explain` interpreter and its evidence put into words. Nothing here re-decides access.
 */
import { principalsOf, type Actor } from "./actor.ts";
import { classificationLabel } from "./classification.ts";
import { matchingRules, type DocumentFacts, type DocumentRules } from "./document-rules.ts";
import { documentReadRule, Document, type DocumentSubject } from "./documents.ts";
import { actionsOf, can } from "./policy.ts";
import { explain, type Explanation } from "./rule.ts";

export interface ReadExplanation {
  allowed: boolean;
  /** One line per finding, most important first. */
  reasons: string[];
  principals: string[];
  /** The rule evaluation tree (for --json). */
  trace: Explanation;
  /** Document actions the actor may take (update, delete, set_acl, ...). */
  actions: Record<string, boolean>;
  /** Default rules that match the document's facts now (what a new document at this source would get). */
  defaultRules: string[];
}

/** Where a user or group comes from, for words only (never for the decision). */
export interface PrincipalInfo {
  /** "인사 팀", "김철수": shown in quotes after the principal. */
  displayName?: string | null;
  /** `local`, or the directory that manages it (`ldap:corp`): shown unless local. */
  source?: string;
}

/** `group:corp~6b3c… "인사 팀"`: a principal with its display name, when it has one. */
export function principalLabel(principal: string, info?: PrincipalInfo): string {
  return info?.displayName ? `${principal} ${JSON.stringify(info.displayName)}` : principal;
}

/**
 * `via` maps a group principal to how the user is a member (e.g. "group:seoul → group:hr",
 * with display names and any manual override said by the caller); `principals` gives display
 * names and sources, so a directory group reads `group:corp~6b3c… "인사 팀" (ldap:corp; member
 * via …)`.
 */
export function explainRead(
  actor: Actor,
  doc: DocumentSubject,
  context: { via?: Record<string, string>; principals?: Record<string, PrincipalInfo>; rules?: DocumentRules; facts?: DocumentFacts } = {},
): ReadExplanation {
  const trace = explain(documentReadRule(actor), doc);
  const reasons: string[] = [];
  const named = (p: string) => {
    const info = context.principals?.[p];
    const notes = [...(info?.source && info.source !== "local" ? [info.source] : []), ...(context.via?.[p] ? [`member via ${context.via[p]}`] : [])];
    return `${principalLabel(p, info)}${notes.length ? ` (${notes.join("; ")})` : ""}`;
  };
  walk(trace, (node, parentNegated) => {
    if (node.op === "true" && node.because) reasons.push(`allowed: ${node.because}`);
    if (node.op === "overlaps" && node.matched) {
      const shared = node.matched as string[];
      const column = node.test.split(" ")[0];
      if (column === "allow") {
        reasons.push(
          shared.length
            ? `allow list grants access to ${shared.map(named).join(", ")}`
            : `not allowed: the allow list [${doc.allow.join(", ")}] names none of your principals`,
        );
      } else if (column === "deny") {
        reasons.push(
          shared.length
            ? `DENIED: the deny list names ${shared.map(named).join(", ")} (deny wins over allow)`
            : parentNegated
              ? `no deny entry applies${doc.deny.length ? ` (deny list: ${doc.deny.join(", ")})` : ""}`
              : `deny list names none of your principals`,
        );
      }
    }
    if (node.op === "atMost" && node.matched) {
      const [value, limit] = node.matched as number[];
      const docLabel = `${classificationLabel(value!)} (${value})`;
      const clearance = limit! >= Number.MAX_SAFE_INTEGER ? "unlimited" : `${classificationLabel(limit!)} (${limit})`;
      reasons.push(node.result ? `clearance ${clearance} covers classification ${docLabel}` : `CLEARANCE TOO LOW: classification ${docLabel} is above your clearance ${clearance}`);
    }
  });
  // Failures first: they are why access is denied.
  reasons.sort((a, b) => Number(/^(DENIED|CLEARANCE|not allowed)/.test(b)) - Number(/^(DENIED|CLEARANCE|not allowed)/.test(a)));
  const actions: Record<string, boolean> = {};
  for (const action of actionsOf(Document)) actions[action] = can(actor, action, Document, doc);
  return {
    allowed: trace.result,
    reasons,
    principals: principalsOf(actor),
    trace,
    actions,
    defaultRules: context.rules && context.facts ? matchingRules(context.rules, context.facts).map((r) => r.name) : [],
  };
}

function walk(node: Explanation, visit: (node: Explanation, parentNegated: boolean) => void, negated = false): void {
  visit(node, negated);
  for (const child of node.children ?? []) walk(child, visit, node.op === "not");
}
