/**
 * What an answer is grounded in: the numbered sources an answerer is given and the citations it
 * gives back. Domain types, so grounding (prompt building, citation checks) needs nothing from the
 * services that use it; services/answer/types.ts re-exports them for the answerers.
 */

/**
 * A numbered source as shown to the answerer and cited back as [n]. It has no retrieval score on
 * purpose: scores count documents the asker may not read (policies: `maySeeScores`), so nothing an
 * answer says (found or not, which sources) may depend on them; `n` is the rank.
 */
export interface AnswerSource {
  n: number;
  documentId: string;
  chunkId: string;
  title: string;
  source: string;
  page: number;
  text: string;
  /**
   * The identifying lines of the source's document cover (organisation, report type, period),
   * when it has one: question words found there name the document rather than ask about it.
   */
  naming?: string;
}

export interface Citation {
  n: number;
  documentId: string;
  title: string;
  source: string;
  page: number;
  /** The quoted span of the source that supports the answer. */
  quote: string;
  /** The chunk the quote comes from (set by the ask use case). */
  chunkId?: string;
}
