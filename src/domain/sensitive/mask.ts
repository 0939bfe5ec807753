/**
 * Masking: the one function every output path uses (through the services) to hide personal
 * data from users without the `view_sensitive` capability. It re-runs the deterministic
 * detector on the text about to leave, so it covers chunk text, page text, titles and anything
 * derived from them, including documents ingested before their spans were recorded.
 */
import { detectSensitive, type SensitiveKind, type SensitiveSpan } from "./detect.ts";

export const MASK_LABEL: Record<SensitiveKind, string> = {
  rrn: "[REDACTED:rrn]",
  card: "[REDACTED:card]",
  phone: "[REDACTED:phone]",
  account: "[REDACTED:account]",
  email: "[REDACTED:email]",
};

/** Replaces the given spans (non-overlapping, any order) with their labels. */
export function maskSpans(text: string, spans: readonly SensitiveSpan[]): string {
  if (spans.length === 0) return text;
  const sorted = [...spans].sort((a, b) => a.start - b.start);
  let out = "";
  let at = 0;
  for (const s of sorted) {
    if (s.start < at) continue;
    out += text.slice(at, s.start) + MASK_LABEL[s.kind];
    at = s.end;
  }
  return out + text.slice(at);
}

/**
 * Detects and masks personal data in `text`. Masking changes the text around a value (a
 * number glued to another becomes separable), so it repeats until nothing is detected.
 */
export function maskSensitive(text: string): string {
  let out = text;
  for (let i = 0; i < 4; i++) {
    const spans = detectSensitive(out);
    if (spans.length === 0) return out;
    out = maskSpans(out, spans);
  }
  return out;
}
