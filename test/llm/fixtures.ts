/**
 * Shared fixtures for the LLM tests: the tiny real GGUF (stories260K, a 260K-parameter story model
 * with no chat template) and numbered sources.
 */
import fs from "node:fs";
import path from "node:path";
import type { AnswerSource } from "../../src/services/answer/types.ts";

/** KB_TEST_GGUF (set by test/global-setup.ts when ../shared exists) or the default location. */
export const GGUF = process.env.KB_TEST_GGUF || path.resolve("../shared/models/stories260K/stories260K.gguf");
export const HAS_GGUF = fs.existsSync(GGUF);
export const NO_GGUF_REASON = `skipping real-model LLM tests: GGUF not found at ${GGUF} (set KB_TEST_GGUF)`;

export function source(n: number, text: string, extra: Partial<AnswerSource> = {}): AnswerSource {
  return { n, documentId: `doc-${n}`, chunkId: `chunk-${n}`, title: `Document ${n}`, source: `doc-${n}.pdf`, page: n, text, ...extra };
}

export const SOURCES_EN: AnswerSource[] = [
  source(1, "In fiscal 2023, Acme's revenue reached $5.2 billion, up 12% from the previous year. The growth came from cloud services.", { title: "Acme annual report 2023" }),
  source(2, "Employees receive 15 days of paid annual leave per year. Unused leave can be carried over for one year.", { title: "HR handbook" }),
];

export const SOURCES_KO: AnswerSource[] = [
  source(1, "2023년 회사의 매출은 5조 2천억 원으로 전년 대비 12% 증가했다. 클라우드 사업이 성장을 이끌었다.", { title: "2023 사업보고서" }),
  source(2, "직원은 매년 15일의 유급 연차 휴가를 받는다. 사용하지 않은 연차는 1년간 이월할 수 있다.", { title: "인사 규정" }),
];
