import { ActionIcon, Button, Group, Stack, Text, Textarea, Tooltip } from "@mantine/core";
import { IconThumbDown, IconThumbDownFilled, IconThumbUp, IconThumbUpFilled } from "@tabler/icons-react";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { apiJson } from "../api/client";

/** 👍/👎 and an optional comment on one answer (POST /api/v1/feedback). */
export function Feedback({ conversationId, messageId, initial }: { conversationId: string; messageId?: number | string; initial?: { rating: "up" | "down"; comment: string | null } }) {
  const { t } = useTranslation();
  const [rating, setRating] = useState<"up" | "down" | null>(initial?.rating ?? null);
  const [comment, setComment] = useState(initial?.comment ?? "");
  const [state, setState] = useState<"idle" | "saving" | "saved" | "error">("idle");
  const [commenting, setCommenting] = useState(false);
  const disabled = messageId === undefined;

  const send = async (r: "up" | "down", text: string) => {
    setState("saving");
    try {
      await apiJson("/api/v1/feedback", { method: "POST", body: JSON.stringify({ conversationId, messageId, rating: r, ...(text.trim() ? { comment: text.trim() } : {}) }) });
      setState("saved");
    } catch {
      setState("error");
    }
  };

  const choose = (r: "up" | "down") => {
    setRating(r);
    setCommenting(true);
    void send(r, comment);
  };

  return (
    <Stack gap={4}>
      <Group gap={4}>
        <Tooltip label={disabled ? t("feedback.unavailable") : t("feedback.good")}>
          <ActionIcon variant="subtle" color="gray" aria-label={t("feedback.good")} aria-pressed={rating === "up"} disabled={disabled} onClick={() => choose("up")}>
            {rating === "up" ? <IconThumbUpFilled size={18} aria-hidden /> : <IconThumbUp size={18} aria-hidden />}
          </ActionIcon>
        </Tooltip>
        <Tooltip label={disabled ? t("feedback.unavailable") : t("feedback.bad")}>
          <ActionIcon variant="subtle" color="gray" aria-label={t("feedback.bad")} aria-pressed={rating === "down"} disabled={disabled} onClick={() => choose("down")}>
            {rating === "down" ? <IconThumbDownFilled size={18} aria-hidden /> : <IconThumbDown size={18} aria-hidden />}
          </ActionIcon>
        </Tooltip>
        <Text size="xs" c={state === "error" ? "var(--kb-danger-text)" : "dimmed"} role="status">
          {state === "saved" ? t("feedback.thanks") : state === "error" ? t("feedback.error") : ""}
        </Text>
      </Group>
      {commenting && rating ? (
        <Group align="flex-end" gap="xs">
          <Textarea label={t("feedback.comment")} value={comment} onChange={(e) => setComment(e.currentTarget.value)} autosize minRows={1} maxRows={4} maxLength={2000} style={{ flex: 1 }} />
          <Button size="xs" variant="light" onClick={() => void send(rating, comment)} loading={state === "saving"}>
            {t("feedback.send")}
          </Button>
        </Group>
      ) : null}
    </Stack>
  );
}
