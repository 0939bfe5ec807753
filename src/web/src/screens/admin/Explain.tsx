import { Alert, Badge, Button, Group, List, Stack, Text, TextInput } from "@mantine/core";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { ApiError, apiJson } from "../../api/client";

interface Explanation {
  allowed?: boolean;
  reasons?: string[];
  principals?: string[];
  actions?: Record<string, boolean>;
  document?: { id?: string; title?: string; source?: string };
}

/** "Why can (or can't) this user read this document?" (GET /api/v1/admin/explain). */
export function ExplainForm({ user: fixedUser, document: fixedDocument }: { user?: string; document?: string }) {
  const { t } = useTranslation();
  const [user, setUser] = useState(fixedUser ?? "");
  const [document, setDocument] = useState(fixedDocument ?? "");
  const [result, setResult] = useState<Explanation | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      setResult(await apiJson<Explanation>(`/api/v1/admin/explain?${new URLSearchParams({ user: user.trim(), document: document.trim() })}`));
    } catch (e) {
      setError(e instanceof ApiError ? `${e.code}: ${e.message}` : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Stack gap="xs">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void run();
        }}
      >
        <Group align="flex-end">
          {fixedUser ? null : <TextInput label={t("explain.user")} value={user} onChange={(e) => setUser(e.currentTarget.value)} required />}
          {fixedDocument ? null : <TextInput label={t("explain.document")} description={t("explain.documentHint")} value={document} onChange={(e) => setDocument(e.currentTarget.value)} required style={{ flex: 1, minWidth: 200 }} />}
          <Button type="submit" variant="light" loading={busy}>
            {t("explain.run")}
          </Button>
        </Group>
      </form>
      {error ? <Alert color="red">{error}</Alert> : null}
      {result ? (
        <Stack gap={4} data-testid="explain-result">
          <Group gap="xs">
            <Badge color={result.allowed ? "green" : "red"} variant="light">
              {result.allowed ? t("explain.allowed") : t("explain.denied")}
            </Badge>
            {result.document?.title ? <Text size="sm">{result.document.title}</Text> : null}
          </Group>
          <List size="sm">
            {(result.reasons ?? []).map((r, i) => (
              <List.Item key={i}>{r}</List.Item>
            ))}
          </List>
          {result.principals?.length ? (
            <Text size="xs" c="dimmed">
              {t("explain.principals")}: {result.principals.join(", ")}
            </Text>
          ) : null}
        </Stack>
      ) : null}
    </Stack>
  );
}
