import { Alert, Anchor, Badge, Button, Checkbox, Group, Loader, Paper, SegmentedControl, Stack, Text, Textarea, Title } from "@mantine/core";
import { IconDownload, IconThumbDown, IconThumbUp } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { apiJson } from "../../api/client";
import { Markdown } from "../../components/Markdown";
import { formatDate } from "../../components/format";
import { documentHref } from "../Ask";
import { notifyDone, notifyError } from "./common";

interface FeedbackItem {
  id: string;
  messageId: number;
  conversationId: string;
  rating: "up" | "down";
  comment: string | null;
  createdAt: string;
  updatedAt: string;
  user: string;
  question: string;
  answer: string;
  sources: { n: number; documentId: string; page: number; title: string }[];
  hiddenSources: number;
  review: { reviewedAt: string; reviewedBy: string | null; expectedDocumentIds: string[]; expectedAnswer: string | null } | null;
}

/** Feedback review: negative answers first with their sources; mark expected documents; export for `kb eval`. */
export function FeedbackReviewScreen() {
  const { t } = useTranslation();
  const [rating, setRating] = useState("all");
  const [reviewed, setReviewed] = useState("false");
  const list = useQuery({
    queryKey: ["admin-feedback", rating, reviewed],
    queryFn: () => {
      const p = new URLSearchParams({ limit: "50" });
      if (rating !== "all") p.set("rating", rating);
      if (reviewed !== "all") p.set("reviewed", reviewed);
      return apiJson<{ items: FeedbackItem[]; total: number }>(`/api/v1/admin/feedback?${p}`);
    },
  });
  return (
    <Stack maw={1000} mx="auto">
      <Group justify="space-between">
        <Title order={2}>{t("nav.feedback")}</Title>
        <Button component="a" href="/api/v1/admin/feedback/export" download variant="default" leftSection={<IconDownload size={16} aria-hidden />}>
          {t("feedbackReview.export")}
        </Button>
      </Group>
      <Group>
        <SegmentedControl
          aria-label={t("feedbackReview.rating")}
          value={rating}
          onChange={setRating}
          data={[
            { value: "all", label: t("feedbackReview.all") },
            { value: "down", label: t("feedback.bad") },
            { value: "up", label: t("feedback.good") },
          ]}
        />
        <SegmentedControl
          aria-label={t("feedbackReview.reviewState")}
          value={reviewed}
          onChange={setReviewed}
          data={[
            { value: "false", label: t("feedbackReview.toReview") },
            { value: "true", label: t("feedbackReview.reviewed") },
            { value: "all", label: t("feedbackReview.all") },
          ]}
        />
      </Group>
      {list.isPending ? <Loader aria-label={t("common.loading")} /> : null}
      {list.isError ? <Alert color="red">{t("common.error")}</Alert> : null}
      {list.data && list.data.items.length === 0 ? <Text c="dimmed">{t("feedbackReview.empty")}</Text> : null}
      {(list.data?.items ?? []).map((f) => (
        <FeedbackCard key={f.id} item={f} />
      ))}
    </Stack>
  );
}

function FeedbackCard({ item }: { item: FeedbackItem }) {
  const { t, i18n } = useTranslation();
  const qc = useQueryClient();
  const [expected, setExpected] = useState<string[]>(item.review?.expectedDocumentIds ?? []);
  const [expectedAnswer, setExpectedAnswer] = useState(item.review?.expectedAnswer ?? "");
  const save = useMutation({
    mutationFn: () =>
      apiJson(`/api/v1/admin/feedback/${encodeURIComponent(item.id)}/review`, {
        method: "PUT",
        body: JSON.stringify({ expectedDocumentIds: expected, ...(expectedAnswer.trim() ? { expectedAnswer: expectedAnswer.trim() } : {}) }),
      }),
    onSuccess: () => {
      notifyDone(t("feedbackReview.saved"));
      void qc.invalidateQueries({ queryKey: ["admin-feedback"] });
    },
    onError: (e) => notifyError(t, e),
  });
  const docs = [...new Map(item.sources.map((s) => [s.documentId, s])).values()];
  return (
    <Paper withBorder p="md" radius="md" component="article" aria-label={item.question} data-testid="feedback-item" data-rating={item.rating}>
      <Group justify="space-between">
        <Group gap="xs">
          {item.rating === "down" ? (
            <Badge color="red" variant="light" leftSection={<IconThumbDown size={12} aria-hidden />}>
              {t("feedback.bad")}
            </Badge>
          ) : (
            <Badge color="green" variant="light" leftSection={<IconThumbUp size={12} aria-hidden />}>
              {t("feedback.good")}
            </Badge>
          )}
          {item.review ? <Badge variant="outline">{t("feedbackReview.reviewed")}</Badge> : null}
        </Group>
        <Text size="xs" c="dimmed">
          {item.user} · {formatDate(item.updatedAt, i18n.language)}
        </Text>
      </Group>
      <Text fw={600} mt="sm">
        {item.question}
      </Text>
      <Markdown text={item.answer} />
      {item.comment ? (
        <Text size="sm" mt="xs" fs="italic">
          “{item.comment}”
        </Text>
      ) : null}
      <Text size="xs" fw={700} c="dimmed" mt="sm">
        {t("feedbackReview.expected")}
      </Text>
      <Stack gap={4} mt={4}>
        {docs.map((s) => (
          <Group key={s.documentId} gap="xs" wrap="nowrap">
            <Checkbox
              aria-label={t("feedbackReview.expectDoc", { title: s.title })}
              checked={expected.includes(s.documentId)}
              onChange={(e) => setExpected((x) => (e.currentTarget.checked ? [...x, s.documentId] : x.filter((d) => d !== s.documentId)))}
            />
            <Anchor size="sm" component={Link} to={documentHref(s.documentId, s.page)}>
              [{s.n}] {s.title} · {t("doc.pageN", { n: s.page })}
            </Anchor>
          </Group>
        ))}
        {item.hiddenSources > 0 ? (
          <Text size="xs" c="dimmed">
            {t("feedbackReview.hidden", { count: item.hiddenSources })}
          </Text>
        ) : null}
      </Stack>
      <Textarea mt="sm" label={t("feedbackReview.expectedAnswer")} value={expectedAnswer} onChange={(e) => setExpectedAnswer(e.currentTarget.value)} autosize minRows={1} maxRows={6} />
      <Group justify="flex-end" mt="sm">
        <Button size="xs" onClick={() => save.mutate()} disabled={!expected.length} loading={save.isPending}>
          {t("feedbackReview.markReviewed")}
        </Button>
      </Group>
    </Paper>
  );
}
