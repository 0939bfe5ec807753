import { Badge } from "@mantine/core";
import { useTranslation } from "react-i18next";

const COLORS = ["gray", "blue", "orange", "red"] as const;
const KEYS = ["public", "internal", "confidential", "secret"] as const;

/** A document's classification level (0..3) as a labelled badge. */
export function ClassificationBadge({ level }: { level: number }) {
  const { t } = useTranslation();
  const i = Math.max(0, Math.min(3, level));
  return (
    <Badge color={COLORS[i]} variant="light" autoContrast>
      {t(`class.${KEYS[i]}`)}
    </Badge>
  );
}
