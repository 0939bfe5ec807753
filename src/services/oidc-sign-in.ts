/**
 * Sign-in through OpenID Connect providers (oidc-providers.json in KB_POLICY_DIR).
 *
 * - The relying party is `openid-client` (certified): authorization code flow with PKCE (S256),
 *   `state` and `nonce`. The callback validates the ID token's issuer, audience, nonce, expiry
 *   (with the provider's clock tolerance) and signature (`enableNonRepudiationChecks`: the
 *   signature is checked even though the token came straight from the token endpoint over TLS,
 *   against the provider's JWKS, which the library re-fetches when a token names a key it has
 *   not seen, so a provider's key rotation needs nothing from us).
 * - openid-client and jose are imported on first use (~80 ms of start-up otherwise).
 * - Discovery is fetched on first use and cached per provider (and per configuration: a changed
 *   oidc-providers.json entry is discovered again). An unreachable issuer is a 502
 *   `oidc_provider_unreachable`, retried at the next attempt.
 * - The login state (provider, state, nonce, PKCE verifier, expiry) is kept in the browser, in a
 *   short-lived cookie encrypted and authenticated with AES-256-GCM under a key stored in the
 *   settings table (one key for every process of the installation, made on first use). Chosen
 *   over a table: nothing to write per attempt and nothing to purge, any process can finish a
 *   sign-in another one started, and the state is bound to the browser that started it (the
 *   callback without that browser's cookie fails). The cookie is SameSite=Lax (the provider's
 *   redirect back is a cross-site top-level navigation, which Strict would strip), HttpOnly,
 *   Path=/api/v1/auth/oidc, 10 minutes.
 * - After validation: just-in-time user (`oidc:<id>`, keyed by `sub`), display name and email
 *   from the claims, groups and role through the provider's mapping (unmapped values are
 *   ignored and counted in the audit record); on Entra ID's group overage (`_claim_names.groups`
 *   / `_claim_sources`, or `hasgroups`) the user gets no groups from this sign-in and the audit
 *   log `auth.oidc.group_overage` (warning): Microsoft Graph is never called. Then a session is
 *   opened exactly like a password sign-in (SignInService.openSession), with the OP's `sid` and
 *   the ID token (for RP-initiated logout's `id_token_hint`).
 * - Back-channel logout (OpenID Connect Back-Channel Logout 1.0): the logout token's signature
 *   (the provider's JWKS), iss, aud, iat (at most 10 minutes old), jti (not seen before by
 *   this process), the back-channel event, no nonce, and sid and/or sub are checked; the
 *   matching sessions of that provider are revoked.
 */
import crypto from "node:crypto";
import fs from "node:fs";
import https from "node:https";
import tls from "node:tls";
import type * as OpenIdClient from "openid-client";
import type * as Jose from "jose";
import type { OidcProviderConfig, OidcProviders, SecretSpec } from "../../policies/index.ts";
import type { SessionRow, SettingsStore, UserRow } from "../stores/metadata.ts";
import type { AuditLog } from "./audit.ts";
import { ServiceError } from "./errors.ts";
import type { SignedIn, SignInProvider, SignInService, SingleSignOn } from "./sign-in.ts";

/** The part of DirectoryService (services/directory.ts) a sign-in uses. */
export interface OidcDirectory {
  upsertUser(
    source: string,
    input: { externalId: string; displayName?: string | null; email?: string | null; role?: string },
    ctx?: { actor?: null; reason?: string },
  ): Promise<{ user: UserRow; created: boolean; changed: boolean }>;
  setUserGroups(source: string, userName: string, groupNames: string[], ctx?: { actor?: null; reason?: string }): Promise<{ added: string[]; removed: string[] }>;
  findUser(source: string, externalId: string): Promise<UserRow | undefined>;
}

export interface OidcSignInDeps {
  providers: () => OidcProviders;
  signIn: SignInService;
  directory: OidcDirectory;
  audit: AuditLog;
  settings: SettingsStore;
  /** Reads a client secret from its file or environment variable (config.ts readSecret). */
  readSecret: (spec: SecretSpec, what: string) => string;
  /** Whether a group exists (a mapping naming a missing group is skipped and audited). */
  groupExists: (name: string) => Promise<boolean>;
  /** Whether a role exists in the role catalog in force. */
  roleExists: (role: string) => boolean;
  log?: (level: "info" | "error", msg: string) => void;
}

export const OIDC_STATE_COOKIE = "kb_oidc";
export const OIDC_STATE_TTL_MS = 10 * 60_000;
const STATE_KEY_SETTING = "oidc.state_key";
const BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout";
const MAX_RESPONSE_BYTES = 1024 * 1024;
/** Logout tokens older than this (by `iat`) are refused, which bounds the replay cache. */
const LOGOUT_TOKEN_MAX_AGE_S = 600;

/** Where the OIDC routes live, for redirect URIs (routes/oidc.ts mounts them here). */
export const oidcPaths = {
  start: (id: string) => `/api/v1/auth/oidc/${encodeURIComponent(id)}/start`,
  callback: (id: string) => `/api/v1/auth/oidc/${encodeURIComponent(id)}/callback`,
  backchannel: (id: string) => `/api/v1/auth/oidc/${encodeURIComponent(id)}/backchannel-logout`,
};

interface LoginState {
  /** provider id */
  p: string;
  s: string;
  n: string;
  v: string;
  /** expiry, ms since epoch */
  e: number;
}

type FetchLike = (url: string, init: { method?: string; headers?: Record<string, string> | Headers; body?: unknown; signal?: AbortSignal | null; redirect?: string }) => Promise<Response>;

/**
 * A fetch over node:https that trusts the system's CAs plus `ca` (a provider behind a private
 * CA: `caFile`). No redirects followed (the libraries ask for `redirect: manual`), answers
 * capped at 1 MiB.
 */
export function fetchTrusting(ca: string): FetchLike {
  const cas = [...tls.rootCertificates, ca];
  return (url, init) =>
    new Promise<Response>((resolve, reject) => {
      const target = new URL(url);
      if (target.protocol !== "https:") return reject(new Error(`refusing a non-https URL: ${target.origin}`));
      const headers: Record<string, string> = {};
      if (init.headers instanceof Headers) init.headers.forEach((v, k) => (headers[k] = v));
      else Object.assign(headers, init.headers ?? {});
      const body = init.body === undefined || init.body === null ? undefined : typeof init.body === "string" || init.body instanceof Uint8Array ? init.body : String(init.body);
      const req = https.request(target, { method: init.method ?? "GET", headers, ca: cas, signal: init.signal ?? undefined }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES) req.destroy(new Error(`answer from ${target.origin} larger than 1 MiB`));
          else chunks.push(c);
        });
        res.on("error", reject);
        res.on("end", () => {
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) for (const one of Array.isArray(v) ? v : v === undefined ? [] : [v]) h.append(k, one);
          const status = res.statusCode ?? 500;
          const nullBody = [101, 204, 205, 304].includes(status);
          resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, statusText: res.statusMessage, headers: h }));
        });
      });
      req.on("error", reject);
      req.end(body);
    });
}

function firstString(v: unknown): string | null {
  return typeof v === "string" && v.trim() !== "" ? v : null;
}

/** A claim's values as strings: an array of strings/numbers, or one string (space-free) value. */
function claimValues(v: unknown): string[] {
  if (Array.isArray(v)) return v.filter((x) => typeof x === "string" || typeof x === "number").map(String);
  if (typeof v === "string" && v !== "") return [v];
  return [];
}

/** Entra ID's group overage: the token points at Microsoft Graph instead of listing the groups. */
export function hasGroupOverage(claims: Record<string, unknown>, groupsClaim: string): boolean {
  const names = claims._claim_names as Record<string, unknown> | undefined;
  return (typeof names === "object" && names !== null && groupsClaim in names) || claims._claim_sources !== undefined || claims.hasgroups === true || claims.hasgroups === "true";
}

/**
 * An error as one line for the audit log and the answer: the libraries' message, their code, and
 * which claim failed (never the token or the response body).
 */
function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err).slice(0, 300);
  const code = (err as { code?: unknown }).code;
  const cause = (err as { cause?: unknown }).cause;
  const claim = typeof cause === "object" && cause !== null && typeof (cause as { claim?: unknown }).claim === "string" ? (cause as { claim: string }).claim : null;
  const inner = cause instanceof Error && cause.message !== err.message ? cause.message : null;
  return [err.message, typeof code === "string" ? `(${code})` : null, claim ? `claim "${claim}"` : null, inner ? `: ${inner}` : null].filter(Boolean).join(" ").slice(0, 300);
}

/**
 * The protocol libraries, loaded on first use: an installation without single sign-on (and
 * every `kb` command) does not pay their ~80 ms import.
 */
let libraries: Promise<{ client: typeof OpenIdClient; jose: typeof Jose }> | null = null;
function loadLibraries() {
  libraries ??= Promise.all([import("openid-client"), import("jose")]).then(([client, jose]) => ({ client, jose }));
  return libraries;
}

export class OidcSignInService implements SingleSignOn {
  private readonly configs = new Map<string, { key: string; config: Promise<OpenIdClient.Configuration> }>();
  private readonly jwks = new Map<string, { key: string; set: ReturnType<typeof Jose.createRemoteJWKSet> }>();
  private stateKey: Promise<Buffer> | null = null;
  /** Logout tokens (provider + jti) already acted on, until they are too old to be accepted anyway. */
  private readonly seenLogoutTokens = new Map<string, number>();

  constructor(private readonly deps: OidcSignInDeps) {}

  private provider(id: string): OidcProviderConfig {
    const p = this.deps.providers().providers.find((x) => x.id === id);
    if (!p) throw new ServiceError(404, "not_found", `no OpenID Connect provider "${id}"`);
    return p;
  }

  providers(): SignInProvider[] {
    return this.deps.providers().providers.map((p) => ({ id: p.id, name: p.name.en, labels: p.name, url: oidcPaths.start(p.id) }));
  }

  private fetchFor(p: OidcProviderConfig): FetchLike | undefined {
    if (!p.caFile) return undefined;
    let pem: string;
    try {
      pem = fs.readFileSync(p.caFile, "utf8");
    } catch (err) {
      throw new ServiceError(500, "oidc_misconfigured", `OpenID provider "${p.id}": cannot read caFile ${p.caFile} (${(err as NodeJS.ErrnoException).code ?? "error"})`);
    }
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) throw new ServiceError(500, "oidc_misconfigured", `OpenID provider "${p.id}": caFile ${p.caFile} holds no PEM certificate`);
    return fetchTrusting(pem);
  }

  /**
   * Reads every provider's client secret and CA file once (at start: a missing or unreadable one
   * stops the start, as an invalid policy file does). Throws with where it looked, never a value.
   */
  checkConfiguration(): void {
    for (const p of this.deps.providers().providers) {
      if (p.clientSecret) this.deps.readSecret(p.clientSecret, `the client secret of OpenID provider "${p.id}"`);
      try {
        this.fetchFor(p);
      } catch (err) {
        throw new Error((err as Error).message);
      }
    }
  }

  /** The provider's discovered configuration (cached; discovered again when its entry changes or after a failure). */
  private configFor(p: OidcProviderConfig): Promise<OpenIdClient.Configuration> {
    const key = JSON.stringify(p);
    const cached = this.configs.get(p.id);
    if (cached && cached.key === key) return cached.config;
    const config = (async () => {
      const { client } = await loadLibraries();
      const customFetch = this.fetchFor(p);
      let secret: string | undefined;
      try {
        secret = p.clientSecret ? this.deps.readSecret(p.clientSecret, `the client secret of OpenID provider "${p.id}"`) : undefined;
      } catch (err) {
        // The message names where the secret should be, never a value.
        throw new ServiceError(500, "oidc_misconfigured", errorText(err));
      }
      const auth = secret !== undefined ? client.ClientSecretPost(secret) : client.None();
      let config: OpenIdClient.Configuration;
      try {
        config = await client.discovery(new URL(p.issuer), p.clientId, { [client.clockTolerance]: p.clockToleranceSeconds }, auth, { ...(customFetch ? { [client.customFetch]: customFetch as never } : {}), timeout: 10 });
      } catch (err) {
        throw new ServiceError(502, "oidc_provider_unreachable", `OpenID provider "${p.id}" (${p.issuer}) could not be reached or its discovery document is invalid: ${errorText(err)}`);
      }
      if (customFetch) config[client.customFetch] = customFetch as never;
      client.enableNonRepudiationChecks(config);
      return config;
    })();
    this.configs.set(p.id, { key, config });
    config.catch(() => {
      if (this.configs.get(p.id)?.config === config) this.configs.delete(p.id);
    });
    return config;
  }

  // ---- the login state cookie -----------------------------------------------------------------

  private key(): Promise<Buffer> {
    this.stateKey ??= this.deps.settings.setIfAbsent(STATE_KEY_SETTING, crypto.randomBytes(32).toString("base64")).then((k) => Buffer.from(k, "base64"));
    this.stateKey.catch(() => (this.stateKey = null));
    return this.stateKey;
  }

  private async seal(state: LoginState): Promise<string> {
    const iv = crypto.randomBytes(12);
    const cipher = crypto.createCipheriv("aes-256-gcm", await this.key(), iv);
    cipher.setAAD(Buffer.from(OIDC_STATE_COOKIE));
    const ct = Buffer.concat([cipher.update(JSON.stringify(state), "utf8"), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), ct]).toString("base64url");
  }

  private async open(sealed: string | undefined): Promise<LoginState | null> {
    if (!sealed || sealed.length > 2000) return null;
    try {
      const raw = Buffer.from(sealed, "base64url");
      const decipher = crypto.createDecipheriv("aes-256-gcm", await this.key(), raw.subarray(0, 12));
      decipher.setAAD(Buffer.from(OIDC_STATE_COOKIE));
      decipher.setAuthTag(raw.subarray(12, 28));
      const state = JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8")) as LoginState;
      return typeof state.s === "string" && typeof state.n === "string" && typeof state.v === "string" && typeof state.e === "number" ? state : null;
    } catch {
      return null;
    }
  }

  // ---- sign-in --------------------------------------------------------------------------------

  /**
   * Starts a sign-in: the provider's authorization URL (code flow, PKCE S256, state, nonce) and
   * the sealed login state, which the route sets as the `kb_oidc` cookie.
   */
  async start(providerId: string, appOrigin: string): Promise<{ url: string; stateCookie: string; maxAgeSeconds: number }> {
    const p = this.provider(providerId);
    const config = await this.configFor(p);
    const { client } = await loadLibraries();
    const verifier = client.randomPKCECodeVerifier();
    const state: LoginState = { p: p.id, s: client.randomState(), n: client.randomNonce(), v: verifier, e: Date.now() + OIDC_STATE_TTL_MS };
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: appOrigin + oidcPaths.callback(p.id),
      response_type: "code",
      scope: p.scopes.join(" "),
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state: state.s,
      nonce: state.n,
    });
    return { url: url.href, stateCookie: await this.seal(state), maxAgeSeconds: OIDC_STATE_TTL_MS / 1000 };
  }

  /**
   * Finishes a sign-in: validates the provider's answer and ID token, updates the user, its
   * groups and role from the claims, and opens a session. Every refusal is audited
   * (`auth.login.failed` with the provider and the reason) and answered 401 `oidc_failed`.
   */
  async callback(
    providerId: string,
    input: { query: string; stateCookie: string | undefined; appOrigin: string; client: string; userAgent?: string },
  ): Promise<SignedIn> {
    const p = this.provider(providerId);
    const fail = async (reason: string, detail?: Record<string, unknown>): Promise<never> => {
      await this.deps.audit.record(null, "auth.login.failed", `oidc:${p.id}`, { method: "oidc", provider: p.id, client: input.client, reason, ...detail }, "denied");
      throw new ServiceError(401, "oidc_failed", `sign-in through "${p.name.en}" failed: ${reason}`);
    };
    const state = await this.open(input.stateCookie);
    if (!state || state.p !== p.id) return fail("no sign-in was started from this browser (missing or invalid login state cookie)");
    if (Date.now() > state.e) return fail("the sign-in took too long (login state expired)");
    const config = await this.configFor(p);
    const currentUrl = new URL(input.appOrigin + oidcPaths.callback(p.id));
    currentUrl.search = input.query;
    const { client } = await loadLibraries();
    let tokens: Awaited<ReturnType<typeof OpenIdClient.authorizationCodeGrant>>;
    try {
      tokens = await client.authorizationCodeGrant(config, currentUrl, { pkceCodeVerifier: state.v, expectedState: state.s, expectedNonce: state.n, idTokenExpected: true });
    } catch (err) {
      return fail(`the provider's answer or ID token was rejected: ${errorText(err)}`);
    }
    const claims = tokens.claims() as Record<string, unknown> | undefined;
    if (!claims || typeof claims.sub !== "string" || claims.sub === "") return fail("the ID token has no subject");
    const sub = claims.sub;

    const existing = await this.deps.directory.findUser(p.source, sub);
    if (existing?.disabled) return fail("disabled user", { user: existing.name });

    // Role: the first entry of the provider's `roles` map whose value the token carries.
    const roleValues = new Set(claimValues(claims[p.claims.roles]));
    const mappedRole = Object.entries(p.roles).find(([value, role]) => roleValues.has(value) && this.deps.roleExists(role))?.[1];
    const unmappedRoles = [...roleValues].filter((v) => !Object.hasOwn(p.roles, v)).length;
    const role = mappedRole ?? (this.deps.roleExists(p.defaultRole) ? p.defaultRole : "viewer");

    const overage = hasGroupOverage(claims, p.claims.groups);
    const groupValues = overage ? [] : claimValues(claims[p.claims.groups]);
    const mapped = [...new Set(groupValues.filter((v) => Object.hasOwn(p.groups, v)).map((v) => p.groups[v]!))];
    const unmappedGroups = groupValues.filter((v) => !Object.hasOwn(p.groups, v)).length;
    const groups: string[] = [];
    const missingGroups: string[] = [];
    for (const g of mapped) ((await this.deps.groupExists(g)) ? groups : missingGroups).push(g);

    const ctx = { actor: null, reason: `sign-in through OpenID provider "${p.id}"` };
    const { user } = await this.deps.directory.upsertUser(p.source, { externalId: sub, displayName: firstString(claims[p.claims.displayName]), email: firstString(claims[p.claims.email]), role }, ctx);
    if (user.disabled) return fail("disabled user", { user: user.name });
    const change = await this.deps.directory.setUserGroups(p.source, user.name, groups, ctx);
    if (overage) {
      await this.deps.audit.record(
        null,
        "auth.oidc.group_overage",
        `user:${user.name}`,
        { provider: p.id, reason: "the ID token points at Microsoft Graph for the groups (group overage); Graph is not called, so this sign-in grants no directory groups", groupsRemoved: change.removed },
        "warning",
      );
    }
    return this.deps.signIn.openSession(user, {
      method: "oidc",
      provider: p.id,
      client: input.client,
      userAgent: input.userAgent,
      opSid: firstString(claims.sid),
      idToken: tokens.id_token ?? null,
      details: { role, groups, groupsAdded: change.added, groupsRemoved: change.removed, unmappedGroups, unmappedRoles, ...(missingGroups.length ? { missingGroups } : {}), ...(overage ? { groupOverage: true } : {}) },
    });
  }

  // ---- logout ---------------------------------------------------------------------------------

  /** The provider's end-session URL for an OIDC session (RP-initiated logout), or null. */
  async endSessionUrl(row: SessionRow, appOrigin: string): Promise<string | null> {
    if (!row.provider) return null;
    const p = this.deps.providers().providers.find((x) => x.id === row.provider);
    if (!p) return null;
    try {
      const config = await this.configFor(p);
      const { client } = await loadLibraries();
      if (!config.serverMetadata().end_session_endpoint) return null;
      const params: Record<string, string> = { client_id: p.clientId };
      if (row.idToken) params.id_token_hint = row.idToken;
      if (appOrigin) params.post_logout_redirect_uri = `${appOrigin}/`;
      return client.buildEndSessionUrl(config, params).href;
    } catch (err) {
      this.deps.log?.("error", `RP-initiated logout for provider "${p.id}" skipped: ${errorText(err)}`);
      return null;
    }
  }

  private jwksFor(jose: typeof Jose, p: OidcProviderConfig, config: OpenIdClient.Configuration) {
    const uri = config.serverMetadata().jwks_uri;
    if (!uri) throw new ServiceError(502, "oidc_provider_unreachable", `OpenID provider "${p.id}" publishes no jwks_uri`);
    const key = `${uri}|${p.caFile ?? ""}`;
    const cached = this.jwks.get(p.id);
    if (cached && cached.key === key) return cached.set;
    const customFetch = this.fetchFor(p);
    const set = jose.createRemoteJWKSet(new URL(uri), customFetch ? { [jose.customFetch]: customFetch as never } : {});
    this.jwks.set(p.id, { key, set });
    return set;
  }

  /**
   * Back-channel logout: validates the logout token (OpenID Connect Back-Channel Logout 1.0,
   * 2.6) and revokes the provider's sessions it names (by `sid`, by `sub`, or both). 400
   * `invalid_logout_token` when it does not validate.
   */
  async backchannelLogout(providerId: string, logoutToken: string): Promise<{ sessionsRevoked: number }> {
    const p = this.provider(providerId);
    const config = await this.configFor(p);
    const refuse = async (reason: string): Promise<never> => {
      await this.deps.audit.record(null, "auth.oidc.backchannel_logout", `oidc:${p.id}`, { provider: p.id, reason }, "denied");
      throw new ServiceError(400, "invalid_logout_token", `the logout token was rejected: ${reason}`);
    };
    const { jose } = await loadLibraries();
    let payload: Jose.JWTPayload;
    try {
      ({ payload } = await jose.jwtVerify(logoutToken, this.jwksFor(jose, p, config), {
        issuer: config.serverMetadata().issuer,
        audience: p.clientId,
        clockTolerance: p.clockToleranceSeconds,
        requiredClaims: ["iat", "jti"],
        maxTokenAge: LOGOUT_TOKEN_MAX_AGE_S,
      }));
    } catch (err) {
      return refuse(errorText(err));
    }
    // A logout token is used once (per process: the cache is in memory; a replay to another
    // process of the same installation within LOGOUT_TOKEN_MAX_AGE_S would revoke again).
    const now = Date.now();
    for (const [jti, until] of this.seenLogoutTokens) if (until < now) this.seenLogoutTokens.delete(jti);
    const jtiKey = `${p.id}\u0000${String(payload.jti)}`;
    if (this.seenLogoutTokens.has(jtiKey)) return refuse("this logout token was used already (jti)");
    const events = payload.events as Record<string, unknown> | undefined;
    if (typeof events !== "object" || events === null || typeof events[BACKCHANNEL_EVENT] !== "object" || events[BACKCHANNEL_EVENT] === null) return refuse(`no ${BACKCHANNEL_EVENT} event`);
    if (payload.nonce !== undefined) return refuse("a logout token must not contain a nonce");
    const sid = firstString(payload.sid);
    const sub = firstString(payload.sub);
    if (!sid && !sub) return refuse("neither sid nor sub");
    let userId: string | undefined;
    if (sub) {
      const user = await this.deps.directory.findUser(p.source, sub);
      if (!user) {
        await this.deps.audit.record(null, "auth.oidc.backchannel_logout", `oidc:${p.id}`, { provider: p.id, sid, sessionsRevoked: 0, reason: "unknown subject" });
        return { sessionsRevoked: 0 };
      }
      userId = user.id;
    }
    if (this.seenLogoutTokens.size < 100_000) this.seenLogoutTokens.set(jtiKey, now + (LOGOUT_TOKEN_MAX_AGE_S + p.clockToleranceSeconds) * 1000);
    const sessionsRevoked = await this.deps.signIn.revokeOidcSessions(p.id, { ...(sid ? { opSid: sid } : {}), ...(userId ? { userId } : {}) });
    await this.deps.audit.record(null, "auth.oidc.backchannel_logout", `oidc:${p.id}`, { provider: p.id, sid, ...(userId ? { userId } : {}), sessionsRevoked });
    return { sessionsRevoked };
  }
}
