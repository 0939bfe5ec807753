import { Alert, Anchor, Badge, Button, Group, Loader, Pagination, Paper, SegmentedControl, Stack, Text, Title } from "@mantine/core";
import { IconDownload } from "@tabler/icons-react";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useMemo, useRef, useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams, useSearchParams } from "react-router";
import { ApiError, api, apiFetch, unwrap } from "../api/client";
import { useSession } from "../api/session";
import { ClassificationBadge } from "../components/Badges";
import { ExplainForm } from "./admin/Explain";
import { openPdf, renderPage } from "../components/pdf";
import { findQuote } from "../lib/text";

export default function DocumentView() {
  const { t } = useTranslation();
  const { id = "" } = useParams();
  const [search, setSearch] = useSearchParams();
  const page = Math.max(1, Number(search.get("page")) || 1);
  const quote = search.get("quote") ?? "";
  const [view, setView] = useState<"text" | "pdf">("text");
  const { can } = useSession();

  const doc = useQuery({ queryKey: ["document", id], queryFn: async () => unwrap(await api.GET("/api/v1/documents/{id}", { params: { path: { id } } })) });
  // The page's text (masked as the API masks it) and whether the original may be downloaded
  // (the server decides: view_sensitive, or no personal data recorded).
  const text = useQuery({
    queryKey: ["document-page", id, page],
    enabled: doc.isSuccess,
    queryFn: async () => unwrap(await api.GET("/api/v1/documents/{id}/pages/{n}", { params: { path: { id, n: page } } })),
  });
  const original = { data: text.data?.originalAvailable ?? false };
  const isPdf = doc.data?.mime === "application/pdf" || /\.pdf$/i.test(doc.data?.source ?? "");
  const pageCount = Math.max(doc.data?.pageCount ?? 1, text.data?.pageCount ?? 1);

  const range = useMemo(() => (text.data ? findQuote(text.data.text, quote) : null), [text.data, quote]);
  const markRef = useRef<HTMLElement>(null);
  useEffect(() => {
    if (range && view === "text") markRef.current?.scrollIntoView?.({ block: "center" });
  }, [range, view]);

  const goTo = (p: number) => {
    const next = new URLSearchParams(search);
    next.set("page", String(p));
    next.delete("quote");
    setSearch(next);
  };

  if (doc.isPending) return <Loader aria-label={t("common.loading")} />;
  if (doc.isError) return <Alert color="red">{doc.error instanceof ApiError && doc.error.status === 404 ? t("doc.notFound") : t("common.error")}</Alert>;
  const d = doc.data;

  return (
    <Stack maw={960} mx="auto">
      <Group justify="space-between" align="flex-start">
        <Stack gap={2}>
          <Title order={2}>{d.title}</Title>
          <Text size="sm" c="dimmed">
            {d.source}
          </Text>
          <Group gap="xs">
            <ClassificationBadge level={d.acl.classification} />
            <Badge variant="outline" color="gray">
              {t("doc.pages", { count: d.pageCount })}
            </Badge>
          </Group>
        </Stack>
        {original.data ? (
          <Button component="a" href={`/api/v1/documents/${encodeURIComponent(id)}/original`} download leftSection={<IconDownload size={16} aria-hidden />} variant="default">
            {t("doc.download")}
          </Button>
        ) : null}
      </Group>
      {isPdf && original.data ? (
        <SegmentedControl
          value={view}
          onChange={(v) => setView(v as "text" | "pdf")}
          data={[
            { value: "text", label: t("doc.viewText") },
            { value: "pdf", label: t("doc.viewPdf") },
          ]}
          aria-label={t("doc.viewAs")}
          w="fit-content"
        />
      ) : null}
      <Pagination total={pageCount} value={page} onChange={goTo} aria-label={t("doc.pageNav")} size="sm" getControlProps={(c) => ({ "aria-label": c === "previous" ? t("doc.prev") : c === "next" ? t("doc.next") : c })} />
      <Paper withBorder p="md" radius="md" component="section" aria-label={t("doc.pageN", { n: page })}>
        {view === "pdf" && isPdf && original.data ? (
          <PdfPage id={id} page={page} />
        ) : text.isPending ? (
          <Loader size="sm" aria-label={t("common.loading")} />
        ) : text.isError ? (
          <Alert color="red">{text.error instanceof ApiError && text.error.status === 404 ? t("doc.pageNotFound") : t("common.error")}</Alert>
        ) : (
          <>
            {quote && !range ? (
              <Text size="xs" c="dimmed" mb="xs">
                {t("doc.quoteNotFound")}
              </Text>
            ) : null}
            {/* Plain text (React escapes it): a document's markup is never interpreted. */}
            <div className="kb-page-text" data-testid="page-text">
              {range ? (
                <>
                  {text.data.text.slice(0, range[0])}
                  <mark ref={markRef} tabIndex={-1}>
                    {text.data.text.slice(range[0], range[1])}
                  </mark>
                  {text.data.text.slice(range[1])}
                </>
              ) : (
                text.data.text || <Text c="dimmed">{t("doc.emptyPage")}</Text>
              )}
            </div>
          </>
        )}
      </Paper>
      {can("manage_all_documents") ? (
        <Paper withBorder p="md" radius="md" component="section" aria-labelledby="doc-access-title">
          <Group justify="space-between" mb="xs">
            <Title order={3} size="h5" id="doc-access-title">
              {t("explain.title")}
            </Title>
            <Anchor component={Link} to={`/admin/access?doc=${encodeURIComponent(id)}`} size="sm">
              {t("doc.changeAccess")}
            </Anchor>
          </Group>
          <ExplainForm document={id} />
        </Paper>
      ) : null}
    </Stack>
  );
}

function PdfPage({ id, page }: { id: string; page: number }) {
  const { t } = useTranslation();
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const [error, setError] = useState(false);
  const pdf = useQuery({
    queryKey: ["document-pdf", id],
    staleTime: Infinity,
    queryFn: async () => {
      const res = await apiFetch(`/api/v1/documents/${encodeURIComponent(id)}/original`);
      if (!res.ok) throw new ApiError(res.status, `http_${res.status}`, `HTTP ${res.status}`);
      return openPdf(await res.arrayBuffer());
    },
  });
  useEffect(() => {
    const canvas = canvasRef.current;
    if (!pdf.data || !canvas) return;
    setError(false);
    const width = Math.min(canvas.parentElement?.clientWidth ?? 800, 900);
    renderPage(pdf.data, Math.min(page, pdf.data.numPages), canvas, width).catch(() => setError(true));
  }, [pdf.data, page]);
  if (pdf.isError || error) return <Alert color="red">{t("doc.pdfFailed")}</Alert>;
  return (
    <>
      {pdf.isPending ? <Loader size="sm" aria-label={t("common.loading")} /> : null}
      <canvas ref={canvasRef} className="kb-pdf-canvas" role="img" aria-label={t("doc.pdfPage", { n: page })} />
    </>
  );
}
