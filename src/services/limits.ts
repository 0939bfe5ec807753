/**
 * The free-text limits (src/domain/limits.ts) enforced at the service boundary, so HTTP, the
 * CLI and the OpenAI-compatible endpoint refuse the same inputs with the same error.
 */
import { TEXT_LIMITS } from "../domain/limits.ts";
import { ServiceError } from "./errors.ts";

export { TEXT_LIMITS };

/** 400 `too_long` when `value` is longer than `max` characters; undefined passes. */
export function requireMaxLength(field: string, value: string | undefined | null, max: number): void {
  if (value == null || value.length <= max) return;
  throw new ServiceError(400, "too_long", `${field} must be at most ${max} characters (got ${value.length})`);
}

/** The message zod reports for the same limit on an HTTP field (the field name is put in front). */
export const tooLongMessage = (max: number) => `must be at most ${max} characters`;

/** A question and the conversation sent with it (by a client, or loaded) within the text limits. */
export function requireAskText(question: string, history: readonly { content: string }[] = []): void {
  requireMaxLength("question", question, TEXT_LIMITS.query);
  for (const [i, m] of history.entries()) requireMaxLength(`messages[${i}]`, m.content, TEXT_LIMITS.message);
}
