import { Alert, Anchor, Badge, Button, Group, Loader, Pagination, Paper, PasswordInput, Progress, Select, Stack, Table, TagsInput, Text, TextInput, Title } from "@mantine/core";
import { Dropzone } from "@mantine/dropzone";
import { IconCircleCheck, IconCircleX, IconUpload } from "@tabler/icons-react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { api, apiError, unwrap, uploadWithProgress } from "../api/client";
import { useSession } from "../api/session";
import { ClassificationBadge } from "../components/Badges";
import { formatBytes, formatDate } from "../components/format";
import { CLASSIFICATION_LEVELS, usePrincipalSuggestions } from "../components/principals";

const PAGE = 25;

export function typeLabel(mime: string | null, source: string): string {
  const ext = /\.([A-Za-z0-9]{1,6})$/.exec(source)?.[1];
  if (ext) return ext.toUpperCase();
  return mime?.split("/").pop()?.toUpperCase() ?? "?";
}

const TYPES = ["pdf", "docx", "hwp", "hwpx", "xlsx", "pptx", "md", "txt", "html", "eml", "csv"];

interface Filters {
  q: string;
  type: string;
  folder: string;
  tag: string;
  updatedSince: string;
  updatedUntil: string;
}
const NO_FILTERS: Filters = { q: "", type: "", folder: "", tag: "", updatedSince: "", updatedUntil: "" };

export default function Documents() {
  const { t, i18n } = useTranslation();
  const { can } = useSession();
  const [page, setPage] = useState(1);
  const [form, setForm] = useState<Filters>(NO_FILTERS);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const list = useQuery({
    queryKey: ["documents", page, filters],
    queryFn: async () => {
      const query: Record<string, string | number> = { limit: PAGE, offset: (page - 1) * PAGE };
      for (const [k, v] of Object.entries(filters) as [keyof Filters, string][]) {
        if (!v.trim()) continue;
        // Dates: the whole day, in the browser's time zone.
        if (k === "updatedSince") query[k] = new Date(`${v}T00:00:00`).toISOString();
        else if (k === "updatedUntil") query[k] = new Date(`${v}T23:59:59.999`).toISOString();
        else query[k] = v.trim();
      }
      return unwrap(await api.GET("/api/v1/documents", { params: { query: query as { limit: number; offset: number } } }));
    },
  });
  const set = (k: keyof Filters) => (v: string) => setForm((f) => ({ ...f, [k]: v }));
  const total = list.data?.total ?? 0;
  return (
    <Stack maw={1100} mx="auto">
      <Title order={2}>{t("nav.documents")}</Title>
      {can("ingest") ? <Upload /> : null}
      <form
        aria-label={t("documents.filters")}
        onSubmit={(e) => {
          e.preventDefault();
          setPage(1);
          setFilters(form);
        }}
      >
        <Group align="flex-end" wrap="wrap" gap="sm">
          <TextInput label={t("documents.titleFilter")} value={form.q} onChange={(e) => set("q")(e.currentTarget.value)} w={200} type="search" />
          <Select label={t("documents.type")} data={TYPES.map((x) => ({ value: x, label: x.toUpperCase() }))} value={form.type || null} onChange={(v) => set("type")(v ?? "")} clearable w={120} />
          <TextInput label={t("documents.folder")} placeholder="hr/" value={form.folder} onChange={(e) => set("folder")(e.currentTarget.value)} w={160} />
          <TextInput label={t("access.tag")} value={form.tag} onChange={(e) => set("tag")(e.currentTarget.value)} w={120} />
          <TextInput type="date" label={t("documents.updatedSince")} value={form.updatedSince} onChange={(e) => set("updatedSince")(e.currentTarget.value)} w={160} />
          <TextInput type="date" label={t("documents.updatedUntil")} value={form.updatedUntil} onChange={(e) => set("updatedUntil")(e.currentTarget.value)} w={160} />
          <Button type="submit" variant="light">
            {t("audit.apply")}
          </Button>
          <Button
            variant="subtle"
            onClick={() => {
              setForm(NO_FILTERS);
              setFilters(NO_FILTERS);
              setPage(1);
            }}
          >
            {t("documents.clearFilters")}
          </Button>
        </Group>
      </form>
      {list.isPending ? <Loader aria-label={t("common.loading")} /> : null}
      {list.isError ? <Alert color="red">{t("common.error")}</Alert> : null}
      {list.data ? (
        <Text size="sm" c="dimmed" role="status">
          {t("documents.count", { count: total })}
        </Text>
      ) : null}
      {list.data && list.data.items.length > 0 ? (
        <Table.ScrollContainer minWidth={640}>
          <Table striped highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t("documents.title")}</Table.Th>
                <Table.Th>{t("documents.type")}</Table.Th>
                <Table.Th>{t("documents.pages")}</Table.Th>
                <Table.Th>{t("common.updated")}</Table.Th>
                <Table.Th>{t("documents.classification")}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {list.data.items.map((d) => (
                <Table.Tr key={d.id}>
                  <Table.Td>
                    <Anchor component={Link} to={`/documents/${encodeURIComponent(d.id)}?page=1`}>
                      {d.title}
                    </Anchor>
                    <Text size="xs" c="dimmed">
                      {d.source}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Badge variant="outline" color="gray">
                      {(d as { type?: string }).type?.toUpperCase() || typeLabel(d.mime, d.source)}
                    </Badge>
                    {d.status !== "ready" ? (
                      <Badge ml={4} color={d.status === "failed" ? "red" : "yellow"} variant="light">
                        {t(`documents.status.${d.status}`)}
                      </Badge>
                    ) : null}
                  </Table.Td>
                  <Table.Td>{d.pageCount}</Table.Td>
                  <Table.Td>{formatDate(d.versionAt ?? d.updatedAt, i18n.language)}</Table.Td>
                  <Table.Td>
                    <ClassificationBadge level={d.acl.classification} />
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
      {total > PAGE ? <Pagination total={Math.ceil(total / PAGE)} value={page} onChange={setPage} aria-label={t("common.pages")} /> : null}
    </Stack>
  );
}

interface UploadItem {
  key: string;
  name: string;
  size: number;
  progress: number;
  state: "uploading" | "processing" | "succeeded" | "unchanged" | "failed";
  message?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function Upload() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const suggestions = usePrincipalSuggestions();
  const [allow, setAllow] = useState<string[]>([]);
  const [deny, setDeny] = useState<string[]>([]);
  const [classification, setClassification] = useState<string | null>(null);
  const [pdfPassword, setPdfPassword] = useState("");
  const [items, setItems] = useState<UploadItem[]>([]);
  const openRef = useRef<() => void>(null);
  const set = (key: string, patch: Partial<UploadItem>) => setItems((all) => all.map((i) => (i.key === key ? { ...i, ...patch } : i)));

  const uploadOne = async (file: File) => {
    const key = crypto.randomUUID();
    setItems((all) => [{ key, name: file.name, size: file.size, progress: 0, state: "uploading" }, ...all]);
    try {
      const form = new FormData();
      form.append("file", file, file.name);
      if (allow.length) form.append("allow", allow.join(","));
      if (deny.length) form.append("deny", deny.join(","));
      if (classification !== null) form.append("classification", classification);
      if (pdfPassword) form.append("password", pdfPassword);
      const res = await uploadWithProgress("/api/v1/documents", form, (p) => set(key, { progress: Math.round(p * 100) }));
      if (res.status !== 202) {
        const err = apiError(res.status, res.body);
        set(key, { state: "failed", message: `${err.code}: ${err.message}` });
        return;
      }
      const accepted = res.body as { jobId: string; documents: { id: string }[] };
      set(key, { state: "processing", progress: 100 });
      // Follow the job until this file is done.
      for (;;) {
        const job = unwrap(await api.GET("/api/v1/jobs/{id}", { params: { path: { id: accepted.jobId } } }));
        const f = job.files[0];
        const final = f && ["succeeded", "unchanged", "failed", "cancelled"].includes(f.status);
        if (final || ["succeeded", "failed", "partial", "cancelled"].includes(job.status)) {
          if (!f || f.status === "failed" || f.status === "cancelled") set(key, { state: "failed", message: f?.errorCode ? `${f.errorCode}: ${f.error ?? ""}` : (f?.error ?? job.error ?? job.status) });
          else set(key, { state: f.status === "unchanged" ? "unchanged" : "succeeded" });
          break;
        }
        await sleep(700);
      }
      void qc.invalidateQueries({ queryKey: ["documents"] });
    } catch (e) {
      set(key, { state: "failed", message: e instanceof Error ? e.message : String(e) });
    }
  };

  return (
    <Paper withBorder p="md" radius="md" component="section" aria-labelledby="upload-title">
      <Title order={3} size="h4" id="upload-title" mb="sm">
        {t("documents.upload")}
      </Title>
      <Group grow align="flex-start" mb="sm" wrap="wrap">
        <TagsInput label={t("documents.allow")} description={t("documents.principalHint")} data={suggestions} value={allow} onChange={setAllow} clearable miw={220} />
        <TagsInput label={t("documents.deny")} description={t("documents.principalHint")} data={suggestions} value={deny} onChange={setDeny} clearable miw={220} />
        <Select
          label={t("documents.classification")}
          description={t("documents.classificationHint")}
          data={CLASSIFICATION_LEVELS.map((c, i) => ({ value: String(i), label: t(`class.${c}`) }))}
          value={classification}
          onChange={setClassification}
          clearable
          placeholder={t("documents.defaultClassification")}
          miw={180}
        />
        <PasswordInput
          label={t("documents.pdfPassword")}
          description={t("documents.pdfPasswordHint")}
          value={pdfPassword}
          onChange={(e) => setPdfPassword(e.currentTarget.value)}
          autoComplete="off"
          miw={180}
        />
      </Group>
      {/*
        The drop area is for the mouse (drop, or click to choose); it is not a tab stop (react-dropzone
        would make it one with role "presentation" and no name). The keyboard and screen-reader path
        is the "Choose files" button below, which opens the same file dialog.
      */}
      <Dropzone onDrop={(files) => files.forEach((f) => void uploadOne(f))} multiple activateOnKeyboard={false} openRef={openRef} inputProps={{ "aria-hidden": true }}>
        <Group justify="center" gap="md" mih={90} style={{ pointerEvents: "none" }}>
          <IconUpload size={32} aria-hidden />
          <div>
            <Text size="md">{t("documents.drop")}</Text>
            <Text size="xs" c="dimmed">
              {t("documents.dropHint")}
            </Text>
          </div>
        </Group>
      </Dropzone>
      <Group mt="xs">
        <Button variant="default" leftSection={<IconUpload size={16} aria-hidden />} onClick={() => openRef.current?.()}>
          {t("documents.dropLabel")}
        </Button>
      </Group>
      {items.length > 0 ? (
        <Stack component="ul" gap="xs" mt="sm" p={0} style={{ listStyle: "none" }} aria-label={t("documents.uploads")} aria-live="polite">
          {items.map((i) => (
            <li key={i.key} data-testid="upload-item" data-state={i.state}>
              <Group justify="space-between" wrap="nowrap">
                <Text size="sm" truncate>
                  {i.name} <Text span c="dimmed" size="xs">({formatBytes(i.size)})</Text>
                </Text>
                <Group gap={4} wrap="nowrap">
                  {i.state === "succeeded" || i.state === "unchanged" ? <IconCircleCheck size={16} color="var(--mantine-color-green-8)" aria-hidden /> : null}
                  {i.state === "failed" ? <IconCircleX size={16} color="var(--mantine-color-red-8)" aria-hidden /> : null}
                  <Text size="xs" c={i.state === "failed" ? "var(--kb-danger-text)" : "dimmed"}>
                    {t(`documents.state.${i.state}`)}
                  </Text>
                </Group>
              </Group>
              {i.state === "uploading" || i.state === "processing" ? (
                <Progress value={i.progress} animated={i.state === "processing"} size="sm" aria-label={t("documents.progress", { name: i.name })} />
              ) : null}
              {i.message ? (
                <Text size="xs" c={i.state === "failed" ? "var(--kb-danger-text)" : "dimmed"}>
                  {i.message}
                </Text>
              ) : null}
            </li>
          ))}
        </Stack>
      ) : null}
    </Paper>
  );
}
