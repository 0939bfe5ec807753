import { Alert, Anchor, Badge, Button, Code, Drawer, Group, List, Loader, Modal, MultiSelect, Select, Stack, Switch, Table, Text, TextInput, Title } from "@mantine/core";
import { IconUserPlus } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router";
import { apiFetch, apiJson } from "../../api/client";
import { ClassificationBadge } from "../../components/Badges";
import { Confirm } from "../../components/Confirm";
import { CLASSIFICATION_LEVELS } from "../../components/principals";
import { ExplainForm } from "./Explain";
import { SignInPanel } from "./SignInPanel";
import { notifyDone, notifyError, type Group as GroupT, type User } from "./common";

const BUILTIN_ROLES = ["viewer", "editor", "admin"];

function useRoles(): string[] {
  const q = useQuery({
    queryKey: ["admin-policy"],
    queryFn: () => apiJson<{ roles?: { name: string }[] | Record<string, unknown> }>("/api/v1/admin/policy"),
    staleTime: 60_000,
  });
  const roles = q.data?.roles;
  if (Array.isArray(roles)) return roles.map((r) => r.name);
  if (roles && typeof roles === "object") return Object.keys(roles);
  return BUILTIN_ROLES;
}

export function UsersScreen() {
  const { t } = useTranslation();
  const { name: selected } = useParams();
  const navigate = useNavigate();
  const [creating, setCreating] = useState(false);
  const [filter, setFilter] = useState("");
  const users = useQuery({ queryKey: ["admin-users"], queryFn: () => apiJson<{ items: User[] }>("/api/v1/admin/users") });
  const shown = (users.data?.items ?? []).filter((u) => !filter || u.name.includes(filter.toLowerCase()));
  return (
    <Stack maw={1100} mx="auto">
      <Group justify="space-between">
        <Title order={2}>{t("nav.users")}</Title>
        <Button leftSection={<IconUserPlus size={16} aria-hidden />} onClick={() => setCreating(true)}>
          {t("users.create")}
        </Button>
      </Group>
      <TextInput label={t("users.filter")} value={filter} onChange={(e) => setFilter(e.currentTarget.value)} maw={320} type="search" />
      {users.isPending ? <Loader aria-label={t("common.loading")} /> : null}
      {users.isError ? <Alert color="red">{t("common.error")}</Alert> : null}
      <Table.ScrollContainer minWidth={640}>
        <Table striped highlightOnHover>
          <Table.Thead>
            <Table.Tr>
              <Table.Th>{t("common.name")}</Table.Th>
              <Table.Th>{t("users.source")}</Table.Th>
              <Table.Th>{t("users.role")}</Table.Th>
              <Table.Th>{t("users.clearance")}</Table.Th>
              <Table.Th>{t("users.groups")}</Table.Th>
              <Table.Th>{t("users.state")}</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {shown.map((u) => (
              <Table.Tr key={u.name}>
                <Table.Td>
                  <Anchor component={Link} to={`/admin/users/${encodeURIComponent(u.name)}`}>
                    {u.displayName ?? u.name}
                  </Anchor>
                  {u.displayName ? (
                    <Text size="xs" c="dimmed">
                      {u.name}
                    </Text>
                  ) : null}
                  {u.kind === "service" ? (
                    <Badge ml="xs" color="grape" variant="light">
                      {t("users.service")}
                    </Badge>
                  ) : null}
                </Table.Td>
                <Table.Td>{u.source === "local" ? t("users.local") : u.source}</Table.Td>
                <Table.Td>{u.role}</Table.Td>
                <Table.Td>
                  <ClassificationBadge level={u.clearance} />
                </Table.Td>
                <Table.Td>{u.groups.join(", ")}</Table.Td>
                <Table.Td>{u.disabled ? <Badge color="red" variant="light">{t("users.disabled")}</Badge> : <Badge color="green" variant="light">{t("users.active")}</Badge>}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      <CreateUser opened={creating} onClose={() => setCreating(false)} />
      <Drawer closeButtonProps={{ "aria-label": t("common.close") }} opened={!!selected} onClose={() => void navigate("/admin/users")} position="right" size="lg" title={selected ? t("users.detail", { name: selected }) : ""}>
        {selected ? <UserDetail name={selected} /> : null}
      </Drawer>
    </Stack>
  );
}

function CreateUser({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const roles = useRoles();
  const groups = useQuery({ queryKey: ["admin-groups"], queryFn: () => apiJson<{ items: GroupT[] }>("/api/v1/admin/groups"), enabled: opened });
  const [name, setName] = useState("");
  const [role, setRole] = useState<string | null>("viewer");
  const [clearance, setClearance] = useState<string | null>("1");
  const [memberOf, setMemberOf] = useState<string[]>([]);
  const [service, setService] = useState(false);
  const [password, setPassword] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: async () => {
      await apiJson("/api/v1/admin/users", {
        method: "POST",
        body: JSON.stringify({ name: name.trim(), role: role ?? undefined, clearance: Number(clearance ?? 0), groups: memberOf, ...(service ? { kind: "service" } : {}) }),
      });
      // A service account never has a password: it gets API tokens (the tokens screen).
      if (service) return null;
      const pw = await apiJson<{ generated?: string }>(`/api/v1/admin/users/${encodeURIComponent(name.trim())}/password`, { method: "PUT", body: JSON.stringify({ generate: true }) }).catch(() => null);
      return pw?.generated ?? null;
    },
    onSuccess: (generated) => {
      void qc.invalidateQueries({ queryKey: ["admin-users"] });
      setPassword(generated);
      notifyDone(t("users.created", { name }));
    },
    onError: (e) => notifyError(t, e),
  });
  const close = () => {
    setName("");
    setPassword(null);
    setMemberOf([]);
    setService(false);
    onClose();
  };
  return (
    <Modal closeButtonProps={{ "aria-label": t("common.close") }} opened={opened} onClose={close} title={t("users.create")} centered>
      {password ? (
        <Stack>
          <Text size="sm">{t("users.passwordOnce", { name })}</Text>
          <Code block data-testid="generated-password">{password}</Code>
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
            <TextInput label={t("common.name")} value={name} onChange={(e) => setName(e.currentTarget.value)} required data-autofocus />
            <Select label={t("users.role")} data={roles} value={role} onChange={setRole} allowDeselect={false} />
            <Select label={t("users.clearance")} data={CLASSIFICATION_LEVELS.map((c, i) => ({ value: String(i), label: t(`class.${c}`) }))} value={clearance} onChange={setClearance} allowDeselect={false} />
            <MultiSelect label={t("users.groups")} data={(groups.data?.items ?? []).map((g) => g.name)} value={memberOf} onChange={setMemberOf} searchable />
            <Switch label={t("users.serviceSwitch")} checked={service} onChange={(e) => setService(e.currentTarget.checked)} />
            <Group justify="flex-end">
              <Button variant="default" onClick={close}>
                {t("common.cancel")}
              </Button>
              <Button type="submit" loading={create.isPending}>
                {t("common.create")}
              </Button>
            </Group>
          </Stack>
        </form>
      )}
    </Modal>
  );
}

interface UserDetailT extends User {
  memberOf: Record<string, string[]>;
  capabilities: string[];
}

function UserDetail({ name }: { name: string }) {
  const { t } = useTranslation();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const roles = useRoles();
  const path = `/api/v1/admin/users/${encodeURIComponent(name)}`;
  const user = useQuery({ queryKey: ["admin-user", name], queryFn: () => apiJson<UserDetailT>(path) });
  const groups = useQuery({ queryKey: ["admin-groups"], queryFn: () => apiJson<{ items: GroupT[] }>("/api/v1/admin/groups") });
  const [addGroup, setAddGroup] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<"delete" | "purge" | null>(null);
  const refresh = () => {
    void qc.invalidateQueries({ queryKey: ["admin-user", name] });
    void qc.invalidateQueries({ queryKey: ["admin-users"] });
    void qc.invalidateQueries({ queryKey: ["admin-groups"] });
  };
  const patch = useMutation({
    mutationFn: (body: Record<string, unknown>) => apiJson(path, { method: "PATCH", body: JSON.stringify(body) }),
    onSuccess: () => {
      refresh();
      notifyDone(t("common.saved"));
    },
    onError: (e) => notifyError(t, e),
  });
  const membership = useMutation({
    mutationFn: async ({ group, add }: { group: string; add: boolean }) => {
      const res = add
        ? await apiFetch(`/api/v1/admin/groups/${encodeURIComponent(group)}/members`, { method: "POST", body: JSON.stringify({ member: `user:${name}` }) })
        : await apiFetch(`/api/v1/admin/groups/${encodeURIComponent(group)}/members/${encodeURIComponent(`user:${name}`)}`, { method: "DELETE" });
      if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
    },
    onSuccess: refresh,
    onError: (e) => notifyError(t, e),
  });
  const destroy = useMutation({
    mutationFn: async (what: "delete" | "purge") => {
      if (what === "purge") return apiJson<{ conversations: number; feedback: number }>(`${path}/purge-history`, { method: "POST" });
      const res = await apiFetch(path, { method: "DELETE" });
      if (!res.ok) throw new Error(`${res.status}`);
      return null;
    },
    onSuccess: (r, what) => {
      setConfirm(null);
      if (what === "delete") {
        refresh();
        void navigate("/admin/users");
      } else notifyDone(t("users.purged", { conversations: r?.conversations ?? 0, feedback: r?.feedback ?? 0 }));
    },
    onError: (e) => notifyError(t, e),
  });

  if (user.isPending) return <Loader aria-label={t("common.loading")} />;
  if (user.isError) return <Alert color="red">{t("common.error")}</Alert>;
  const u = user.data;
  const direct = new Set(u.groups);
  return (
    <Stack>
      <Group grow align="flex-end">
        <Select label={t("users.role")} data={roles.includes(u.role) ? roles : [...roles, u.role]} value={u.role} onChange={(v) => v && patch.mutate({ role: v })} allowDeselect={false} />
        <Select label={t("users.clearance")} data={CLASSIFICATION_LEVELS.map((c, i) => ({ value: String(i), label: t(`class.${c}`) }))} value={String(u.clearance)} onChange={(v) => v && patch.mutate({ clearance: Number(v) })} allowDeselect={false} />
      </Group>
      <Switch label={t("users.disabledSwitch")} checked={u.disabled} onChange={(e) => patch.mutate({ disabled: e.currentTarget.checked })} />
      <div>
        <Title order={3} size="h5">
          {t("users.capabilities")}
        </Title>
        <Text size="xs" c="dimmed">
          {t("users.capabilitiesHint")}
        </Text>
        <Group gap={4} mt={4}>
          {u.capabilities.map((c) => (
            <Badge key={c} variant="outline" color="gray">
              {c}
            </Badge>
          ))}
        </Group>
      </div>
      <div>
        <Title order={3} size="h5">
          {t("users.memberships")}
        </Title>
        <List size="sm" spacing={4} mt={4}>
          {Object.entries(u.memberOf).map(([g, chain]) => (
            <List.Item key={g}>
              <Group gap="xs">
                <Text size="sm" fw={500}>
                  {g}
                </Text>
                {chain.length > 1 ? (
                  <Text size="xs" c="dimmed">
                    {t("users.via", { chain: chain.join(" → ") })}
                  </Text>
                ) : null}
                {direct.has(g) ? (
                  <Button size="compact-xs" variant="subtle" color="red" onClick={() => membership.mutate({ group: g, add: false })} aria-label={t("users.leave", { group: g })}>
                    {t("users.remove")}
                  </Button>
                ) : null}
              </Group>
            </List.Item>
          ))}
        </List>
        <Group mt="xs" align="flex-end">
          <Select label={t("users.addToGroup")} data={(groups.data?.items ?? []).map((g) => g.name).filter((g) => !direct.has(g))} value={addGroup} onChange={setAddGroup} searchable clearable />
          <Button variant="light" disabled={!addGroup} onClick={() => addGroup && membership.mutate({ group: addGroup, add: true })}>
            {t("users.add")}
          </Button>
        </Group>
      </div>
      {/* A service account never signs in: it has no password or sessions to manage (tokens: the Tokens screen). */}
      {u.kind === "service" ? null : <SignInPanel name={name} />}
      <div>
        <Title order={3} size="h5">
          {t("explain.title")}
        </Title>
        <ExplainForm user={name} />
      </div>
      <Group>
        <Button color="red" variant="light" onClick={() => setConfirm("purge")}>
          {t("users.purge")}
        </Button>
        <Button color="red" onClick={() => setConfirm("delete")}>
          {t("users.delete")}
        </Button>
      </Group>
      <Confirm
        opened={!!confirm}
        title={confirm === "purge" ? t("users.purge") : t("users.delete")}
        message={confirm === "purge" ? t("users.confirmPurge", { name }) : t("users.confirmDelete", { name })}
        onConfirm={() => confirm && destroy.mutate(confirm)}
        onClose={() => setConfirm(null)}
        busy={destroy.isPending}
      />
    </Stack>
  );
}
