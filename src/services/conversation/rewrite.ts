/**
 * Follow-up rewriting for retrieval: "그럼 작년에는?" after "2024년 매출은 얼마야?" searches for
 * "2024년 매출 … 작년에는?" rather than for "작년". Only the retrieval query changes; the answerer
 * still gets the user's own question and the conversation.
 *
 * - With an LLM: a short prompt (previous turns + the follow-up → one standalone query), greedy,
 *   at most REWRITE_MAX_TOKENS tokens. Output that is empty, multi-line garbage or far longer than
 *   the conversation warrants is discarded in favour of the heuristic; so are LLM errors (busy,
 *   timeout): rewriting must never fail a question.
 * - Without one (or as the fallback): when the question looks elliptical (starts with 그럼/그러면/
 *   그건/and/what about…, refers back with 그것/it/that…, or is very short), the key words of the
 *   previous user question are put in front of it. A time expression in the follow-up ("작년",
 *   "last year", "2023") replaces the dates of the previous question instead of adding to them.
 * A question that does not look like a follow-up is returned unchanged (the LLM is not called).
 */
import { queryTokens } from "../../domain/analysis/index.ts";
import { stripKoreanSuffix } from "../../domain/analysis/korean.ts";

export interface ConversationTurn {
  role: "user" | "assistant";
  content: string;
}

/** The part of an LLM provider the rewriter uses (see src/models/llm.ts). */
export interface RewriteLlm {
  generate(request: {
    messages: { role: "system" | "user" | "assistant"; content: string }[];
    maxTokens: number;
    temperature?: number;
    signal?: AbortSignal;
    timeoutMs?: number;
  }): Promise<{ text: string }>;
}

export interface RewriteOptions {
  signal?: AbortSignal;
  /** Time limit for the LLM rewrite (default 15 s); the heuristic answers after it. */
  timeoutMs?: number;
}

export const REWRITE_MAX_TOKENS = 48;
const MAX_KEY_TERMS = 6;
/** Questions with at most this many content terms are treated as elliptical. */
const SHORT_QUESTION_TERMS = 2;

const FOLLOW_UP_START_RE =
  /^\s*(?:그럼|그러면|그렇다면|그건|그거는?|그것은?|그리고|그럼요|그 ?다음(?:은|에는)?|또|또는|아니면|근데|그런데|and|but|so|then|also|what about|how about|and what|what else|or|same for|is that|was that|does that|did that)(?![\p{L}\p{N}])/iu;
const ANAPHORA_RE =
  /(?:^|[^\p{L}])(?:it|its|that|this|those|these|they|them|their|he|she|his|her|there|the same)(?![\p{L}])|그것|그거|이것|이거|저것|거기|그곳|그분|그 사람|그 회사|해당|위의|앞의|그때|그 ?중/iu;
const TIME_RE =
  /작년|올해|내년|재작년|지난 ?(?:해|달|주|분기)|이번 ?(?:해|달|주|분기)|다음 ?(?:해|달|주|분기)|전년|금년|[12]\d{3}\s*년?|\d{1,2}\s*월|\d\s*분기|(?:last|this|next|previous) (?:year|month|quarter|week)|\bq[1-4]\b|\b(?:19|20)\d{2}\b/i;
const TIME_TERM_RE = /^(?:\d+|[12]\d{3}년?|\d{1,2}월|\d분기|작년|올해|내년|재작년|전년|금년|last|this|next|previous|year|month|quarter|week|q[1-4])$/i;
/** Korean interrogatives, matched at the start of a word ("얼마야", "며칠이야", "어떻게"). */
const KO_QUESTION_PREFIX_RE = /^(?:얼마|며칠|몇|무엇|뭐|뭘|무슨|어떻|어떤|어느|어디|언제|누구|누가|왜)/;
/** Request words that carry no topic ("how many … do we get", "tell me …"). */
const EN_FILLER = new Set(["many", "much", "get", "got", "tell", "know", "please", "give", "show", "explain", "list", "describe", "need", "want"]);
/** Leading connectives dropped from the follow-up when the previous terms are prepended. */
const LEADING_CONNECTIVE_RE = /^\s*(?:그럼|그러면|그렇다면|그리고|근데|그런데|and|so|then|also|but|what about|how about)(?![\p{L}\p{N}])[\s,]*/iu;

function previousUserQuestion(history: ConversationTurn[]): string | undefined {
  for (let i = history.length - 1; i >= 0; i--) {
    const t = history[i]!;
    if (t.role === "user" && t.content.trim()) return t.content.trim();
  }
  return undefined;
}

/** Whether the question leans on the conversation (elliptical, referring back, or tiny). */
export function looksLikeFollowUp(question: string): boolean {
  const q = question.trim();
  if (!q) return false;
  if (FOLLOW_UP_START_RE.test(q) || ANAPHORA_RE.test(q)) return true;
  const words = new Set(queryTokens(q).map((t) => `${t.start}:${t.end}`));
  return words.size <= SHORT_QUESTION_TERMS;
}

/**
 * Content words of a question, as written (Korean words without their particles/endings), in
 * order, without question words and stop words.
 */
export function keyTerms(text: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const t of queryTokens(text)) {
    const key = `${t.start}:${t.end}`;
    if (seen.has(key)) continue;
    seen.add(key);
    let word = text.slice(t.start, t.end).replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, "");
    if (/^[\uAC00-\uD7A3]+$/.test(word)) {
      if (KO_QUESTION_PREFIX_RE.test(word)) continue;
      word = stripKoreanSuffix(word);
    } else {
      word = word.replace(/['’]s$/i, "");
      if (EN_FILLER.has(word.toLowerCase())) continue;
    }
    if (word && !out.includes(word)) out.push(word);
  }
  return out;
}

/** Rewrites without a model (pure). Returns the question unchanged when it is not a follow-up. */
export function rewriteFollowUpHeuristic(question: string, history: ConversationTurn[]): string {
  const q = question.trim();
  const previous = previousUserQuestion(history);
  if (!previous || !looksLikeFollowUp(q)) return q;
  const own = new Set(keyTerms(q).map((t) => t.toLowerCase()));
  const hasTime = TIME_RE.test(q);
  const carried = keyTerms(previous)
    .filter((t) => !own.has(t.toLowerCase()))
    .filter((t) => !(hasTime && TIME_TERM_RE.test(t)))
    .slice(0, MAX_KEY_TERMS);
  if (carried.length === 0) return q;
  const rest = q.replace(LEADING_CONNECTIVE_RE, "").trim() || q;
  return `${carried.join(" ")} ${rest}`;
}

const REWRITE_SYSTEM =
  "Rewrite the user's last question as one standalone search query that can be understood without the conversation. " +
  "Keep the language of the question (Korean stays Korean). Replace pronouns and omitted subjects with what they refer to. " +
  "Output only the query on one line, with no explanation and no quotes.";

function buildRewritePrompt(question: string, history: ConversationTurn[]) {
  const turns = history
    .slice(-4)
    .map((t) => `${t.role === "user" ? "User" : "Assistant"}: ${t.content.replace(/\s*\[\d{1,3}(?:\s*,\s*\d{1,3})*\]/g, "").replace(/\s+/g, " ").trim().slice(0, 400)}`)
    .join("\n");
  return [
    { role: "system" as const, content: REWRITE_SYSTEM },
    { role: "user" as const, content: `Conversation:\n${turns}\n\nLast question: ${question}\n\nStandalone query:` },
  ];
}

/** Cleans the model's output; null when it is not a usable query. */
export function cleanRewrite(output: string, question: string, history: ConversationTurn[]): string | null {
  const line = output
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l.length > 0);
  if (!line) return null;
  const q = line
    .replace(/^(?:standalone (?:search )?query|query|rewritten(?: question)?|질문|검색어)\s*[:：]\s*/i, "")
    .replace(/^["'“”‘’「『]+|["'“”‘’」』]+$/g, "")
    .trim();
  if (q.length < 2) return null;
  const context = (previousUserQuestion(history) ?? "").length + question.length;
  if (q.length > Math.max(200, context * 2)) return null;
  // It must be about the conversation: share a content term with the question or the previous one.
  const anchor = new Set([...keyTerms(question), ...keyTerms(previousUserQuestion(history) ?? "")].map((t) => t.toLowerCase()));
  const terms = keyTerms(q).map((t) => t.toLowerCase());
  if (anchor.size > 0 && !terms.some((t) => anchor.has(t))) return null;
  return q;
}

/**
 * A standalone retrieval query for `question` given the conversation so far. Uses the LLM when
 * given (falls back to the heuristic on any failure or unusable output).
 */
export async function rewriteFollowUp(question: string, history: ConversationTurn[], llm?: RewriteLlm, options: RewriteOptions = {}): Promise<string> {
  const q = question.trim();
  if (!previousUserQuestion(history) || !looksLikeFollowUp(q)) return q;
  if (llm) {
    try {
      const res = await llm.generate({
        messages: buildRewritePrompt(q, history),
        maxTokens: REWRITE_MAX_TOKENS,
        temperature: 0,
        timeoutMs: options.timeoutMs ?? 15_000,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      const cleaned = cleanRewrite(res.text, q, history);
      if (cleaned) return cleaned;
    } catch {
      // busy, timeout, closed: the heuristic still gives retrieval something better than the bare follow-up
    }
  }
  return rewriteFollowUpHeuristic(q, history);
}
