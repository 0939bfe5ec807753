import { Alert, Button, Divider, Group, Paper, Select, Stack, Table, TagsInput, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router";
import { ApiError, apiJson } from "../../api/client";
import { CLASSIFICATION_LEVELS, usePrincipalSuggestions } from "../../components/principals";
import { ExplainForm } from "./Explain";
import { notifyDone, notifyError } from "./common";

interface DocumentT {
  id: string;
  title: string;
  source: string;
  acl: { allow: string[]; deny: string[]; classification: number; manage?: string[] };
}

const classificationData = (t: (k: string) => string) => CLASSIFICATION_LEVELS.map((c, i) => ({ value: String(i), label: t(`class.${c}`) }));

/** Document access: one document's lists, many documents at once (with a dry run), and "why". */
export function AccessScreen() {
  const { t } = useTranslation();
  return (
    <Stack maw={1100} mx="auto">
      <Title order={2}>{t("nav.access")}</Title>
      <OneDocument />
      <Bulk />
      <Paper withBorder p="md" radius="md" component="section" aria-labelledby="explain-title">
        <Title order={3} size="h4" id="explain-title" mb="sm">
          {t("explain.title")}
        </Title>
        <ExplainForm />
      </Paper>
    </Stack>
  );
}

function OneDocument() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const suggestions = usePrincipalSuggestions();
  const [params, setParams] = useSearchParams();
  const [input, setInput] = useState(params.get("doc") ?? "");
  const id = params.get("doc") ?? "";
  const doc = useQuery({ queryKey: ["document", id], enabled: !!id, queryFn: () => apiJson<DocumentT>(`/api/v1/documents/${encodeURIComponent(id)}`) });
  const [allow, setAllow] = useState<string[]>([]);
  const [deny, setDeny] = useState<string[]>([]);
  const [classification, setClassification] = useState<string | null>(null);
  useEffect(() => {
    if (!doc.data) return;
    setAllow(doc.data.acl.allow);
    setDeny(doc.data.acl.deny);
    setClassification(String(doc.data.acl.classification));
  }, [doc.data]);
  const save = useMutation({
    mutationFn: () => apiJson<{ changed: boolean }>(`/api/v1/documents/${encodeURIComponent(id)}/acl`, { method: "PUT", body: JSON.stringify({ allow, deny, classification: Number(classification ?? 0) }) }),
    onSuccess: (r) => {
      void qc.invalidateQueries({ queryKey: ["document", id] });
      void qc.invalidateQueries({ queryKey: ["documents"] });
      notifyDone(r.changed ? t("access.saved") : t("access.unchanged"));
    },
    onError: (e) => notifyError(t, e),
  });
  return (
    <Paper withBorder p="md" radius="md" component="section" aria-labelledby="one-title">
      <Title order={3} size="h4" id="one-title" mb="sm">
        {t("access.one")}
      </Title>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const next = new URLSearchParams(params);
          next.set("doc", input.trim());
          setParams(next);
        }}
      >
        <Group align="flex-end">
          <TextInput label={t("access.documentId")} value={input} onChange={(e) => setInput(e.currentTarget.value)} style={{ flex: 1, minWidth: 220 }} required />
          <Button type="submit" variant="light">
            {t("access.open")}
          </Button>
        </Group>
      </form>
      {doc.isError ? <Alert color="red" mt="sm">{doc.error instanceof ApiError && doc.error.status === 404 ? t("doc.notFound") : t("common.error")}</Alert> : null}
      {doc.data ? (
        <Stack mt="md">
          <Text fw={600}>
            {doc.data.title}{" "}
            <Text span size="xs" c="dimmed">
              {doc.data.source}
            </Text>
          </Text>
          <Group grow align="flex-start" wrap="wrap">
            <TagsInput label={t("documents.allow")} data={suggestions} value={allow} onChange={setAllow} miw={220} />
            <TagsInput label={t("documents.deny")} data={suggestions} value={deny} onChange={setDeny} miw={220} />
            <Select label={t("documents.classification")} data={classificationData(t)} value={classification} onChange={setClassification} allowDeselect={false} miw={160} />
          </Group>
          <Group>
            <Button onClick={() => save.mutate()} loading={save.isPending}>
              {t("common.save")}
            </Button>
          </Group>
          <Divider />
          <Text size="sm" fw={600}>
            {t("explain.title")}
          </Text>
          <ExplainForm document={doc.data.id} />
        </Stack>
      ) : null}
    </Paper>
  );
}

interface BulkResult {
  dryRun: boolean;
  matched: number;
  changed: { id: string; source: string }[];
  unchanged: string[];
  skipped: { id: string; reason: string }[];
}

function Bulk() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const suggestions = usePrincipalSuggestions();
  const [prefix, setPrefix] = useState("");
  const [tag, setTag] = useState("");
  const [query, setQuery] = useState("");
  const [addAllow, setAddAllow] = useState<string[]>([]);
  const [removeAllow, setRemoveAllow] = useState<string[]>([]);
  const [addDeny, setAddDeny] = useState<string[]>([]);
  const [removeDeny, setRemoveDeny] = useState<string[]>([]);
  const [classification, setClassification] = useState<string | null>(null);
  const [result, setResult] = useState<BulkResult | null>(null);
  const body = (dryRun: boolean) => {
    const select: Record<string, string> = {};
    if (prefix.trim()) select.prefix = prefix.trim();
    if (tag.trim()) select.tag = tag.trim();
    if (query.trim()) select.query = query.trim();
    const change: Record<string, unknown> = {};
    if (addAllow.length) change.addAllow = addAllow;
    if (removeAllow.length) change.removeAllow = removeAllow;
    if (addDeny.length) change.addDeny = addDeny;
    if (removeDeny.length) change.removeDeny = removeDeny;
    if (classification !== null) change.classification = Number(classification);
    return JSON.stringify({ select, change, dryRun });
  };
  // A dry run counts for exactly the inputs it ran with: any edit asks for a new one.
  const current = body(true);
  useEffect(() => setResult(null), [current]);
  const run = useMutation({
    mutationFn: (dryRun: boolean) => apiJson<BulkResult>("/api/v1/admin/documents/acl", { method: "POST", body: body(dryRun) }),
    onSuccess: (r) => {
      setResult(r);
      if (!r.dryRun) void qc.invalidateQueries({ queryKey: ["documents"] });
    },
    onError: (e) => notifyError(t, e),
  });
  const hasSelect = !!(prefix.trim() || tag.trim() || query.trim());
  const hasChange = addAllow.length + removeAllow.length + addDeny.length + removeDeny.length > 0 || classification !== null;
  return (
    <Paper withBorder p="md" radius="md" component="section" aria-labelledby="bulk-title">
      <Title order={3} size="h4" id="bulk-title" mb="sm">
        {t("access.bulk")}
      </Title>
      <Text size="sm" c="dimmed" mb="xs">
        {t("access.bulkHint")}
      </Text>
      <Group grow align="flex-start" wrap="wrap">
        <TextInput label={t("access.prefix")} value={prefix} onChange={(e) => setPrefix(e.currentTarget.value)} placeholder="hr/" miw={180} />
        <TextInput label={t("access.tag")} value={tag} onChange={(e) => setTag(e.currentTarget.value)} miw={140} />
        <TextInput label={t("access.query")} value={query} onChange={(e) => setQuery(e.currentTarget.value)} miw={180} />
      </Group>
      <Group grow align="flex-start" wrap="wrap" mt="sm">
        <TagsInput label={t("access.addAllow")} data={suggestions} value={addAllow} onChange={setAddAllow} miw={200} />
        <TagsInput label={t("access.removeAllow")} data={suggestions} value={removeAllow} onChange={setRemoveAllow} miw={200} />
      </Group>
      <Group grow align="flex-start" wrap="wrap" mt="sm">
        <TagsInput label={t("access.addDeny")} data={suggestions} value={addDeny} onChange={setAddDeny} miw={200} />
        <TagsInput label={t("access.removeDeny")} data={suggestions} value={removeDeny} onChange={setRemoveDeny} miw={200} />
        <Select label={t("documents.classification")} data={classificationData(t)} value={classification} onChange={setClassification} clearable placeholder={t("access.keep")} miw={160} />
      </Group>
      <Group mt="md">
        <Button variant="light" disabled={!hasSelect || !hasChange} onClick={() => run.mutate(true)} loading={run.isPending && run.variables === true}>
          {t("access.dryRun")}
        </Button>
        <Button color="orange" disabled={!hasSelect || !hasChange || !result?.dryRun} onClick={() => run.mutate(false)} loading={run.isPending && run.variables === false}>
          {t("access.apply")}
        </Button>
      </Group>
      {result ? (
        <Stack mt="md" gap={4} role="status" data-testid="bulk-result">
          <Text size="sm" fw={600}>
            {result.dryRun ? t("access.wouldChange", { matched: result.matched, changed: result.changed.length, skipped: result.skipped.length }) : t("access.didChange", { matched: result.matched, changed: result.changed.length, skipped: result.skipped.length })}
          </Text>
          {result.changed.length > 0 ? (
            <Table withTableBorder fz="xs">
              <Table.Tbody>
                {result.changed.slice(0, 50).map((c) => (
                  <Table.Tr key={c.id}>
                    <Table.Td>{c.source}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          ) : null}
          {result.skipped.slice(0, 20).map((s) => (
            <Text key={s.id} size="xs" c="dimmed">
              {s.id}: {s.reason}
            </Text>
          ))}
        </Stack>
      ) : null}
    </Paper>
  );
}
