import { Alert, Anchor, Badge, Group, Loader, Select, Stack, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { api, unwrap } from "../../api/client";

const KINDS = ["rrn", "card", "phone", "account", "email"] as const;
type Kind = (typeof KINDS)[number];

/** Personal-data report: documents (that you may read) with personal data, counted per kind. */
export function PersonalDataScreen() {
  const { t } = useTranslation();
  const [kind, setKind] = useState<Kind | null>(null);
  const report = useQuery({
    queryKey: ["admin-sensitive", kind],
    queryFn: async () => unwrap(await api.GET("/api/v1/admin/sensitive", { params: { query: kind ? { kind } : {} } })),
  });
  const items = report.data?.items ?? [];
  return (
    <Stack maw={1100} mx="auto">
      <Title order={2}>{t("nav.personalData")}</Title>
      <Text size="sm" c="dimmed">
        {t("pii.hint")}
      </Text>
      <Select label={t("pii.kind")} data={KINDS.map((k) => ({ value: k, label: t(`pii.kinds.${k}`) }))} value={kind} onChange={(v) => setKind(v as Kind | null)} clearable placeholder={t("pii.allKinds")} maw={260} />
      {report.isPending ? <Loader aria-label={t("common.loading")} /> : null}
      {report.isError ? <Alert color="red">{t("common.error")}</Alert> : null}
      {report.data ? (
        <Text size="sm" role="status">
          {t("pii.count", { count: items.length })}
        </Text>
      ) : null}
      {items.length > 0 ? (
        <Table.ScrollContainer minWidth={640}>
          <Table striped>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t("documents.title")}</Table.Th>
                <Table.Th>{t("pii.found")}</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {items.map((d) => (
                <Table.Tr key={d.documentId}>
                  <Table.Td>
                    <Anchor component={Link} to={`/documents/${encodeURIComponent(d.documentId)}?page=1`}>
                      {d.title}
                    </Anchor>
                    <Text size="xs" c="dimmed">
                      {d.source}
                    </Text>
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4}>
                      {Object.entries(d.counts).map(([k, n]) => (
                        <Badge key={k} variant="light" color="orange">
                          {t(`pii.kinds.${k}`, { defaultValue: k })}: {n}
                        </Badge>
                      ))}
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
    </Stack>
  );
}
