/**
 * The signed-in session (cookie, set by POST /api/v1/auth/login): who, which capabilities, the
 * CSRF token for writes, and when it expires. A 401 from any call, or the expiry time passing,
 * drops the session and the app shows the sign-in page.
 */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { ApiError, apiFetch, apiJson, onUnauthorized, setCsrfToken } from "./client";

export interface Session {
  user: string;
  role?: string;
  capabilities: string[];
  csrfToken: string | null;
  expiresAt: string | null;
  /** How this session was signed in: a password, or an OpenID Connect provider (its id). */
  signedInWith: { method: string; provider: string | null } | null;
}

/** A single-sign-on provider (GET /api/v1/auth/providers): a button on the sign-in page. */
export interface Provider {
  id: string;
  name: string;
  labels?: { en: string; ko?: string };
  url?: string;
}

export async function fetchProviders(): Promise<Provider[]> {
  const res = await apiFetch("/api/v1/auth/providers");
  if (!res.ok) return [];
  const body = (await res.json()) as Provider[] | { providers?: Provider[] };
  return Array.isArray(body) ? body : (body.providers ?? []);
}

/** A provider's label in the UI's language (English when the configuration gives no other). */
export function providerLabel(p: Provider, language: string): string {
  return (language.startsWith("ko") ? p.labels?.ko : undefined) ?? p.labels?.en ?? p.name;
}

/** The session body, tolerant of `user` as a name or an object with one. */
function toSession(body: Record<string, unknown>): Session {
  const u = body.user as string | { name?: string; role?: string; capabilities?: string[] } | undefined;
  const user = typeof u === "string" ? u : (u?.name ?? "");
  const role = (typeof u === "object" ? u?.role : undefined) ?? (body.role as string | undefined) ?? (Array.isArray(body.roles) ? (body.roles as string[])[0] : undefined);
  const capabilities = (body.capabilities as string[] | undefined) ?? (typeof u === "object" ? u?.capabilities : undefined) ?? [];
  const signedInWith = (body.signedInWith as Session["signedInWith"] | undefined) ?? null;
  return { user, role, capabilities, csrfToken: (body.csrfToken as string | undefined) ?? null, expiresAt: (body.expiresAt as string | undefined) ?? null, signedInWith };
}

async function fetchSession(): Promise<Session | null> {
  const res = await apiFetch("/api/v1/auth/session");
  if (res.status === 401 || res.status === 404) return null;
  if (!res.ok) throw new ApiError(res.status, `http_${res.status}`, `HTTP ${res.status}`);
  return toSession((await res.json()) as Record<string, unknown>);
}

interface SessionState {
  session: Session | null;
  loading: boolean;
  /** True once a session ended by itself (expired or revoked), until the next sign-in. */
  expired: boolean;
  signIn(name: string, password: string): Promise<void>;
  signOut(): Promise<void>;
  can(capability: string): boolean;
}

const SessionContext = createContext<SessionState | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const qc = useQueryClient();
  const [expired, setExpired] = useState(false);
  const query = useQuery({ queryKey: ["session"], queryFn: fetchSession, staleTime: 60_000, retry: false });
  const session = query.data ?? null;

  useEffect(() => setCsrfToken(session?.csrfToken ?? null), [session]);

  const drop = useCallback(
    (becauseExpired: boolean) => {
      setCsrfToken(null);
      if (becauseExpired && qc.getQueryData(["session"])) setExpired(true);
      qc.setQueryData(["session"], null);
      qc.removeQueries({ predicate: (q) => q.queryKey[0] !== "session" });
    },
    [qc],
  );

  useEffect(() => onUnauthorized(() => drop(true)), [drop]);

  // Past `expiresAt` (idle timeout, or the absolute end) the session may have ended: ask the
  // server (activity in between extends it) and drop it when it answers 401.
  useEffect(() => {
    if (!session?.expiresAt) return;
    const ms = Date.parse(session.expiresAt) - Date.now();
    if (!Number.isFinite(ms)) return;
    const timer = setTimeout(
      () => {
        fetchSession()
          .then((s) => (s ? qc.setQueryData(["session"], s) : drop(true)))
          .catch(() => undefined);
      },
      Math.max(1000, Math.min(ms + 1000, 2 ** 31 - 1)),
    );
    return () => clearTimeout(timer);
  }, [session, drop, qc]);

  const value = useMemo<SessionState>(
    () => ({
      session,
      loading: query.isPending,
      expired,
      async signIn(name, password) {
        await apiJson("/api/v1/auth/login", { method: "POST", body: JSON.stringify({ name, password }) });
        setExpired(false);
        const s = await fetchSession();
        qc.setQueryData(["session"], s);
      },
      async signOut() {
        const res = await apiFetch("/api/v1/auth/logout", { method: "POST" }).catch(() => undefined);
        setExpired(false);
        drop(false);
        // A single-sign-on session: the provider's sign-out page ends its session too, then
        // comes back here (RP-initiated logout).
        if (res?.status === 200) {
          const body = (await res.json().catch(() => ({}))) as { endSessionUrl?: string };
          if (body.endSessionUrl) window.location.assign(body.endSessionUrl);
        }
      },
      can: (capability) => session?.capabilities.includes(capability) ?? false,
    }),
    [session, query.isPending, expired, qc, drop],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionState {
  const s = useContext(SessionContext);
  if (!s) throw new Error("useSession outside SessionProvider");
  return s;
}
