/**
 * A real OpenLDAP server for tests: Debian's `slapd` on a random loopback port, with a
 * generated slapd.conf (mdb backend, the memberof overlay so the memberOf style can be tested
 * too) in a temporary folder, seeded over LDAP by its root DN, stopped and removed after.
 * `slapdMissing()` says why it cannot run here (tests skip with that reason).
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Client } from "ldapts";

export const SLAPD = ["/usr/sbin/slapd", "/usr/local/libexec/slapd"].find((p) => fs.existsSync(p)) ?? null;
const SCHEMA_DIR = "/etc/ldap/schema";
const MODULE_DIR = ["/usr/lib/ldap", "/usr/lib/x86_64-linux-gnu/openldap", "/usr/lib64/openldap"].find((p) => fs.existsSync(path.join(p, "back_mdb.so")));

/** Null when slapd can run here, else why not. */
export function slapdMissing(): string | null {
  if (!SLAPD) return "slapd is not installed (apt-get install slapd ldap-utils; .ci/run does)";
  if (!MODULE_DIR) return "slapd's back_mdb module was not found";
  if (!fs.existsSync(path.join(SCHEMA_DIR, "inetorgperson.schema"))) return `${SCHEMA_DIR}/inetorgperson.schema is missing`;
  return null;
}

export const SUFFIX = "dc=example,dc=test";
export const ROOT_DN = `cn=admin,${SUFFIX}`;
export const ROOT_PASSWORD = "root-secret-for-tests";

export interface Slapd {
  url: string;
  /** ldaps:// URL when TLS was asked for. */
  ldapsUrl: string | null;
  port: number;
  dir: string;
  /** A client bound as the root DN (the test's admin hand on the directory). */
  admin(): Promise<Client>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface SlapdOptions {
  /** PEM server certificate, key and CA for StartTLS and ldaps://. */
  tls?: { cert: string; key: string; ca: string };
}

export async function startSlapd(options: SlapdOptions = {}): Promise<Slapd> {
  const missing = slapdMissing();
  if (missing) throw new Error(missing);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kb-slapd-"));
  fs.mkdirSync(path.join(dir, "db"));
  const lines = [
    ...["core", "cosine", "inetorgperson", "nis"].map((s) => `include ${SCHEMA_DIR}/${s}.schema`),
    `modulepath ${MODULE_DIR}`,
    "moduleload back_mdb",
    "moduleload memberof",
    `pidfile ${dir}/slapd.pid`,
    `argsfile ${dir}/slapd.args`,
    // Accept a bind with a DN and an empty password as unauthenticated (RFC 4513 5.1.2), as
    // some servers do: the trap a client must refuse to fall into (tests check that it does).
    "allow bind_anon_dn",
  ];
  if (options.tls) {
    for (const [k, v] of Object.entries(options.tls)) fs.writeFileSync(path.join(dir, `${k}.pem`), v, { mode: 0o600 });
    lines.push(`TLSCACertificateFile ${dir}/ca.pem`, `TLSCertificateFile ${dir}/cert.pem`, `TLSCertificateKeyFile ${dir}/key.pem`);
  }
  lines.push(
    "database mdb",
    `suffix "${SUFFIX}"`,
    `rootdn "${ROOT_DN}"`,
    `rootpw ${ROOT_PASSWORD}`,
    `directory ${dir}/db`,
    "maxsize 16777216",
    "index objectClass eq",
    "index uid eq",
    // At most 3 entries per search, but paged searches may read everything: a directory too big
    // to read without paging (as AD's MaxPageSize of 1000 makes every real one), in small.
    "limits users size.soft=3 size.hard=3 size.prtotal=unlimited",
    // Users may bind (auth) and the service account (here: anyone bound) may read.
    "access to attrs=userPassword by anonymous auth by self write by * none",
    "access to * by users read by anonymous auth",
    "overlay memberof",
    "memberof-group-oc groupOfNames",
    "memberof-member-ad member",
    "memberof-memberof-ad memberOf",
    "memberof-refint TRUE",
  );
  fs.writeFileSync(path.join(dir, "slapd.conf"), lines.join("\n") + "\n");
  const port = await freePort();
  const tlsPort = options.tls ? await freePort() : null;
  const urls = [`ldap://127.0.0.1:${port}/`, ...(tlsPort ? [`ldaps://127.0.0.1:${tlsPort}/`] : [])];
  // -d 0: stay in the foreground (no fork), so the child is slapd itself and we can stop it.
  const child: ChildProcess = spawn(SLAPD!, ["-d", "0", "-f", path.join(dir, "slapd.conf"), "-h", urls.join(" ")], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  let exited = false;
  child.once("exit", () => (exited = true));
  const url = `ldap://127.0.0.1:${port}`;
  const admin = async () => {
    const c = new Client({ url, timeout: 5000, connectTimeout: 2000 });
    await c.bind(ROOT_DN, ROOT_PASSWORD);
    return c;
  };
  // Ready when the root DN can bind.
  for (let i = 0; ; i++) {
    if (exited) throw new Error(`slapd exited at start: ${stderr.slice(-2000)}`);
    try {
      await (await admin()).unbind();
      break;
    } catch (err) {
      if (i > 100) {
        child.kill("SIGKILL");
        throw new Error(`slapd did not answer: ${String(err)}\n${stderr.slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    ldapsUrl: tlsPort ? `ldaps://127.0.0.1:${tlsPort}` : null,
    port,
    dir,
    admin,
    async stop() {
      if (!exited) {
        const gone = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        await gone;
        clearTimeout(timer);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export type LdifEntry = { dn: string; attributes: Record<string, string | string[]> };

/** Adds entries in order (parents first) as the root DN. */
export async function seed(slapd: Slapd, entries: LdifEntry[]): Promise<void> {
  const c = await slapd.admin();
  try {
    for (const e of entries) await c.add(e.dn, e.attributes);
  } finally {
    await c.unbind();
  }
}
