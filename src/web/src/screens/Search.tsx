import { Accordion, Alert, Anchor, Badge, Button, Group, Loader, Paper, Stack, Text, TextInput, Title } from "@mantine/core";
import { IconSearch } from "@tabler/icons-react";
import { useQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link, useSearchParams } from "react-router";
import { ApiError, api, unwrap } from "../api/client";
import { EMPTY_SCOPE, ScopeFields, scopeCount, toScope, type ScopeForm, type SearchScope } from "../components/Scope";
import { snippet } from "../lib/text";
import { documentHref } from "./Ask";

export default function Search() {
  const { t } = useTranslation();
  const [params, setParams] = useSearchParams();
  const q = params.get("q") ?? "";
  const [input, setInput] = useState(q);
  const [scopeForm, setScopeForm] = useState<ScopeForm>(EMPTY_SCOPE);
  const [scope, setScope] = useState<SearchScope | undefined>(undefined);

  const results = useQuery({
    queryKey: ["search", q, scope],
    enabled: q.trim().length > 0,
    queryFn: async () => unwrap(await api.POST("/api/v1/search", { body: { query: q, topK: 20, ...(scope ? { scope } : {}) } })),
  });

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setScope(toScope(scopeForm));
    const next = new URLSearchParams(params);
    if (input.trim()) next.set("q", input.trim());
    else next.delete("q");
    setParams(next);
  };

  return (
    <Stack maw={1000} mx="auto">
      <Title order={2}>{t("nav.search")}</Title>
      <form onSubmit={submit} role="search" aria-label={t("search.label")}>
        <Group align="flex-end">
          <TextInput label={t("search.query")} value={input} onChange={(e) => setInput(e.currentTarget.value)} leftSection={<IconSearch size={16} aria-hidden />} style={{ flex: 1, minWidth: 200 }} maxLength={2000} type="search" />
          <Button type="submit">{t("nav.search")}</Button>
        </Group>
        <Accordion variant="contained" mt="sm">
          <Accordion.Item value="scope">
            <Accordion.Control>
              {t("scope.filters")}
              {scopeCount(scopeForm) ? ` (${scopeCount(scopeForm)})` : ""}
            </Accordion.Control>
            <Accordion.Panel>
              <ScopeFields value={scopeForm} onChange={setScopeForm} />
              <Button variant="subtle" size="xs" mt="xs" onClick={() => setScopeForm(EMPTY_SCOPE)}>
                {t("documents.clearFilters")}
              </Button>
            </Accordion.Panel>
          </Accordion.Item>
        </Accordion>
      </form>
      {results.isFetching ? <Loader size="sm" aria-label={t("common.loading")} /> : null}
      {results.isError ? <Alert color="red">{results.error instanceof ApiError && results.error.status === 429 ? t("ask.busy") : t("common.error")}</Alert> : null}
      {results.data ? (
        <Text size="sm" c="dimmed" role="status">
          {t("search.count", { count: results.data.results.length })}
        </Text>
      ) : null}
      <Stack component="ol" gap="sm" p={0} m={0} style={{ listStyle: "none" }} aria-label={t("search.results")}>
        {(results.data?.results ?? []).map((r) => (
          <Paper component="li" key={r.chunkId} withBorder p="md" radius="md">
            <Group justify="space-between" wrap="nowrap" align="flex-start">
              <Stack gap={2}>
                <Anchor component={Link} to={documentHref(r.documentId, r.page, r.text.slice(0, 160))} fw={600}>
                  {r.title}
                </Anchor>
                <Text size="xs" c="dimmed">
                  {r.source} · {t("doc.pageN", { n: r.page })}
                  {r.headings ? ` · ${r.headings}` : ""}
                </Text>
                {r.copies?.length ? (
                  <Text size="xs" c="dimmed">
                    {t("search.copies", { count: r.copies.length })}:{" "}
                    {r.copies.map((c, i) => (
                      <span key={c.documentId}>
                        {i > 0 ? ", " : ""}
                        {/* Copies share their title; the file is what tells them apart. */}
                        <Anchor component={Link} to={documentHref(c.documentId, 1)} size="xs" title={c.title}>
                          {c.source}
                        </Anchor>
                      </span>
                    ))}
                  </Text>
                ) : null}
              </Stack>
              <Group gap={4} wrap="nowrap">
                <Badge variant="light" color="gray" aria-label={t("search.rank", { rank: r.rank })}>
                  #{r.rank}
                </Badge>
                {r.score !== undefined ? (
                  <Badge variant="outline" color="gray" aria-label={t("search.score", { score: r.score.toFixed(3) })}>
                    {r.score.toFixed(3)}
                  </Badge>
                ) : null}
              </Group>
            </Group>
            <Text size="sm" mt="xs" style={{ overflowWrap: "anywhere" }}>
              {snippet(r.text, q)}
            </Text>
          </Paper>
        ))}
      </Stack>
    </Stack>
  );
}
