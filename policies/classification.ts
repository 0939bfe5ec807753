/** Classification labels, ordered. A user reads a document only when clearance ≥ its level. */
export const CLASSIFICATIONS = ["public", "internal", "confidential", "secret"] as const;
export type Classification = (typeof CLASSIFICATIONS)[number];

export function classificationLevel(label: string): number {
  const level = CLASSIFICATIONS.indexOf(label as Classification);
  if (level < 0) throw new Error(`unknown classification "${label}" (expected one of ${CLASSIFICATIONS.join(", ")})`);
  return level;
}

export function classificationLabel(level: number): string {
  return CLASSIFICATIONS[level] ?? `level-${level}`;
}

/** New documents and new users default to "internal". */
export const DEFAULT_CLASSIFICATION = classificationLevel("internal");
export const DEFAULT_CLEARANCE = classificationLevel("internal");
