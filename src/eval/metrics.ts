/**
 * Ranking metrics for retrieval evaluation (binary relevance).
 *
 * Conventions:
 * - `ranked` is a best-first list of document ids. Repeated ids (e.g. several chunks of the
 *   same document) count only at their first position; later repeats are ignored.
 * - `relevant` is the set of relevant document ids for the question.
 * - Recall@k = |relevant ∩ top-k| / |relevant| (for a single relevant document this is the
 *   hit rate, i.e. "is the answer's paragraph in the top k").
 * - MRR@k = 1 / rank of the first relevant document within the top k, else 0.
 * - nDCG@k uses gain 1 for relevant documents and discount 1/log2(rank + 1); the ideal
 *   DCG places min(|relevant|, k) relevant documents first.
 * - A question with no relevant documents cannot be scored; metric functions return 0 for it
 *   and `aggregateMetrics` leaves it out (and out of `questions`), as trec_eval does.
 */

export interface RankingMetrics {
  recall1: number;
  recall5: number;
  recall10: number;
  mrr10: number;
  ndcg10: number;
  /** Number of questions that were scored (those with at least one relevant document). */
  questions: number;
}

export interface RankedResult {
  /** Retrieved document ids, best first. */
  ranked: readonly string[];
  /** Ids of the relevant documents. */
  relevant: Iterable<string>;
}

function toSet(relevant: Iterable<string>): ReadonlySet<string> {
  return relevant instanceof Set ? (relevant as ReadonlySet<string>) : new Set(relevant);
}

function checkK(k: number): void {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
}

/** Top-k with repeated ids removed (first occurrence wins). */
function uniqueTopK(ranked: readonly string[], k: number): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const id of ranked) {
    if (out.length >= k) break;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(id);
  }
  return out;
}

export function recallAtK(ranked: readonly string[], relevant: Iterable<string>, k: number): number {
  checkK(k);
  const rel = toSet(relevant);
  if (rel.size === 0) return 0;
  let hits = 0;
  for (const id of uniqueTopK(ranked, k)) if (rel.has(id)) hits++;
  return hits / rel.size;
}

export function mrrAtK(ranked: readonly string[], relevant: Iterable<string>, k: number): number {
  checkK(k);
  const rel = toSet(relevant);
  const top = uniqueTopK(ranked, k);
  for (let i = 0; i < top.length; i++) if (rel.has(top[i]!)) return 1 / (i + 1);
  return 0;
}

export function ndcgAtK(ranked: readonly string[], relevant: Iterable<string>, k: number): number {
  checkK(k);
  const rel = toSet(relevant);
  if (rel.size === 0) return 0;
  const top = uniqueTopK(ranked, k);
  let dcg = 0;
  for (let i = 0; i < top.length; i++) if (rel.has(top[i]!)) dcg += 1 / Math.log2(i + 2);
  let idcg = 0;
  const idealHits = Math.min(rel.size, k);
  for (let i = 0; i < idealHits; i++) idcg += 1 / Math.log2(i + 2);
  return dcg / idcg;
}

/** Mean metrics over questions; questions without relevant documents are skipped. */
export function aggregateMetrics(results: Iterable<RankedResult>): RankingMetrics {
  const sum = { recall1: 0, recall5: 0, recall10: 0, mrr10: 0, ndcg10: 0 };
  let questions = 0;
  for (const r of results) {
    const rel = toSet(r.relevant);
    if (rel.size === 0) continue;
    questions++;
    sum.recall1 += recallAtK(r.ranked, rel, 1);
    sum.recall5 += recallAtK(r.ranked, rel, 5);
    sum.recall10 += recallAtK(r.ranked, rel, 10);
    sum.mrr10 += mrrAtK(r.ranked, rel, 10);
    sum.ndcg10 += ndcgAtK(r.ranked, rel, 10);
  }
  const mean = (x: number) => (questions === 0 ? 0 : x / questions);
  return {
    recall1: mean(sum.recall1),
    recall5: mean(sum.recall5),
    recall10: mean(sum.recall10),
    mrr10: mean(sum.mrr10),
    ndcg10: mean(sum.ndcg10),
    questions,
  };
}
