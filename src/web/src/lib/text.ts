/** Text helpers of the web app, pure (no DOM), so the server-side tests can check them. */

/**
 * Where the quote is in the text: exactly, else ignoring whitespace differences, else the
 * longest run of its first words (at least three) that is there.
 */
export function findQuote(text: string, quote: string): [number, number] | null {
  const q = quote.trim();
  if (!q) return null;
  const exact = text.indexOf(q);
  if (exact >= 0) return [exact, exact + q.length];
  const words = q.split(/\s+/).filter(Boolean).slice(0, 60);
  for (let n = words.length; n >= Math.min(3, words.length); n--) {
    const pattern = words
      .slice(0, n)
      .map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
      .join("\\s*");
    const m = new RegExp(pattern, "u").exec(text);
    if (m) return [m.index, m.index + m[0].length];
  }
  return null;
}

const CITE = /\[(\d{1,3})\]/g;

/** `[n]` → a Markdown link to `#cite-n` when citation n exists (anything else stays text). */
export function linkCitations(text: string, known: ReadonlySet<number>): string {
  return text.replace(CITE, (m, n: string, offset: number, all: string) => {
    if (!known.has(Number(n))) return m;
    if (all[offset + m.length] === "(") return m; // already a link's label
    return `[\\[${n}\\]](#cite-${n})`;
  });
}

/** A result's text shortened around the first query term, as plain text. */
export function snippet(text: string, query: string, max = 280): string {
  const flat = text.replace(/\s+/g, " ").trim();
  if (flat.length <= max) return flat;
  const terms = query.toLowerCase().split(/\s+/).filter((w) => w.length > 1);
  const lower = flat.toLowerCase();
  const at = terms.map((w) => lower.indexOf(w)).filter((i) => i >= 0).sort((a, b) => a - b)[0] ?? 0;
  const start = Math.max(0, at - Math.floor(max / 3));
  return (start > 0 ? "…" : "") + flat.slice(start, start + max) + (start + max < flat.length ? "…" : "");
}
