import "@mantine/core/styles.css";
import "@mantine/notifications/styles.css";
import "@mantine/dropzone/styles.css";
import "@fontsource/noto-sans-kr/400.css";
import "@fontsource/noto-sans-kr/700.css";
import "./styles.css";
import "./i18n";
import { MantineProvider, createTheme, darken, defaultVariantColorsResolver, parseThemeColor, type CSSVariablesResolver, type VariantColorsResolver } from "@mantine/core";
import { Notifications } from "@mantine/notifications";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter } from "react-router";
import { ApiError } from "./api/client";
import { SessionProvider } from "./api/session";
import { App } from "./App";

/**
 * WCAG AA contrast: light variants (badges, alerts) get a darker text colour than Mantine's
 * default, and "dimmed" text is gray 7 instead of gray 6.
 */
const variantColorResolver: VariantColorsResolver = (input) => {
  const resolved = defaultVariantColorsResolver(input);
  if (input.variant === "light") {
    const parsed = parseThemeColor({ color: input.color ?? input.theme.primaryColor, theme: input.theme });
    if (parsed.isThemeColor && parsed.color) return { ...resolved, color: darken(input.theme.colors[parsed.color]![9], 0.3) };
  }
  return resolved;
};

const cssVariablesResolver: CSSVariablesResolver = (theme) => ({
  variables: {},
  light: { "--mantine-color-dimmed": theme.colors.gray[7] },
  dark: {},
});

const theme = createTheme({
  variantColorResolver,
  fontFamily: '"Noto Sans KR", system-ui, sans-serif',
  headings: { fontFamily: '"Noto Sans KR", system-ui, sans-serif' },
  primaryColor: "blue",
  // Darker shade of the primary colour so white text on it meets WCAG AA contrast.
  primaryShade: { light: 8, dark: 6 },
  focusRing: "auto",
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
