import { Alert, Button, Code, Group, Loader, Select, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { IconDownload } from "@tabler/icons-react";
import { useInfiniteQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { apiJson, type components } from "../../api/client";
import { formatDate } from "../../components/format";

type AuditEvent = components["schemas"]["AuditEvent"];

/** Audit events: filter by actor, action, outcome and time; page back; export as JSON Lines. */
export function AuditScreen() {
  const { t, i18n } = useTranslation();
  const [form, setForm] = useState({ actor: "", action: "", outcome: "", since: "", until: "" });
  const [filters, setFilters] = useState(form);
  const params = (extra: Record<string, string>) => {
    const p = new URLSearchParams();
    if (filters.actor.trim()) p.set("actor", filters.actor.trim());
    if (filters.action.trim()) p.set("action", filters.action.trim());
    if (filters.outcome) p.set("outcome", filters.outcome);
    if (filters.since) p.set("since", new Date(filters.since).toISOString());
    if (filters.until) p.set("until", new Date(filters.until).toISOString());
    for (const [k, v] of Object.entries(extra)) p.set(k, v);
    return p.toString();
  };
  const events = useInfiniteQuery({
    queryKey: ["audit", filters],
    initialPageParam: null as number | null,
    queryFn: ({ pageParam }) => apiJson<{ items: AuditEvent[]; nextBefore: number | null }>(`/api/v1/audit?${params({ limit: "100", ...(pageParam ? { before: String(pageParam) } : {}) })}`),
    getNextPageParam: (last) => last.nextBefore,
  });
  const set = (k: keyof typeof form) => (v: string) => setForm((f) => ({ ...f, [k]: v }));
  const items = events.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <Stack maw={1200} mx="auto">
      <Group justify="space-between">
        <Title order={2}>{t("nav.audit")}</Title>
        <Group gap="xs">
          <Button component="a" href={`/api/v1/audit/export?${params({ format: "jsonl" })}`} download variant="default" leftSection={<IconDownload size={16} aria-hidden />}>
            {t("audit.exportJsonl")}
          </Button>
          <Button component="a" href={`/api/v1/audit/export?${params({ format: "csv" })}`} download variant="default" leftSection={<IconDownload size={16} aria-hidden />}>
            {t("audit.exportCsv")}
          </Button>
        </Group>
      </Group>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          setFilters(form);
        }}
        aria-label={t("audit.filters")}
      >
        <Group align="flex-end" wrap="wrap">
          <TextInput label={t("audit.actor")} placeholder="user:kim" value={form.actor} onChange={(e) => set("actor")(e.currentTarget.value)} w={160} />
          <TextInput label={t("audit.action")} placeholder="document." value={form.action} onChange={(e) => set("action")(e.currentTarget.value)} w={160} />
          <Select
            label={t("audit.outcome")}
            data={[
              { value: "ok", label: "ok" },
              { value: "denied", label: "denied" },
              { value: "error", label: "error" },
            ]}
            value={form.outcome || null}
            onChange={(v) => set("outcome")(v ?? "")}
            clearable
            w={130}
          />
          <TextInput type="datetime-local" label={t("audit.since")} value={form.since} onChange={(e) => set("since")(e.currentTarget.value)} w={210} />
          <TextInput type="datetime-local" label={t("audit.until")} value={form.until} onChange={(e) => set("until")(e.currentTarget.value)} w={210} />
          <Button type="submit">{t("audit.apply")}</Button>
        </Group>
      </form>
      {events.isPending ? <Loader aria-label={t("common.loading")} /> : null}
      {events.isError ? <Alert color="red">{t("common.error")}</Alert> : null}
      <Table.ScrollContainer minWidth={800}>
        <Table striped fz="xs">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("audit.time")}</Table.Th>
              <Table.Th>{t("audit.actor")}</Table.Th>
              <Table.Th>{t("audit.action")}</Table.Th>
              <Table.Th>{t("audit.target")}</Table.Th>
              <Table.Th>{t("audit.outcome")}</Table.Th>
              <Table.Th>{t("audit.details")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {items.map((e) => (
              <Table.Tr key={e.id}>
                <Table.Td style={{ whiteSpace: "nowrap" }}>{formatDate(e.at, i18n.language)}</Table.Td>
                <Table.Td>{e.actor}</Table.Td>
                <Table.Td>{e.action}</Table.Td>
                <Table.Td style={{ overflowWrap: "anywhere" }}>{e.target}</Table.Td>
                <Table.Td>
                  <Text size="xs" c={e.outcome === "ok" ? undefined : "var(--kb-danger-text)"}>
                    {e.outcome}
                  </Text>
                </Table.Td>
                <Table.Td>{e.details ? <Code style={{ whiteSpace: "pre-wrap", overflowWrap: "anywhere" }}>{JSON.stringify(e.details)}</Code> : null}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      {events.hasNextPage ? (
        <Button variant="default" onClick={() => void events.fetchNextPage()} loading={events.isFetchingNextPage}>
          {t("common.more")}
        </Button>
      ) : null}
    </Stack>
  );
}
