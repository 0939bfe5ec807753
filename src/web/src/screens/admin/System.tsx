import { Alert, Anchor, Badge, Group, Loader, Paper, Progress, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { api, unwrap } from "../../api/client";
import { formatDate } from "../../components/format";

/** Refreshed while the screen is open: the queue and the counts move while jobs run. */
const REFRESH_MS = 5000;

/** A titled panel of label/value rows (row headers, so a screen reader reads each value with its label). */
function Facts({ id, title, rows, children }: { id: string; title: string; rows: [string, ReactNode][]; children?: ReactNode }) {
  return (
    <Paper withBorder p="md" radius="md" component="section" aria-labelledby={id}>
      <Title order={3} size="h4" id={id} mb="sm">
        {title}
      </Title>
      <Table variant="vertical" layout="fixed" withTableBorder={false}>
        <Table.Tbody>
          {rows.map(([label, value]) => (
            <Table.Tr key={label}>
              <Table.Th scope="row" w="45%">
                {label}
              </Table.Th>
              <Table.Td>{value}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {children}
    </Paper>
  );
}

/** An optional model's row: its folder, its state (and why it failed) below in small print. */
function modelState(model: string, state: string, error?: string): ReactNode {
  return (
    <>
      {model}
      <Text size="xs" c={error ? "red" : "dimmed"}>
        {state}
        {error ? ` · ${error}` : ""}
      </Text>
    </>
  );
}

/** The system: modes, models, the active index and the job queue (GET /api/v1/admin/status). */
export function SystemScreen() {
  const { t, i18n } = useTranslation();
  const status = useQuery({
    queryKey: ["admin-status"],
    queryFn: async () => unwrap(await api.GET("/api/v1/admin/status")),
    refetchInterval: REFRESH_MS,
  });
  const s = status.data;
  const n = (v: number) => v.toLocaleString(i18n.language);
  const llmModel = s?.llm ? String(s.llm.model ?? "?") : null;
  const llmDetails = s?.llm
    ? Object.entries(s.llm)
        .filter(([k, v]) => k !== "model" && v !== null && typeof v !== "object")
        .map(([k, v]) => `${k}: ${String(v)}`)
        .join(" · ")
    : "";
  return (
    <Stack maw={1100} mx="auto">
      <Title order={2}>{t("nav.system")}</Title>
      <Text size="sm" c="dimmed">
        {t("system.hint")}
      </Text>
      {status.isPending ? <Loader aria-label={t("common.loading")} /> : null}
      {status.isError ? <Alert color="red">{t("common.error")}</Alert> : null}
      {s ? (
        <>
          {s.notices.length > 0 ? (
            <Alert color="yellow" title={t("system.notes")}>
              <Stack gap={4} component="ul" m={0} pl="md">
                {s.notices.map((notice) => (
                  // The server's English text is the fallback for a code this build does not know.
                  <li key={notice.text}>{t(`system.notice.${notice.code}`, { ...notice.params, defaultValue: notice.text })}</li>
                ))}
              </Stack>
            </Alert>
          ) : null}
          <SimpleGrid cols={{ base: 1, md: 2 }}>
            <Facts
              id="system-modes"
              title={t("system.modes")}
              rows={[
                [t("system.retrieval"), t(`system.retrievalMode.${s.retrieval}`)],
                [t("system.answer"), t(`system.answerMode.${s.answer}`)],
              ]}
            />
            <Facts
              id="system-models"
              title={t("system.models")}
              rows={[
                [t("system.embedding"), s.embedding ? `${s.embedding.model} (${t("system.dimension", { n: s.embedding.dimension })})` : t("system.none")],
                [t("system.reranker"), s.reranker ? modelState(s.reranker.model, t(`system.modelStatus.${s.reranker.status}`), s.reranker.error) : t("system.none")],
                [
                  t("system.imageModel"),
                  s.imageModel
                    ? modelState(
                        s.imageModel.model,
                        `${t(`system.modelStatus.${s.imageModel.status}`)} · ${t("system.described", { described: n(s.imageModel.described), failed: n(s.imageModel.failed), timedOut: n(s.imageModel.timedOut) })}`,
                        s.imageModel.error,
                      )
                    : t("system.none"),
                ],
                [
                  t("system.llm"),
                  llmModel ? (
                    <>
                      {llmModel}
                      {llmDetails ? (
                        <Text size="xs" c="dimmed">
                          {llmDetails}
                        </Text>
                      ) : null}
                    </>
                  ) : (
                    t("system.none")
                  ),
                ],
              ]}
            />
            <Facts
              id="system-index"
              title={t("system.index")}
              rows={[
                [t("system.table"), s.index.table],
                [t("system.activeSince"), s.index.since ? formatDate(s.index.since, i18n.language) : t("system.fromStart")],
                [t("system.documents"), n(s.index.documents)],
                [t("system.chunks"), n(s.index.chunks)],
                [t("system.detector"), t("system.detectorValue", { version: s.index.sensitiveDetector.version, count: s.index.sensitiveDetector.staleDocuments })],
              ]}
            />
            <Facts
              id="system-queue"
              title={t("system.queue")}
              rows={[
                [
                  t("system.worker"),
                  <Badge key="worker" variant="light" color={s.jobs.workerAlive ? "green" : "red"}>
                    {s.jobs.workerAlive ? t("system.workerAlive") : t("system.workerNone")}
                  </Badge>,
                ],
                ...(["queued", "running", "failed", "partial"] as const).map((k): [string, ReactNode] => [t(`jobs.status.${k}`), n(s.jobs.counts[k])]),
              ]}
            />
          </SimpleGrid>
          <Paper withBorder p="md" radius="md" component="section" aria-labelledby="system-active">
            <Group justify="space-between" mb="sm">
              <Title order={3} size="h4" id="system-active">
                {t("system.activeJobs")}
              </Title>
              <Anchor component={Link} to="/admin/jobs" size="sm">
                {t("system.allJobs")}
              </Anchor>
            </Group>
            {s.jobs.active.length === 0 ? (
              <Text size="sm" c="dimmed">
                {t("system.noActiveJobs")}
              </Text>
            ) : (
              <Table.ScrollContainer minWidth={560}>
                <Table striped aria-labelledby="system-active">
                  <Table.Thead>
                    <Table.Tr>
                      <Table.Th>{t("system.kind")}</Table.Th>
                      <Table.Th>{t("system.jobStatus")}</Table.Th>
                      <Table.Th>{t("system.progress")}</Table.Th>
                      <Table.Th>{t("system.created")}</Table.Th>
                    </Table.Tr>
                  </Table.Thead>
                  <Table.Tbody>
                    {s.jobs.active.map((j) => (
                      <Table.Tr key={j.id}>
                        <Table.Td>{j.kind}</Table.Td>
                        <Table.Td>
                          {t(`jobs.status.${j.status}`)}
                          {j.phase ? (
                            <Text span size="xs" c="dimmed">
                              {" "}
                              ({j.phase})
                            </Text>
                          ) : null}
                        </Table.Td>
                        <Table.Td>
                          <Text size="xs">
                            {n(j.done)} / {n(j.total)}
                          </Text>
                          <Progress value={j.total ? (100 * j.done) / j.total : 0} size="sm" aria-label={t("system.progressOf", { kind: j.kind, done: j.done, total: j.total })} />
                        </Table.Td>
                        <Table.Td>{formatDate(j.createdAt, i18n.language)}</Table.Td>
                      </Table.Tr>
                    ))}
                  </Table.Tbody>
                </Table>
              </Table.ScrollContainer>
            )}
          </Paper>
        </>
      ) : null}
    </Stack>
  );
}
