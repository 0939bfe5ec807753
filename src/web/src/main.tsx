import "@mantine/core/styles.css";
import "@mantine/notifications/styles.css";
import "@mantine/dropzone/styles.css";
import "@fontsource/noto-sans-kr/400.css";
import "@fontsource/noto-sans-kr/700.css";
import "./styles.css";
import "./i18n";
import { MantineProvider, TableScrollContainer, createTheme, darken, type CSSVariablesResolver } from "@mantine/core";
import { Notifications } from "@mantine/notifications";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter } from "react-router";
import { ApiError } from "./api/client";
import { SessionProvider } from "./api/session";
import { App } from "./App";

/**
 * WCAG AA contrast in the light scheme: the light variants' text (badges, alerts) darker than
 * Mantine's default, and "dimmed" text gray 7 instead of gray 6. The dark scheme keeps Mantine's.
 */
const cssVariablesResolver: CSSVariablesResolver = (theme) => ({
  variables: {},
  light: {
    "--mantine-color-dimmed": theme.colors.gray[7],
    "--kb-danger-text": theme.colors.red[9],
    ...Object.fromEntries(Object.keys(theme.colors).map((c) => [`--mantine-color-${c}-light-color`, darken(theme.colors[c]![9], 0.3)])),
  },
  dark: { "--kb-danger-text": theme.colors.red[4], "--mantine-color-dimmed": theme.colors.dark[1] },
});

const theme = createTheme({
  fontFamily: '"Noto Sans KR", system-ui, sans-serif',
  headings: { fontFamily: '"Noto Sans KR", system-ui, sans-serif' },
  primaryColor: "blue",
  // Darker shade of the primary colour so white text on it meets WCAG AA contrast.
  primaryShade: { light: 8, dark: 8 },
  focusRing: "auto",
  components: {
    // A table that scrolls sideways (phone width) can be scrolled from the keyboard (WCAG 2.1.1;
    // axe scrollable-region-focusable when its cells hold no link or button).
    TableScrollContainer: TableScrollContainer.extend({ defaultProps: { scrollAreaProps: { viewportProps: { tabIndex: 0 } } } }),
  },
});

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      retry: (count, err) => !(err instanceof ApiError && err.status < 500) && count < 2,
      refetchOnWindowFocus: false,
    },
  },
});

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <MantineProvider theme={theme} defaultColorScheme="light" cssVariablesResolver={cssVariablesResolver}>
      <Notifications position="top-right" />
      <QueryClientProvider client={queryClient}>
        <BrowserRouter>
          <SessionProvider>
            <App />
          </SessionProvider>
        </BrowserRouter>
      </QueryClientProvider>
    </MantineProvider>
  </StrictMode>,
);
