import { ActionIcon, AppShell, Burger, Group, Menu, NavLink, ScrollArea, Text, UnstyledButton, Title, useComputedColorScheme, useMantineColorScheme } from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import {
  IconChevronDown,
  IconFiles,
  IconHistory,
  IconLanguage,
  IconLogout,
  IconMessageQuestion,
  IconSearch,
  IconShieldLock,
  IconUsers,
  IconUsersGroup,
  IconKey,
  IconListCheck,
  IconFileCertificate,
  IconThumbUp,
  IconId,
  IconLock,
  IconServer,
  IconMoon,
  IconSun,
} from "@tabler/icons-react";
import { useEffect, useRef, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { useQuery } from "@tanstack/react-query";
import { Link, Outlet, useLocation, useNavigate } from "react-router";
import { fetchProviders, providerLabel, useSession } from "../api/session";
import { LANGUAGES } from "../i18n";

interface NavItem {
  to: string;
  label: string;
  icon: ReactNode;
  show: boolean;
}

export function LanguageMenu() {
  const { t, i18n } = useTranslation();
  const current = LANGUAGES.find((l) => i18n.resolvedLanguage === l.code)?.label;
  return (
    <Menu position="bottom-end">
      <Menu.Target>
        {/* The visible text is part of the name (WCAG 2.5.3 Label in Name). */}
        <UnstyledButton aria-label={`${t("nav.language")}: ${current ?? ""}`} p={6}>
          <Group gap={4} wrap="nowrap">
            <IconLanguage size={18} aria-hidden />
            <Text size="sm">{current}</Text>
          </Group>
        </UnstyledButton>
      </Menu.Target>
      <Menu.Dropdown>
        {LANGUAGES.map((l) => (
          <Menu.Item key={l.code} onClick={() => void i18n.changeLanguage(l.code)} lang={l.code} aria-current={i18n.resolvedLanguage === l.code ? "true" : undefined}>
            {l.label}
          </Menu.Item>
        ))}
      </Menu.Dropdown>
    </Menu>
  );
}

/** Light or dark (remembered by Mantine in localStorage; starts light). */
export function ColorSchemeToggle() {
  const { t } = useTranslation();
  const { setColorScheme } = useMantineColorScheme();
  const scheme = useComputedColorScheme("light");
  const dark = scheme === "dark";
  return (
    <ActionIcon variant="subtle" color="gray" onClick={() => setColorScheme(dark ? "light" : "dark")} aria-label={dark ? t("nav.lightTheme") : t("nav.darkTheme")}>
      {dark ? <IconSun size={18} aria-hidden /> : <IconMoon size={18} aria-hidden />}
    </ActionIcon>
  );
}

export function Layout() {
  const { t, i18n } = useTranslation();
  const { session, can, signOut } = useSession();
  const ssoProvider = session?.signedInWith?.provider ?? null;
  const providers = useQuery({ queryKey: ["auth-providers"], queryFn: fetchProviders, staleTime: Infinity, enabled: ssoProvider !== null });
  const provider = (providers.data ?? []).find((p) => p.id === ssoProvider);
  const signedInWithText = ssoProvider ? t("auth.signedInWith", { provider: provider ? providerLabel(provider, i18n.language) : ssoProvider }) : t("auth.signedInWithPassword");
  const [opened, { toggle, close }] = useDisclosure();
  const location = useLocation();
  const navigate = useNavigate();

  const main: NavItem[] = [
    { to: "/", label: t("nav.ask"), icon: <IconMessageQuestion size={18} aria-hidden />, show: true },
    { to: "/search", label: t("nav.search"), icon: <IconSearch size={18} aria-hidden />, show: true },
    { to: "/history", label: t("nav.history"), icon: <IconHistory size={18} aria-hidden />, show: true },
    { to: "/documents", label: t("nav.documents"), icon: <IconFiles size={18} aria-hidden />, show: true },
  ];
  const admin: NavItem[] = [
    { to: "/admin/users", label: t("nav.users"), icon: <IconUsers size={18} aria-hidden />, show: can("manage_users") },
    { to: "/admin/groups", label: t("nav.groups"), icon: <IconUsersGroup size={18} aria-hidden />, show: can("manage_users") },
    { to: "/admin/tokens", label: t("nav.tokens"), icon: <IconKey size={18} aria-hidden />, show: can("manage_users") },
    { to: "/admin/access", label: t("nav.access"), icon: <IconLock size={18} aria-hidden />, show: can("manage_all_documents") },
    { to: "/admin/jobs", label: t("nav.jobs"), icon: <IconListCheck size={18} aria-hidden />, show: can("ingest") || can("manage_all_documents") },
    { to: "/admin/personal-data", label: t("nav.personalData"), icon: <IconId size={18} aria-hidden />, show: can("view_sensitive") || can("manage_all_documents") },
    { to: "/admin/audit", label: t("nav.audit"), icon: <IconFileCertificate size={18} aria-hidden />, show: can("view_audit") },
    { to: "/admin/feedback", label: t("nav.feedback"), icon: <IconThumbUp size={18} aria-hidden />, show: can("review_feedback") },
    { to: "/admin/system", label: t("nav.system"), icon: <IconServer size={18} aria-hidden />, show: can("manage_all_documents") },
  ].filter((i) => i.show);

  const isActive = (to: string) => (to === "/" ? location.pathname === "/" || location.pathname.startsWith("/c/") : location.pathname === to || location.pathname.startsWith(to + "/"));
  // Each screen has its own document title (WCAG 2.4.2), and after moving to another screen
  // focus goes to its main region unless the screen put it there itself (an autofocused box).
  const current = [...main, ...admin].find((i) => isActive(i.to));
  const title = current?.label;
  useEffect(() => {
    document.title = title ? `${title} · private-kb` : "private-kb";
  }, [title]);
  const mainRef = useRef<HTMLElement>(null);
  const firstPath = useRef(location.pathname);
  useEffect(() => {
    if (location.pathname === firstPath.current) return;
    firstPath.current = "";
    const el = mainRef.current;
    if (el && !el.contains(document.activeElement)) el.focus({ preventScroll: true });
  }, [location.pathname]);

  const renderItem = (i: NavItem) => (
    <NavLink key={i.to} component={Link} to={i.to} label={i.label} leftSection={i.icon} active={isActive(i.to)} aria-current={isActive(i.to) ? "page" : undefined} onClick={close} />
  );

  return (
    <AppShell header={{ height: 56 }} navbar={{ width: 230, breakpoint: "sm", collapsed: { mobile: !opened } }} padding="md">
      <a href="#main" className="kb-skip-link">
        {t("nav.skip")}
      </a>
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label={t("nav.menu")} aria-expanded={opened} />
            <Title order={1} size="h4">
              <Link to="/" style={{ color: "inherit", textDecoration: "none" }}>
                private-kb
              </Link>
            </Title>
          </Group>
          <Group gap="xs" wrap="nowrap">
            <ColorSchemeToggle />
            <LanguageMenu />
            <Menu position="bottom-end">
              <Menu.Target>
                <UnstyledButton aria-label={t("nav.account", { name: session?.user ?? "" })} p={6}>
                  <Group gap={4} wrap="nowrap">
                    <Text size="sm" fw={500}>
                      {session?.user}
                    </Text>
                    <IconChevronDown size={14} aria-hidden />
                  </Group>
                </UnstyledButton>
              </Menu.Target>
              <Menu.Dropdown>
                {session?.role ? <Menu.Label>{t("nav.role", { role: session.role })}</Menu.Label> : null}
                {session?.signedInWith ? <Menu.Label data-testid="signed-in-with">{signedInWithText}</Menu.Label> : null}
                <Menu.Item
                  leftSection={<IconLogout size={16} aria-hidden />}
                  onClick={() => {
                    void signOut().then(() => navigate("/signin", { replace: true }));
                  }}
                >
                  {t("auth.signOut")}
                </Menu.Item>
              </Menu.Dropdown>
            </Menu>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label={t("nav.main")}>
        <AppShell.Section grow component={ScrollArea}>
          <div>{main.map(renderItem)}</div>
          {admin.length > 0 ? (
            <nav aria-label={t("nav.admin")}>
              <Group gap={6} px="sm" pt="md" pb={4}>
                <IconShieldLock size={16} aria-hidden />
                <Text size="xs" fw={700} c="dimmed" tt="uppercase">
                  {t("nav.admin")}
                </Text>
              </Group>
              {admin.map(renderItem)}
            </nav>
          ) : null}
        </AppShell.Section>
      </AppShell.Navbar>
      <AppShell.Main id="main" tabIndex={-1} ref={mainRef} style={{ outline: "none" }}>
        <Outlet />
      </AppShell.Main>
    </AppShell>
  );
}
