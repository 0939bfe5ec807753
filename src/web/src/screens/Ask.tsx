import { ActionIcon, Alert, Anchor, Badge, Box, Button, CloseButton, Collapse, CopyButton, FileButton, Group, List, Loader, Paper, Stack, Text, Textarea, Title, Tooltip } from "@mantine/core";
import { IconCheck, IconCopy, IconFilter, IconPhoto, IconPlayerStopFilled, IconPlus, IconSend } from "@tabler/icons-react";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useRef, useState, type KeyboardEvent } from "react";
import { useTranslation } from "react-i18next";
import { Link, useNavigate, useParams } from "react-router";
import { askStream, type AskCitation, type AskSource } from "../api/ask-stream";
import { ApiError, api, unwrap } from "../api/client";
import { Feedback } from "../components/Feedback";
import { Markdown, type CitationTarget } from "../components/Markdown";
import { EMPTY_SCOPE, ScopeFields, scopeCount, toScope, type ScopeForm } from "../components/Scope";

interface Turn {
  key: string;
  question: string;
  /** The name of the image sent with the question (its text is added by the server). */
  imageName?: string;
  answer: string;
  sources: AskSource[];
  citations: AskCitation[];
  found?: boolean;
  status: "streaming" | "done" | "stopped" | "error";
  error?: string;
  messageId?: number | string;
  feedback?: { rating: "up" | "down"; comment: string | null };
}

export function documentHref(documentId: string, page: number, quote?: string): string {
  const q = new URLSearchParams({ page: String(page) });
  if (quote) q.set("quote", quote.slice(0, 300));
  return `/documents/${encodeURIComponent(documentId)}?${q.toString()}`;
}

function citationTargets(turn: Turn): CitationTarget[] {
  if (turn.citations.length) return turn.citations.map((c) => ({ n: c.n, title: c.title, href: documentHref(c.documentId, c.page, c.quote) }));
  return turn.sources.map((s) => ({ n: s.n, title: s.title, href: documentHref(s.documentId, s.page, s.text.slice(0, 160)) }));
}

/** The largest image the server reads (ASK_IMAGE_LIMITS.bytes): refused here before sending. */
const IMAGE_MAX_BYTES = 4 * 1024 * 1024;
const IMAGE_TYPES = "image/png,image/jpeg,image/webp";

function readDataUrl(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result));
    r.onerror = () => reject(r.error ?? new Error("read failed"));
    r.readAsDataURL(file);
  });
}

function errorText(t: (k: string) => string, err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 429) return t("ask.busy");
    if (err.code === "image_too_large") return t("ask.imageTooLarge");
    if (err.code === "unsupported_image") return t("ask.imageUnsupported");
    if (err.code === "image_no_text") return t("ask.imageNoText");
    if (err.code === "llm_timeout") return t("ask.timeout");
    return `${t("ask.failed")} (${err.code})`;
  }
  return t("ask.failed");
}

export function AskScreen() {
  const { t } = useTranslation();
  const params = useParams();
  const navigate = useNavigate();
  const [conversationId, setConversationId] = useState<string | undefined>(params.conversationId);
  const [turns, setTurns] = useState<Turn[]>([]);
  const [question, setQuestion] = useState("");
  const [scopeForm, setScopeForm] = useState<ScopeForm>(EMPTY_SCOPE);
  const [scopeOpen, setScopeOpen] = useState(false);
  const [image, setImage] = useState<{ name: string; dataUrl: string } | null>(null);
  const [imageError, setImageError] = useState<string | null>(null);
  const abortRef = useRef<AbortController | null>(null);
  const inputRef = useRef<HTMLTextAreaElement>(null);
  const endRef = useRef<HTMLDivElement>(null);
  const streaming = turns.some((x) => x.status === "streaming");

  // A conversation opened from History: its earlier turns.
  const earlier = useQuery({
    queryKey: ["conversation", params.conversationId],
    enabled: !!params.conversationId,
    queryFn: async () => unwrap(await api.GET("/api/v1/conversations/{id}", { params: { path: { id: params.conversationId! } } })),
  });
  useEffect(() => {
    setConversationId(params.conversationId);
    setTurns([]);
  }, [params.conversationId]);
  useEffect(() => {
    const msgs = earlier.data?.messages;
    if (!msgs) return;
    const loaded: Turn[] = [];
    for (let i = 0; i < msgs.length; i++) {
      const m = msgs[i]!;
      if (m.role !== "user") continue;
      const a = msgs[i + 1]?.role === "assistant" ? msgs[i + 1] : undefined;
      // Each message's id and the feedback given on it; a stored answer without citations is
      // one the documents did not answer ("I don't know": `found` itself is not stored).
      const extra = a as { id?: number | string; feedback?: Turn["feedback"] } | undefined;
      loaded.push({ key: `h${i}`, question: m.content, answer: a?.content ?? "", sources: [], citations: a?.citations ?? [], status: "done", messageId: extra?.id, feedback: extra?.feedback, found: a ? (a.citations ?? []).length > 0 : undefined });
    }
    setTurns(loaded);
  }, [earlier.data]);

  useEffect(() => () => abortRef.current?.abort(), []);

  const update = (key: string, patch: (t: Turn) => Partial<Turn>) => setTurns((all) => all.map((x) => (x.key === key ? { ...x, ...patch(x) } : x)));

  const ask = async () => {
    const q = question.trim();
    if (!q || streaming) return;
    const key = crypto.randomUUID();
    const attached = image;
    setQuestion("");
    setImage(null);
    setTurns((all) => [...all, { key, question: q, ...(attached ? { imageName: attached.name } : {}), answer: "", sources: [], citations: [], status: "streaming" }]);
    const ac = new AbortController();
    abortRef.current = ac;
    try {
      for await (const e of askStream(q, conversationId, ac.signal, toScope(scopeForm), attached ? { dataUrl: attached.dataUrl } : undefined)) {
        if (e.type === "sources") {
          setConversationId(e.conversationId);
          // The address names the conversation (a reload or a shared link reopens it), without
          // a router navigation that would remount this screen mid-stream.
          if (location.pathname === "/") window.history.replaceState(window.history.state, "", `/c/${encodeURIComponent(e.conversationId)}`);
          update(key, () => ({ sources: e.sources }));
        } else if (e.type === "delta") update(key, (x) => ({ answer: x.answer + e.text }));
        else if (e.type === "done") update(key, () => ({ answer: e.done.answer, citations: e.done.citations, found: e.done.found, status: "done", messageId: e.done.messageId }));
        else update(key, () => ({ status: "error", error: e.code === "llm_timeout" ? t("ask.timeout") : `${t("ask.failed")} (${e.code})` }));
      }
      update(key, (x) => (x.status === "streaming" ? { status: "done" } : {}));
    } catch (err) {
      if (ac.signal.aborted) update(key, () => ({ status: "stopped" }));
      else update(key, () => ({ status: "error", error: errorText(t, err) }));
    } finally {
      abortRef.current = null;
      inputRef.current?.focus();
    }
  };

  const attach = async (file: File | null) => {
    setImageError(null);
    if (!file) return;
    if (!IMAGE_TYPES.split(",").includes(file.type)) return setImageError(t("ask.imageUnsupported"));
    if (file.size > IMAGE_MAX_BYTES) return setImageError(t("ask.imageTooLarge"));
    try {
      setImage({ name: file.name, dataUrl: await readDataUrl(file) });
    } catch {
      setImageError(t("ask.imageUnsupported"));
    }
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    // Enter sends, Shift+Enter is a new line; never while an input method is composing (Korean).
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing && e.keyCode !== 229) {
      e.preventDefault();
      void ask();
    }
  };

  useEffect(() => {
    endRef.current?.scrollIntoView?.({ block: "nearest" });
  }, [turns.length]);

  const newConversation = () => {
    abortRef.current?.abort();
    setConversationId(undefined);
    setTurns([]);
    if (params.conversationId) void navigate("/");
    else if (location.pathname !== "/") window.history.replaceState(window.history.state, "", "/");
    inputRef.current?.focus();
  };

  return (
    <Stack maw={900} mx="auto" gap="md">
      <Group justify="space-between">
        <Title order={2}>{t("ask.title")}</Title>
        {turns.length > 0 ? (
          <Button variant="subtle" leftSection={<IconPlus size={16} aria-hidden />} onClick={newConversation}>
            {t("ask.new")}
          </Button>
        ) : null}
      </Group>
      {earlier.isPending && params.conversationId ? <Loader size="sm" aria-label={t("common.loading")} /> : null}
      {earlier.isError ? <Alert color="red">{t("history.notFound")}</Alert> : null}
      {turns.length === 0 && !params.conversationId ? <Text c="dimmed">{t("ask.intro")}</Text> : null}
      <Stack gap="lg" aria-live="polite" aria-busy={streaming}>
        {turns.map((turn) => (
          <TurnView key={turn.key} turn={turn} conversationId={conversationId} />
        ))}
      </Stack>
      <div ref={endRef} />
      <Paper withBorder p="sm" radius="md" component="form" onSubmit={(e) => (e.preventDefault(), void ask())} aria-label={t("ask.formLabel")}>
        <Textarea
          ref={inputRef}
          label={turns.length ? t("ask.followUp") : t("ask.question")}
          description={t("ask.hint")}
          placeholder={t("ask.placeholder")}
          autosize
          minRows={2}
          maxRows={8}
          maxLength={2000}
          value={question}
          onChange={(e) => setQuestion(e.currentTarget.value)}
          onKeyDown={onKeyDown}
          autoFocus
        />
        {image ? (
          <Group gap={4} mt="xs">
            <Badge variant="light" leftSection={<IconPhoto size={14} aria-hidden />}>
              {t("ask.imageAttached", { name: image.name })}
            </Badge>
            <CloseButton size="sm" aria-label={t("ask.removeImage", { name: image.name })} onClick={() => setImage(null)} />
          </Group>
        ) : null}
        {imageError ? (
          <Text c="red" size="sm" mt="xs" role="alert">
            {imageError}
          </Text>
        ) : null}
        <Collapse expanded={scopeOpen}>
          <Box mt="xs">
            <ScopeFields value={scopeForm} onChange={setScopeForm} />
          </Box>
        </Collapse>
        <Group justify="space-between" mt="xs">
          <Group gap="xs">
            <Button variant="subtle" size="xs" leftSection={<IconFilter size={14} aria-hidden />} onClick={() => setScopeOpen((o) => !o)} aria-expanded={scopeOpen}>
              {scopeCount(scopeForm) ? t("scope.limitedTo", { count: scopeCount(scopeForm) }) : t("scope.limit")}
            </Button>
            <FileButton onChange={(f) => void attach(f)} accept={IMAGE_TYPES}>
              {(props) => (
                <Tooltip label={t("ask.attachHint")} multiline w={260}>
                  <Button {...props} variant="subtle" size="xs" leftSection={<IconPhoto size={14} aria-hidden />} disabled={streaming}>
                    {t("ask.attach")}
                  </Button>
                </Tooltip>
              )}
            </FileButton>
          </Group>
          {streaming ? (
            <Button color="red" variant="light" leftSection={<IconPlayerStopFilled size={16} aria-hidden />} onClick={() => abortRef.current?.abort()}>
              {t("ask.stop")}
            </Button>
          ) : (
            <Button type="submit" leftSection={<IconSend size={16} aria-hidden />} disabled={!question.trim()}>
              {t("ask.send")}
            </Button>
          )}
        </Group>
      </Paper>
    </Stack>
  );
}

function TurnView({ turn, conversationId }: { turn: Turn; conversationId?: string }) {
  const { t } = useTranslation();
  const targets = citationTargets(turn);
  const unknown = turn.status === "done" && turn.found === false;
  return (
    <Stack gap="xs" data-testid="turn">
      <Paper p="sm" radius="md" bg="var(--mantine-color-blue-light)" ml="auto" maw="85%">
        <Text size="sm" style={{ whiteSpace: "pre-wrap" }} aria-label={t("ask.you")}>
          {turn.question}
        </Text>
        {turn.imageName ? (
          <Badge variant="light" mt={4} leftSection={<IconPhoto size={12} aria-hidden />}>
            {t("ask.imageAttached", { name: turn.imageName })}
          </Badge>
        ) : null}
      </Paper>
      <Paper withBorder p="md" radius="md" className={unknown ? "kb-unknown" : undefined} data-testid="answer" data-status={turn.status} data-found={turn.found === undefined ? undefined : String(turn.found)}>
        {unknown ? (
          <Badge color="gray" variant="light" mb="xs">
            {t("ask.unknown")}
          </Badge>
        ) : null}
        {turn.answer ? <Markdown text={turn.answer} citations={targets} /> : turn.status === "streaming" ? <Loader size="xs" type="dots" aria-label={t("ask.thinking")} /> : null}
        {turn.status === "stopped" ? (
          <Text size="xs" c="dimmed" mt="xs">
            {t("ask.stopped")}
          </Text>
        ) : null}
        {turn.status === "error" ? (
          <Alert color="red" mt="xs" role="alert">
            {turn.error}
          </Alert>
        ) : null}
        {targets.length > 0 && !unknown ? (
          <Box mt="sm">
            <Text size="xs" fw={700} c="dimmed">
              {t("ask.sources")}
            </Text>
            <List size="sm" listStyleType="none" spacing={2}>
              {targets.map((c) => (
                <List.Item key={c.n}>
                  <Anchor component={Link} to={c.href} size="sm">
                    [{c.n}] {c.title} · {t("doc.pageN", { n: new URLSearchParams(c.href.split("?")[1]).get("page") })}
                  </Anchor>
                </List.Item>
              ))}
            </List>
          </Box>
        ) : null}
        {turn.status === "done" || turn.status === "stopped" ? (
          <Group justify="space-between" mt="sm" align="flex-start">
            {conversationId && turn.status === "done" ? <Feedback conversationId={conversationId} messageId={turn.messageId} initial={turn.feedback} /> : <span />}
            <CopyButton value={turn.answer}>
              {({ copied, copy }) => (
                <Tooltip label={copied ? t("ask.copied") : t("ask.copy")}>
                  <ActionIcon variant="subtle" color="gray" onClick={copy} aria-label={t("ask.copy")}>
                    {copied ? <IconCheck size={18} aria-hidden /> : <IconCopy size={18} aria-hidden />}
                  </ActionIcon>
                </Tooltip>
              )}
            </CopyButton>
          </Group>
        ) : null}
      </Paper>
    </Stack>
  );
}
