import { Alert, Box, Button, Center, Divider, Group, Paper, PasswordInput, Stack, TextInput, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { Navigate, useLocation, useNavigate } from "react-router";
import { ApiError } from "../api/client";
import { fetchProviders, providerLabel, useSession } from "../api/session";
import { ColorSchemeToggle, LanguageMenu } from "../components/Layout";

export function SignInScreen() {
  const { t, i18n } = useTranslation();
  const { session, signIn, expired } = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  // A single sign-on that failed comes back here with ?sso_error=<code> (routes/oidc.ts).
  const ssoError = new URLSearchParams(location.search).get("sso_error");
  const from = (location.state as { from?: string } | null)?.from ?? "/";
  const [name, setName] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    document.title = `${t("auth.title")} · private-kb`;
  }, [t]);
  const providers = useQuery({ queryKey: ["auth-providers"], queryFn: fetchProviders, staleTime: Infinity });

  if (session) return <Navigate to={from} replace />;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      await signIn(name.trim(), password);
      void navigate(from, { replace: true });
    } catch (err) {
      if (err instanceof ApiError && err.status === 429) setError(t("auth.locked"));
      // The server gives one answer (401) for a wrong name or password and for a locked account (it
      // does not tell which); the message says both, as the server's does.
      else if (err instanceof ApiError && (err.status === 401 || err.status === 400)) setError(t("auth.invalid"));
      else setError(t("auth.failed"));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Box component="main" id="main" mih="100vh" className="kb-signin-bg">
      <Group justify="flex-end" p="sm" gap="xs">
        <ColorSchemeToggle />
        <LanguageMenu />
      </Group>
      <Center px="md" pb="xl">
        <Paper withBorder shadow="sm" p="xl" radius="md" w="100%" maw={400}>
          <Title order={1} size="h3" mb="xs">
            private-kb
          </Title>
          <Title order={2} size="h5" fw={500} c="dimmed" mb="lg">
            {t("auth.title")}
          </Title>
          {expired ? (
            <Alert color="yellow" mb="md" role="status">
              {t("auth.expired")}
            </Alert>
          ) : null}
          {ssoError ? (
            <Alert color="red" mb="md" role="alert">
              {t(ssoError === "oidc_provider_unreachable" ? "auth.ssoUnreachable" : "auth.ssoFailed")}
            </Alert>
          ) : null}
          <form onSubmit={(e) => void submit(e)} aria-label={t("auth.title")}>
            <Stack>
              <TextInput label={t("auth.name")} name="username" autoComplete="username" required value={name} onChange={(e) => setName(e.currentTarget.value)} autoFocus />
              <PasswordInput label={t("auth.password")} name="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.currentTarget.value)} />
              {error ? (
                <Alert color="red" role="alert">
                  {error}
                </Alert>
              ) : null}
              <Button type="submit" loading={busy} fullWidth>
                {t("auth.signIn")}
              </Button>
            </Stack>
          </form>
          {/* Single sign-on: one button per OpenID Connect provider (oidc-providers.json). */}
          <div data-testid="sso-providers">
            {(providers.data ?? []).length > 0 ? (
              <>
                <Divider my="md" label={t("auth.or")} labelPosition="center" />
                <Stack gap="xs">
                  {(providers.data ?? []).map((p) => (
                    <Button key={p.id} component="a" href={p.url ?? `/api/v1/auth/oidc/${encodeURIComponent(p.id)}/start`} variant="default" fullWidth>
                      {t("auth.signInWith", { provider: providerLabel(p, i18n.language) })}
                    </Button>
                  ))}
                </Stack>
              </>
            ) : null}
          </div>
        </Paper>
      </Center>
    </Box>
  );
}
