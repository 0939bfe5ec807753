import { ActionIcon, Alert, Anchor, Button, Group, Loader, Modal, Pagination, Stack, Table, Text, TextInput, Title, Tooltip } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { notifications } from "@mantine/notifications";
import { IconPencil, IconSearch, IconTrash } from "@tabler/icons-react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router";
import { apiFetch, apiJson, apiError } from "../api/client";
import { Confirm } from "../components/Confirm";
import { formatDate } from "../components/format";

interface Summary {
  id: string;
  title: string;
  messages: number;
  createdAt: string;
  updatedAt: string;
}

const PAGE = 20;

async function ok(res: Response): Promise<void> {
  if (!res.ok) throw apiError(res.status, await res.json().catch(() => null));
}

export default function History() {
  const { t, i18n } = useTranslation();
  const qc = useQueryClient();
  const [q, setQ] = useState("");
  const [debounced] = useDebouncedValue(q.trim(), 300);
  const [page, setPage] = useState(1);
  const [renaming, setRenaming] = useState<Summary | null>(null);
  const [title, setTitle] = useState("");
  const [deleting, setDeleting] = useState<Summary | "all" | null>(null);

  const list = useQuery({
    queryKey: ["conversations", debounced, page],
    queryFn: () => {
      const params = new URLSearchParams({ limit: String(PAGE), offset: String((page - 1) * PAGE) });
      if (debounced) params.set("q", debounced);
      return apiJson<{ conversations: Summary[]; total: number }>(`/api/v1/conversations?${params}`);
    },
  });
  const refresh = () => qc.invalidateQueries({ queryKey: ["conversations"] });

  const rename = useMutation({
    mutationFn: async ({ id, title }: { id: string; title: string }) => ok(await apiFetch(`/api/v1/conversations/${encodeURIComponent(id)}`, { method: "PATCH", body: JSON.stringify({ title }) })),
    onSuccess: () => {
      setRenaming(null);
      void refresh();
    },
    onError: () => notifications.show({ color: "red", message: t("history.renameFailed") }),
  });
  const remove = useMutation({
    mutationFn: async (target: Summary | "all") =>
      ok(await apiFetch(target === "all" ? "/api/v1/conversations" : `/api/v1/conversations/${encodeURIComponent(target.id)}`, { method: "DELETE" })),
    onSuccess: () => {
      setDeleting(null);
      void refresh();
      notifications.show({ message: t("history.deleted") });
    },
    onError: () => notifications.show({ color: "red", message: t("history.deleteFailed") }),
  });

  const total = list.data?.total ?? 0;
  return (
    <Stack maw={1000} mx="auto">
      <Group justify="space-between">
        <Title order={2}>{t("nav.history")}</Title>
        <Button color="red" variant="light" leftSection={<IconTrash size={16} aria-hidden />} onClick={() => setDeleting("all")} disabled={!total}>
          {t("history.deleteAll")}
        </Button>
      </Group>
      <TextInput
        label={t("history.search")}
        leftSection={<IconSearch size={16} aria-hidden />}
        value={q}
        onChange={(e) => {
          setQ(e.currentTarget.value);
          setPage(1);
        }}
        type="search"
      />
      {list.isPending ? <Loader aria-label={t("common.loading")} /> : null}
      {list.isError ? <Alert color="red">{t("common.error")}</Alert> : null}
      {list.data && list.data.conversations.length === 0 ? <Text c="dimmed">{debounced ? t("history.noMatch") : t("history.empty")}</Text> : null}
      {list.data && list.data.conversations.length > 0 ? (
        <Table.ScrollContainer minWidth={560}>
          <Table striped highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>{t("history.title")}</Table.Th>
                <Table.Th>{t("history.messages")}</Table.Th>
                <Table.Th>{t("common.updated")}</Table.Th>
                <Table.Th>
                  <span className="sr-only">{t("common.actions")}</span>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {list.data.conversations.map((c) => (
                <Table.Tr key={c.id}>
                  <Table.Td>
                    <Anchor component={Link} to={`/c/${encodeURIComponent(c.id)}`}>
                      {c.title || t("history.untitled")}
                    </Anchor>
                  </Table.Td>
                  <Table.Td>{c.messages}</Table.Td>
                  <Table.Td>{formatDate(c.updatedAt, i18n.language)}</Table.Td>
                  <Table.Td>
                    <Group gap={4} justify="flex-end" wrap="nowrap">
                      <Tooltip label={t("history.rename")}>
                        <ActionIcon
                          variant="subtle"
                          color="gray"
                          aria-label={`${t("history.rename")}: ${c.title}`}
                          onClick={() => {
                            setRenaming(c);
                            setTitle(c.title);
                          }}
                        >
                          <IconPencil size={16} aria-hidden />
                        </ActionIcon>
                      </Tooltip>
                      <Tooltip label={t("common.delete")}>
                        <ActionIcon variant="subtle" color="red" aria-label={`${t("common.delete")}: ${c.title}`} onClick={() => setDeleting(c)}>
                          <IconTrash size={16} aria-hidden />
                        </ActionIcon>
                      </Tooltip>
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      ) : null}
      {total > PAGE ? <Pagination total={Math.ceil(total / PAGE)} value={page} onChange={setPage} aria-label={t("common.pages")} /> : null}
      <Modal closeButtonProps={{ "aria-label": t("common.close") }} opened={!!renaming} onClose={() => setRenaming(null)} title={t("history.rename")} centered>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            if (renaming && title.trim()) rename.mutate({ id: renaming.id, title: title.trim() });
          }}
        >
          <TextInput label={t("history.title")} value={title} onChange={(e) => setTitle(e.currentTarget.value)} maxLength={200} required data-autofocus />
          <Group justify="flex-end" mt="md">
            <Button variant="default" onClick={() => setRenaming(null)}>
              {t("common.cancel")}
            </Button>
            <Button type="submit" loading={rename.isPending}>
              {t("common.save")}
            </Button>
          </Group>
        </form>
      </Modal>
      <Confirm
        opened={!!deleting}
        title={deleting === "all" ? t("history.deleteAll") : t("common.delete")}
        message={deleting === "all" ? t("history.confirmDeleteAll") : t("history.confirmDelete", { title: deleting?.title ?? "" })}
        onConfirm={() => deleting && remove.mutate(deleting)}
        onClose={() => setDeleting(null)}
        busy={remove.isPending}
      />
    </Stack>
  );
}
