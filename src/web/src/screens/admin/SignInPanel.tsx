import { Badge, Button, Code, Group, Stack, Table, Text, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { api, unwrap } from "../../api/client";
import { formatDate } from "../../components/format";
import { notifyDone, notifyError } from "./common";

/** A user's sign-in: password state (set, locked), reset, live web sessions and ending them. */
export function SignInPanel({ name }: { name: string }) {
  const { t, i18n } = useTranslation();
  const qc = useQueryClient();
  const params = { params: { path: { name } } };
  const status = useQuery({ queryKey: ["admin-password", name], queryFn: async () => unwrap(await api.GET("/api/v1/admin/users/{name}/password", params)) });
  const sessions = useQuery({ queryKey: ["admin-sessions", name], queryFn: async () => unwrap(await api.GET("/api/v1/admin/users/{name}/sessions", params)) });
  const [generated, setGenerated] = useState<string | null>(null);
  const refresh = () => {
    void qc.invalidateQueries({ queryKey: ["admin-password", name] });
    void qc.invalidateQueries({ queryKey: ["admin-sessions", name] });
  };
  const reset = useMutation({
    mutationFn: async () => unwrap(await api.PUT("/api/v1/admin/users/{name}/password", { ...params, body: { generate: true } })),
    onSuccess: (r) => {
      setGenerated(r.generated ?? null);
      refresh();
    },
    onError: (e) => notifyError(t, e),
  });
  const endAll = useMutation({
    mutationFn: async () => unwrap(await api.DELETE("/api/v1/admin/users/{name}/sessions", params)),
    onSuccess: (r) => {
      notifyDone(t("signin.ended", { count: r.revoked }));
      refresh();
    },
    onError: (e) => notifyError(t, e),
  });
  const endOne = useMutation({
    mutationFn: async (id: string) => {
      const r = await api.DELETE("/api/v1/admin/sessions/{id}", { params: { path: { id } } });
      if (!r.response.ok) unwrap(r);
    },
    onSuccess: refresh,
    onError: (e) => notifyError(t, e),
  });
  const locked = status.data?.lockedUntil && Date.parse(status.data.lockedUntil) > Date.now();
  return (
    <Stack gap="xs">
      <Title order={3} size="h5">
        {t("signin.title")}
      </Title>
      <Group gap="xs">
        {status.data ? (
          <Badge variant="light" color={status.data.set ? "green" : "gray"}>
            {status.data.set ? t("signin.passwordSet", { when: formatDate(status.data.updatedAt, i18n.language) }) : t("signin.noPassword")}
          </Badge>
        ) : null}
        {locked ? (
          <Badge variant="light" color="red">
            {t("signin.lockedUntil", { when: formatDate(status.data?.lockedUntil, i18n.language) })}
          </Badge>
        ) : null}
      </Group>
      <Group>
        <Button variant="light" size="xs" onClick={() => reset.mutate()} loading={reset.isPending}>
          {t("users.resetPassword")}
        </Button>
        <Button variant="light" color="red" size="xs" onClick={() => endAll.mutate()} loading={endAll.isPending} disabled={!sessions.data?.items.length}>
          {t("signin.endAll")}
        </Button>
      </Group>
      {generated ? (
        <>
          <Text size="sm">{t("users.passwordOnce", { name })}</Text>
          <Code block data-testid="generated-password">
            {generated}
          </Code>
        </>
      ) : null}
      {sessions.data && sessions.data.items.length > 0 ? (
        <Table fz="xs" withTableBorder>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("signin.lastSeen")}</Table.Th>
              <Table.Th>{t("signin.client")}</Table.Th>
              <Table.Th>
                <span className="sr-only">{t("common.actions")}</span>
              </Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {sessions.data.items.map((s) => (
              <Table.Tr key={s.id}>
                <Table.Td>{formatDate(s.lastSeenAt, i18n.language)}</Table.Td>
                <Table.Td style={{ overflowWrap: "anywhere" }}>
                  {s.client ?? ""} {s.userAgent ? `· ${s.userAgent.slice(0, 60)}` : ""}
                </Table.Td>
                <Table.Td>
                  <Button size="compact-xs" variant="subtle" color="red" onClick={() => endOne.mutate(s.id)} aria-label={t("signin.endOne", { when: formatDate(s.lastSeenAt, i18n.language) })}>
                    {t("signin.end")}
                  </Button>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      ) : (
        <Text size="xs" c="dimmed">
          {t("signin.noSessions")}
        </Text>
      )}
    </Stack>
  );
}
