import { Alert, Badge, Button, Code, Group, Loader, Modal, MultiSelect, NumberInput, Select, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { IconKey } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { apiJson } from "../../api/client";
import { Confirm } from "../../components/Confirm";
import { formatDate } from "../../components/format";
import { notifyError, type Token, type User } from "./common";

/** The token scopes the server knows (policies/scopes.ts). */
const SCOPES = ["search", "ask", "read_documents", "write_documents", "admin"] as const;

/** API tokens: list (optionally one user's), create (the secret is shown once, with scopes and an own rate limit), revoke. */
export function TokensScreen() {
  const { t, i18n } = useTranslation();
  const qc = useQueryClient();
  const [user, setUser] = useState<string | null>(null);
  const users = useQuery({ queryKey: ["admin-users"], queryFn: () => apiJson<{ items: User[] }>("/api/v1/admin/users") });
  const tokens = useQuery({
    queryKey: ["admin-tokens", user],
    queryFn: () => apiJson<{ items: Token[] }>(`/api/v1/admin/tokens${user ? `?user=${encodeURIComponent(user)}` : ""}`),
  });
  const [creating, setCreating] = useState(false);
  const [owner, setOwner] = useState<string | null>(null);
  const [label, setLabel] = useState("");
  const [days, setDays] = useState<number | string>(90);
  const [scopes, setScopes] = useState<string[]>([]);
  const [rate, setRate] = useState<number | string>("");
  const [secret, setSecret] = useState<string | null>(null);
  const [revoking, setRevoking] = useState<Token | null>(null);
  const create = useMutation({
    mutationFn: () =>
      apiJson<{ token: string }>(`/api/v1/admin/users/${encodeURIComponent(owner ?? "")}/tokens`, {
        method: "POST",
        body: JSON.stringify({
          ...(label.trim() ? { name: label.trim() } : {}),
          ...(Number(days) > 0 ? { expiresInDays: Number(days) } : {}),
          ...(scopes.length ? { scopes } : {}),
          ...(rate !== "" ? { rateLimitPerMinute: Number(rate) } : {}),
        }),
      }),
    onSuccess: (r) => {
      setSecret(r.token);
      void qc.invalidateQueries({ queryKey: ["admin-tokens"] });
    },
    onError: (e) => notifyError(t, e),
  });
  const revoke = useMutation({
    mutationFn: (id: string) => apiJson(`/api/v1/admin/tokens/${encodeURIComponent(id)}/revoke`, { method: "POST" }),
    onSuccess: () => {
      setRevoking(null);
      void qc.invalidateQueries({ queryKey: ["admin-tokens"] });
    },
    onError: (e) => notifyError(t, e),
  });
  const userNames = (users.data?.items ?? []).map((u) => u.name);
  const close = () => {
    setCreating(false);
    setSecret(null);
    setLabel("");
    setScopes([]);
    setRate("");
  };
  return (
    <Stack maw={1100} mx="auto">
      <Group justify="space-between">
        <Title order={2}>{t("nav.tokens")}</Title>
        <Button leftSection={<IconKey size={16} aria-hidden />} onClick={() => setCreating(true)}>
          {t("tokens.create")}
        </Button>
      </Group>
      <Select label={t("tokens.ofUser")} data={userNames} value={user} onChange={setUser} searchable clearable placeholder={t("tokens.allUsers")} maw={320} />
      {tokens.isPending ? <Loader aria-label={t("common.loading")} /> : null}
      {tokens.isError ? <Alert color="red">{t("common.error")}</Alert> : null}
      <Table.ScrollContainer minWidth={900}>
        <Table striped>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("tokens.user")}</Table.Th>
              <Table.Th>{t("tokens.label")}</Table.Th>
              <Table.Th>{t("tokens.scopes")}</Table.Th>
              <Table.Th>{t("tokens.rate")}</Table.Th>
              <Table.Th>{t("common.created")}</Table.Th>
              <Table.Th>{t("tokens.expires")}</Table.Th>
              <Table.Th>{t("tokens.lastUsed")}</Table.Th>
              <Table.Th>{t("users.state")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {(tokens.data?.items ?? []).map((tk) => {
              const expired = tk.expiresAt !== null && Date.parse(tk.expiresAt) < Date.now();
              return (
                <Table.Tr key={tk.id}>
                  <Table.Td>{tk.user}</Table.Td>
                  <Table.Td>{tk.name ?? ""}</Table.Td>
                  <Table.Td>
                    {tk.scopes ? (
                      <Group gap={4}>
                        {tk.scopes.map((s) => (
                          <Badge key={s} variant="outline" color="gray">
                            {t(`tokens.scope.${s}`, { defaultValue: s })}
                          </Badge>
                        ))}
                      </Group>
                    ) : (
                      <Text size="sm" c="dimmed">
                        {t("tokens.allScopes")}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>{tk.rateLimitPerMinute === null ? t("tokens.rateDefault") : tk.rateLimitPerMinute === 0 ? t("tokens.unlimited") : tk.rateLimitPerMinute}</Table.Td>
                  <Table.Td>{formatDate(tk.createdAt, i18n.language)}</Table.Td>
                  <Table.Td>{tk.expiresAt ? formatDate(tk.expiresAt, i18n.language) : t("tokens.never")}</Table.Td>
                  <Table.Td>{formatDate(tk.lastUsedAt, i18n.language)}</Table.Td>
                  <Table.Td>
                    {tk.revokedAt ? (
                      <Badge color="red" variant="light">{t("tokens.revoked")}</Badge>
                    ) : expired ? (
                      <Badge color="gray" variant="light">{t("tokens.expired")}</Badge>
                    ) : (
                      <Button size="compact-xs" color="red" variant="light" onClick={() => setRevoking(tk)} aria-label={t("tokens.revokeOf", { user: tk.user, label: tk.name ?? tk.id })}>
                        {t("tokens.revoke")}
                      </Button>
                    )}
                  </Table.Td>
                </Table.Tr>
              );
            })}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      <Modal closeButtonProps={{ "aria-label": t("common.close") }} opened={creating} onClose={close} title={t("tokens.create")} centered>
        {secret ? (
          <Stack>
            <Text size="sm">{t("tokens.once")}</Text>
            <Code block data-testid="new-token">{secret}</Code>
            <Button onClick={close}>{t("common.close")}</Button>
          </Stack>
        ) : (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              create.mutate();
            }}
          >
            <Stack>
              <Select label={t("tokens.user")} data={userNames} value={owner} onChange={setOwner} searchable required />
              <TextInput label={t("tokens.label")} value={label} onChange={(e) => setLabel(e.currentTarget.value)} maxLength={100} />
              <NumberInput label={t("tokens.days")} description={t("tokens.daysHint")} value={days} onChange={setDays} min={0} max={3650} />
              <MultiSelect
                label={t("tokens.scopes")}
                description={t("tokens.scopesHint")}
                placeholder={scopes.length ? undefined : t("tokens.allScopes")}
                data={SCOPES.map((s) => ({ value: s, label: t(`tokens.scope.${s}`) }))}
                value={scopes}
                onChange={setScopes}
              />
              <NumberInput label={t("tokens.rate")} description={t("tokens.rateHint")} value={rate} onChange={setRate} min={0} max={100000} allowDecimal={false} />
              <Group justify="flex-end">
                <Button variant="default" onClick={close}>
                  {t("common.cancel")}
                </Button>
                <Button type="submit" disabled={!owner} loading={create.isPending}>
                  {t("common.create")}
                </Button>
              </Group>
            </Stack>
          </form>
        )}
      </Modal>
      <Confirm opened={!!revoking} title={t("tokens.revoke")} message={t("tokens.confirmRevoke", { user: revoking?.user ?? "" })} onConfirm={() => revoking && revoke.mutate(revoking.id)} onClose={() => setRevoking(null)} busy={revoke.isPending} />
    </Stack>
  );
}
