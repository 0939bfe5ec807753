/**
 * A real, certified OpenID Provider for tests: `oidc-provider` on loopback over HTTPS, with a
 * test CA and server certificate generated here (selfsigned). Accounts and their claims
 * (groups, roles, name, email) are set by the test. Its login page is a small HTML form (the
 * OP's interaction hooks): a browser fills it, or `loginThrough` submits it by fetch. The
 * signing keys are generated here, so a test can rotate them (a new provider instance on the
 * same issuer and storage, publishing only the new key) and sign tampered tokens itself.
 */
import https from "node:https";
import type { AddressInfo } from "node:net";
import * as jose from "jose";
import Provider from "oidc-provider";
import { generate } from "selfsigned";

type PrivateKey = Awaited<ReturnType<typeof jose.generateKeyPair>>["privateKey"];

export interface TestAccount {
  name?: string;
  email?: string;
  groups?: string[];
  roles?: string[];
  /** Extra claims (e.g. Entra's `_claim_names` / `_claim_sources` for group overage). */
  extra?: Record<string, unknown>;
}

export interface TestOp {
  issuer: string;
  /** PEM of the test CA (the product trusts it through the provider's caFile). */
  caPem: string;
  clientId: string;
  clientSecret: string;
  accounts: Map<string, TestAccount>;
  /** The current signing key (private JWK with kid), for tests that sign tokens themselves. */
  signingKey(): Promise<{ kid: string; key: PrivateKey }>;
  /** Replaces the OP's signing keys: the old key is no longer published or used. */
  rotateKeys(): Promise<void>;
  /** When set, rewrites the ID token the token endpoint returns (tampering tests). */
  tamperIdToken: ((idToken: string) => Promise<string>) | null;
  /** Back-channel logout requests the OP sent (status of our answer). */
  close(): Promise<void>;
}

const LOGIN_PAGE = (uid: string) => `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test OP sign-in</title></head>
<body><h1>Test identity provider</h1>
<form method="post" action="/interaction/${uid}/login">
<label>Username <input name="login" autocomplete="username" required></label>
<button type="submit">Sign in to test OP</button>
</form></body></html>`;

/** The OP's sign-out confirmation page (its default one loads web fonts from the internet). */
async function logoutSource(ctx: { body: unknown }, form: string): Promise<void> {
  ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign out</title></head><body>${form}
<h1>Sign out of the test identity provider?</h1>
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button></body></html>`;
}

async function newSigningKey() {
  const { privateKey } = await jose.generateKeyPair("RS256", { extractable: true });
  const jwk = await jose.exportJWK(privateKey);
  const kid = `k-${crypto.randomUUID().slice(0, 8)}`;
  return { jwk: { ...jwk, kid, alg: "RS256", use: "sig" }, kid, key: privateKey };
}

function readBody(req: import("node:http").IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** Starts the OP. `appUrl` is the knowledge base's origin (redirect and logout URIs). */
export async function startTestOp(options: { clientId?: string; clientSecret?: string } = {}): Promise<TestOp & { setApp(appUrl: string, providerId: string): void }> {
  const ca = await generate([{ name: "commonName", value: "private-kb test CA" }], {
    algorithm: "sha256",
    keySize: 2048,
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  const server = await generate([{ name: "commonName", value: "127.0.0.1" }], {
    algorithm: "sha256",
    keySize: 2048,
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: "basicConstraints", cA: false },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames: [{ type: 7, ip: "127.0.0.1" }] },
    ],
  });

  let handler: ((req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => void) | null = null;
  const httpsServer = https.createServer({ key: server.private, cert: server.cert }, (req, res) => {
    if (handler) handler(req, res);
    else res.writeHead(503).end();
  });
  await new Promise<void>((resolve) => httpsServer.listen(0, "127.0.0.1", resolve));
  const issuer = `https://127.0.0.1:${(httpsServer.address() as AddressInfo).port}`;

  const clientId = options.clientId ?? "private-kb";
  const clientSecret = options.clientSecret ?? "test-client-secret-0123456789abcdef";
  const accounts = new Map<string, TestAccount>();
  let key = await newSigningKey();

  const op: TestOp & { setApp(appUrl: string, providerId: string): void } = {
    issuer,
    caPem: ca.cert,
    clientId,
    clientSecret,
    accounts,
    tamperIdToken: null,
    async signingKey() {
      return { kid: key.kid, key: key.key };
    },
    async rotateKeys() {
      key = await newSigningKey();
      build();
    },
    setApp(appUrl, providerId) {
      app = { appUrl, providerId };
      build();
    },
    async close() {
      httpsServer.closeAllConnections();
      await new Promise<void>((resolve) => httpsServer.close(() => resolve()));
    },
  };

  let app: { appUrl: string; providerId: string } | null = null;

  function build() {
    if (!app) return;
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: clientId,
          client_secret: clientSecret,
          redirect_uris: [`${app.appUrl}/api/v1/auth/oidc/${app.providerId}/callback`],
          post_logout_redirect_uris: [`${app.appUrl}/`],
          backchannel_logout_uri: `${app.appUrl}/api/v1/auth/oidc/${app.providerId}/backchannel-logout`,
          backchannel_logout_session_required: true,
          token_endpoint_auth_method: "client_secret_post",
          grant_types: ["authorization_code"],
          response_types: ["code"],
        },
      ],
      jwks: { keys: [key.jwk as never] },
      cookies: { keys: ["private-kb test OP cookie key"] },
      pkce: { required: () => true },
      conformIdTokenClaims: false,
      claims: { openid: ["sub"], profile: ["name"], email: ["email"], groups: ["groups", "hasgroups"], roles: ["roles"] },
      scopes: ["openid", "profile", "email", "groups", "roles"],
      features: { devInteractions: { enabled: false }, backchannelLogout: { enabled: true }, rpInitiatedLogout: { enabled: true, logoutSource } },
      // The OP refuses to call special-use addresses (SSRF protection); its back-channel logout
      // calls go to the knowledge base on loopback here, so this test OP drops that dispatcher.
      fetch: (url: URL | string, init: RequestInit & { dispatcher?: unknown }) => {
        const { dispatcher: _ssrf, ...rest } = init;
        return fetch(url, rest);
      },
      interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
      async findAccount(_ctx: unknown, id: string) {
        const a = accounts.get(id);
        if (!a) return undefined;
        return {
          accountId: id,
          async claims() {
            return {
              sub: id,
              ...(a.name ? { name: a.name } : {}),
              ...(a.email ? { email: a.email } : {}),
              ...(a.groups ? { groups: a.groups } : {}),
              ...(a.roles ? { roles: a.roles } : {}),
              ...a.extra,
            };
          },
        };
      },
    });
    provider.on("server_error", (_ctx, err) => console.error("test OP server_error", err));
    provider.on("backchannel.error", (_ctx, err) => console.error("test OP backchannel.error", err));
    // Tampering: rewrite the ID token the token endpoint answers with.
    provider.use(async (ctx, next) => {
      await next();
      const body = ctx.body as { id_token?: string } | undefined;
      if (ctx.path === "/token" && op.tamperIdToken && body && typeof body === "object" && body.id_token) body.id_token = await op.tamperIdToken(body.id_token);
    });
    const callback = provider.callback();
    handler = (req, res) => {
      const url = new URL(req.url ?? "/", issuer);
      const m = /^\/interaction\/([^/]+)(\/login)?$/.exec(url.pathname);
      if (!m) return void callback(req, res);
      void (async () => {
        try {
          if (!m[2]) {
            res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(LOGIN_PAGE(m[1]!));
            return;
          }
          const login = new URLSearchParams(await readBody(req)).get("login") ?? "";
          const details = await provider.interactionDetails(req, res);
          if (!accounts.has(login)) {
            res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(LOGIN_PAGE(m[1]!).replace("<form", "<p role=alert>unknown user</p><form"));
            return;
          }
          const grant = new provider.Grant({ accountId: login, clientId: details.params.client_id as string });
          grant.addOIDCScope(String(details.params.scope));
          const grantId = await grant.save();
          await provider.interactionFinished(req, res, { login: { accountId: login }, consent: { grantId } }, { mergeWithLastSubmission: false });
        } catch (err) {
          res.writeHead(500).end(String(err));
        }
      })();
    };
  }

  return op;
}

/** A minimal cookie jar per origin (the test follows redirects itself). */
export class CookieJar {
  private readonly jar = new Map<string, Map<string, string>>();

  store(url: string, res: Response): void {
    const origin = new URL(url).origin;
    const cookies = this.jar.get(origin) ?? new Map<string, string>();
    for (const header of res.headers.getSetCookie()) {
      const [pair, ...attrs] = header.split(";").map((s) => s.trim());
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      const expired = attrs.some((a) => /^max-age=0$/i.test(a) || (/^expires=/i.test(a) && Date.parse(a.slice(8)) < Date.now()));
      if (expired || value === "") cookies.delete(name);
      else cookies.set(name, value);
    }
    this.jar.set(origin, cookies);
  }

  header(url: string): string {
    return [...(this.jar.get(new URL(url).origin) ?? new Map()).entries()].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  get(url: string, name: string): string | undefined {
    return this.jar.get(new URL(url).origin)?.get(name);
  }

  delete(url: string, name: string): void {
    this.jar.get(new URL(url).origin)?.delete(name);
  }
}
