import { Accordion, Alert, Badge, Button, Group, Loader, Modal, Paper, Progress, Stack, Switch, Table, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { api, apiJson, unwrap } from "../../api/client";
import { useSession } from "../../api/session";
import { formatDate } from "../../components/format";
import { notifyDone, notifyError } from "./common";

const LIVE = ["queued", "running"];
const STATUS_COLOR: Record<string, string> = { queued: "gray", running: "blue", succeeded: "green", failed: "red", partial: "orange", cancelled: "gray", unchanged: "gray" };

function eta(seconds: number | null | undefined, t: (k: string, o?: Record<string, unknown>) => string): string {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 60) return t("jobs.seconds", { n: seconds });
  return t("jobs.minutes", { n: Math.round(seconds / 60) });
}

/** Jobs: live progress (polled while any runs), throughput, ETA, per-file outcomes, cancel, start. */
export function JobsScreen() {
  const { t, i18n } = useTranslation();
  const { can } = useSession();
  const qc = useQueryClient();
  const jobs = useQuery({
    queryKey: ["jobs"],
    queryFn: async () => unwrap(await api.GET("/api/v1/jobs", { params: { query: { limit: 50, offset: 0 } } })),
    refetchInterval: (q) => (q.state.data?.items.some((j) => LIVE.includes(j.status)) ? 1000 : 5000),
  });
  const [open, setOpen] = useState<string | null>(null);
  const cancel = useMutation({
    mutationFn: async (id: string) => unwrap(await api.POST("/api/v1/jobs/{id}/cancel", { params: { path: { id } } })),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ["jobs"] }),
    onError: (e) => notifyError(t, e),
  });
  return (
    <Stack maw={1100} mx="auto">
      <Group justify="space-between">
        <Title order={2}>{t("nav.jobs")}</Title>
        {can("manage_all_documents") ? <StartJobs /> : null}
      </Group>
      {jobs.isPending ? <Loader aria-label={t("common.loading")} /> : null}
      {jobs.isError ? <Alert color="red">{t("common.error")}</Alert> : null}
      <Accordion value={open} onChange={setOpen} variant="separated">
        {(jobs.data?.items ?? []).map((j) => {
          const pct = j.progress.total ? Math.round((j.progress.done / j.progress.total) * 100) : LIVE.includes(j.status) ? 0 : 100;
          return (
            <Accordion.Item key={j.id} value={j.id} data-testid="job" data-status={j.status}>
              <Accordion.Control>
                <Group justify="space-between" wrap="nowrap">
                  <Group gap="xs" wrap="nowrap">
                    <Badge variant="outline" color="gray">
                      {j.kind}
                    </Badge>
                    <Badge color={STATUS_COLOR[j.status] ?? "gray"} variant="light">
                      {t(`jobs.status.${j.status}`)}
                    </Badge>
                    {j.phase ? (
                      <Text size="xs" c="dimmed">
                        {j.phase}
                      </Text>
                    ) : null}
                  </Group>
                  <Text size="xs" c="dimmed">
                    {formatDate(j.createdAt, i18n.language)} · {j.createdBy ?? ""}
                  </Text>
                </Group>
                <Progress value={pct} mt={6} size="sm" animated={j.status === "running"} aria-hidden />
                <Group gap="md" mt={4}>
                  <Text size="xs">
                    {j.progress.done}/{j.progress.total}
                  </Text>
                  <Text size="xs">{t("jobs.throughput", { n: j.throughput === null ? "–" : j.throughput.toFixed(2) })}</Text>
                  {LIVE.includes(j.status) ? <Text size="xs">{t("jobs.eta", { eta: eta(j.etaSeconds, t) })}</Text> : null}
                  {Object.entries(j.counts).map(([k, v]) => (
                    <Text key={k} size="xs" c={k === "failed" ? "var(--kb-danger-text)" : "dimmed"}>
                      {t(`jobs.status.${k}`)}: {v}
                    </Text>
                  ))}
                </Group>
              </Accordion.Control>
              <Accordion.Panel>
                {LIVE.includes(j.status) ? (
                  <Button size="xs" color="red" variant="light" mb="sm" onClick={() => cancel.mutate(j.id)} loading={cancel.isPending && cancel.variables === j.id}>
                    {t("jobs.cancel")}
                  </Button>
                ) : null}
                {j.error ? (
                  <Alert color="red" mb="sm">
                    {j.error}
                  </Alert>
                ) : null}
                {open === j.id ? <JobFiles id={j.id} live={LIVE.includes(j.status)} /> : null}
              </Accordion.Panel>
            </Accordion.Item>
          );
        })}
      </Accordion>
    </Stack>
  );
}

function JobFiles({ id, live }: { id: string; live: boolean }) {
  const { t } = useTranslation();
  const job = useQuery({
    queryKey: ["job", id],
    queryFn: async () => unwrap(await api.GET("/api/v1/jobs/{id}", { params: { path: { id } } })),
    refetchInterval: live ? 1000 : false,
  });
  if (job.isPending) return <Loader size="sm" aria-label={t("common.loading")} />;
  if (job.isError) return <Alert color="red">{t("common.error")}</Alert>;
  const files = job.data.files;
  if (!files.length) return <Text size="sm" c="dimmed">{t("jobs.noFiles")}</Text>;
  return (
    <Table.ScrollContainer minWidth={600}>
      <Table fz="xs" striped>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>{t("jobs.file")}</Table.Th>
            <Table.Th>{t("jobs.outcome")}</Table.Th>
            <Table.Th>{t("jobs.reason")}</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {files.map((f, i) => (
            <Table.Tr key={`${f.source}-${i}`}>
              <Table.Td style={{ overflowWrap: "anywhere" }}>{f.source}</Table.Td>
              <Table.Td>
                <Badge size="xs" color={STATUS_COLOR[f.status] ?? "gray"} variant="light">
                  {t(`jobs.status.${f.status}`)}
                </Badge>
              </Table.Td>
              <Table.Td>{f.errorCode ? `${f.errorCode}: ${f.error ?? ""}` : (f.error ?? "")}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function StartJobs() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const [which, setWhich] = useState<"sync" | "reindex" | "reembed" | null>(null);
  const [folder, setFolder] = useState("");
  const [prefix, setPrefix] = useState("");
  const [model, setModel] = useState("");
  const [rollback, setRollback] = useState(false);
  const start = useMutation({
    mutationFn: async () => {
      if (which === "sync") return apiJson<{ jobId?: string; id?: string }>("/api/v1/jobs/sync", { method: "POST", body: JSON.stringify({ folder: folder.trim() }) });
      if (which === "reindex") return apiJson("/api/v1/jobs/reindex", { method: "POST", body: JSON.stringify(prefix.trim() ? { sourcePrefix: prefix.trim() } : {}) });
      return apiJson("/api/v1/jobs/reembed", { method: "POST", body: JSON.stringify(rollback ? { rollback: true } : model.trim() ? { model: model.trim() } : {}) });
    },
    onSuccess: () => {
      setWhich(null);
      notifyDone(t("jobs.started"));
      void qc.invalidateQueries({ queryKey: ["jobs"] });
    },
    onError: (e) => notifyError(t, e),
  });
  return (
    <>
      <Group gap="xs">
        <Button variant="light" onClick={() => setWhich("sync")}>
          {t("jobs.sync")}
        </Button>
        <Button variant="light" onClick={() => setWhich("reindex")}>
          {t("jobs.reindex")}
        </Button>
        <Button variant="light" onClick={() => setWhich("reembed")}>
          {t("jobs.reembed")}
        </Button>
      </Group>
      <Modal closeButtonProps={{ "aria-label": t("common.close") }} opened={!!which} onClose={() => setWhich(null)} title={which ? t(`jobs.${which}`) : ""} centered>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            start.mutate();
          }}
        >
          <Stack>
            {which === "sync" ? <TextInput label={t("jobs.folder")} description={t("jobs.folderHint")} value={folder} onChange={(e) => setFolder(e.currentTarget.value)} required data-autofocus /> : null}
            {which === "reindex" ? <TextInput label={t("access.prefix")} description={t("jobs.prefixHint")} value={prefix} onChange={(e) => setPrefix(e.currentTarget.value)} data-autofocus /> : null}
            {which === "reembed" ? (
              <Paper>
                <TextInput label={t("jobs.model")} description={t("jobs.modelHint")} value={model} onChange={(e) => setModel(e.currentTarget.value)} disabled={rollback} data-autofocus />
                <Switch mt="sm" label={t("jobs.rollback")} checked={rollback} onChange={(e) => setRollback(e.currentTarget.checked)} />
              </Paper>
            ) : null}
            <Group justify="flex-end">
              <Button variant="default" onClick={() => setWhich(null)}>
                {t("common.cancel")}
              </Button>
              <Button type="submit" loading={start.isPending}>
                {t("jobs.start")}
              </Button>
            </Group>
          </Stack>
        </form>
      </Modal>
    </>
  );
}
