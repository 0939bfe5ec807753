import { ActionIcon, Alert, Badge, Button, Card, Group, Loader, Modal, Select, SimpleGrid, Stack, Text, TextInput, Title } from "@mantine/core";
import { IconTrash, IconUsersPlus, IconX } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { apiFetch, apiJson, apiError } from "../../api/client";
import { Confirm } from "../../components/Confirm";
import { notifyError, type Group as GroupT, type User } from "./common";

async function ok(res: Response): Promise<void> {
  if (!res.ok) throw apiError(res.status, await res.json().catch(() => null));
}

/** Groups and their direct members (users and groups: groups nest). */
export function GroupsScreen() {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const groups = useQuery({ queryKey: ["admin-groups"], queryFn: () => apiJson<{ items: GroupT[] }>("/api/v1/admin/groups") });
  const users = useQuery({ queryKey: ["admin-users"], queryFn: () => apiJson<{ items: User[] }>("/api/v1/admin/users") });
  const [creating, setCreating] = useState(false);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [deleting, setDeleting] = useState<string | null>(null);
  const refresh = () => {
    void qc.invalidateQueries({ queryKey: ["admin-groups"] });
    void qc.invalidateQueries({ queryKey: ["admin-users"] });
  };
  const create = useMutation({
    mutationFn: () => apiJson("/api/v1/admin/groups", { method: "POST", body: JSON.stringify({ name: name.trim(), ...(description.trim() ? { description: description.trim() } : {}) }) }),
    onSuccess: () => {
      setCreating(false);
      setName("");
      setDescription("");
      refresh();
    },
    onError: (e) => notifyError(t, e),
  });
  const remove = useMutation({
    mutationFn: async (g: string) => ok(await apiFetch(`/api/v1/admin/groups/${encodeURIComponent(g)}`, { method: "DELETE" })),
    onSuccess: () => {
      setDeleting(null);
      refresh();
    },
    onError: (e) => notifyError(t, e),
  });
  const member = useMutation({
    mutationFn: async ({ group, member, add }: { group: string; member: string; add: boolean }) =>
      ok(
        add
          ? await apiFetch(`/api/v1/admin/groups/${encodeURIComponent(group)}/members`, { method: "POST", body: JSON.stringify({ member }) })
          : await apiFetch(`/api/v1/admin/groups/${encodeURIComponent(group)}/members/${encodeURIComponent(member)}`, { method: "DELETE" }),
      ),
    onSuccess: refresh,
    onError: (e) => notifyError(t, e),
  });
  const candidates = [...(users.data?.items ?? []).map((u) => `user:${u.name}`), ...(groups.data?.items ?? []).map((g) => `group:${g.name}`)];

  return (
    <Stack maw={1100} mx="auto">
      <Group justify="space-between">
        <Title order={2}>{t("nav.groups")}</Title>
        <Button leftSection={<IconUsersPlus size={16} aria-hidden />} onClick={() => setCreating(true)}>
          {t("groups.create")}
        </Button>
      </Group>
      {groups.isPending ? <Loader aria-label={t("common.loading")} /> : null}
      {groups.isError ? <Alert color="red">{t("common.error")}</Alert> : null}
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        {(groups.data?.items ?? []).map((g) => (
          <Card key={g.name} withBorder component="section" aria-label={g.name}>
            <Group justify="space-between" wrap="nowrap">
              <div>
                <Title order={3} size="h5">
                  {g.displayName ?? g.name}
                </Title>
                {g.displayName ? (
                  <Text size="xs" c="dimmed">
                    {g.name}
                  </Text>
                ) : null}
                {g.source !== "local" ? (
                  <Badge size="xs" variant="outline" color="gray">
                    {t("groups.source", { source: g.source })}
                  </Badge>
                ) : null}
                {g.description ? (
                  <Text size="xs" c="dimmed">
                    {g.description}
                  </Text>
                ) : null}
              </div>
              <ActionIcon variant="subtle" color="red" aria-label={`${t("common.delete")}: ${g.name}`} onClick={() => setDeleting(g.name)}>
                <IconTrash size={16} aria-hidden />
              </ActionIcon>
            </Group>
            <Group gap={4} mt="xs">
              {g.members.length === 0 ? (
                <Text size="xs" c="dimmed">
                  {t("groups.noMembers")}
                </Text>
              ) : null}
              {/* One badge per membership row: a directory's rows are changed in the directory; an admin's (a manual override in a directory group) here. */}
              {g.memberOrigins.map((m) => {
                const label = m.displayName ?? m.name;
                const manual = m.origin === "manual";
                return (
                  <Badge
                    key={`${m.kind}:${m.name}:${m.origin}`}
                    variant={m.override ? "outline" : "light"}
                    color={m.kind === "group" ? "grape" : "blue"}
                    title={m.override ? t("groups.overrideHint") : manual ? undefined : t("groups.directoryMember", { source: m.origin })}
                    rightSection={
                      manual ? (
                        <ActionIcon size="xs" variant="transparent" color="gray" aria-label={t("groups.removeMember", { member: `${m.kind}:${m.name}`, group: g.name })} onClick={() => member.mutate({ group: g.name, member: `${m.kind}:${m.name}`, add: false })}>
                          <IconX size={12} aria-hidden />
                        </ActionIcon>
                      ) : undefined
                    }
                  >
                    {m.kind === "group" ? `${t("groups.groupPrefix")} ${label}` : label}
                    {m.override ? ` · ${t("groups.override")}` : manual ? "" : ` · ${m.origin}`}
                  </Badge>
                );
              })}
            </Group>
            <AddMember group={g.name} candidates={candidates.filter((c) => c !== `group:${g.name}` && !g.members.some((m) => `${m.kind}:${m.name}` === c))} onAdd={(m) => member.mutate({ group: g.name, member: m, add: true })} />
          </Card>
        ))}
      </SimpleGrid>
      <Modal closeButtonProps={{ "aria-label": t("common.close") }} opened={creating} onClose={() => setCreating(false)} title={t("groups.create")} centered>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            create.mutate();
          }}
        >
          <Stack>
            <TextInput label={t("common.name")} value={name} onChange={(e) => setName(e.currentTarget.value)} required data-autofocus />
            <TextInput label={t("groups.description")} value={description} onChange={(e) => setDescription(e.currentTarget.value)} maxLength={500} />
            <Group justify="flex-end">
              <Button variant="default" onClick={() => setCreating(false)}>
                {t("common.cancel")}
              </Button>
              <Button type="submit" loading={create.isPending}>
                {t("common.create")}
              </Button>
            </Group>
          </Stack>
        </form>
      </Modal>
      <Confirm opened={!!deleting} title={t("common.delete")} message={t("groups.confirmDelete", { name: deleting ?? "" })} onConfirm={() => deleting && remove.mutate(deleting)} onClose={() => setDeleting(null)} busy={remove.isPending} />
    </Stack>
  );
}

function AddMember({ group, candidates, onAdd }: { group: string; candidates: string[]; onAdd: (m: string) => void }) {
  const { t } = useTranslation();
  const [value, setValue] = useState<string | null>(null);
  return (
    <Group mt="sm" gap="xs" align="flex-end">
      <Select label={t("groups.addMember", { group })} data={candidates} value={value} onChange={setValue} searchable clearable size="xs" style={{ flex: 1 }} />
      <Button
        size="xs"
        variant="light"
        disabled={!value}
        onClick={() => {
          if (value) onAdd(value);
          setValue(null);
        }}
      >
        {t("users.add")}
      </Button>
    </Group>
  );
}
