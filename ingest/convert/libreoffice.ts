/**
 * Converting legacy Office, OpenDocument and RTF files with LibreOffice (headless), so that our own
 * extractors read the result: we do not write parsers for Word 97 or OpenDocument.
 *
 * Each conversion is its own `soffice` process, isolated from the others and from the network:
 *   - a fresh profile (`-env:UserInstallation=file:///tmp/kb-soffice-…/profile`), created for this
 *     conversion and deleted after it: two soffice processes on one profile collide (the second
 *     hands its work to the first, or fails on the profile's lock);
 *   - `--headless --norestore --nologo --nodefault --nolockcheck --convert-to <filter>`;
 *   - a time limit: `timeout -s KILL` around the process group (it outlives this process if this
 *     one dies), and this process kills the group too when its own timer fires;
 *   - an address-space limit (`ulimit -v` in the `sh` that starts it, inherited by soffice.bin);
 *   - no network. A document may link pictures, OLE objects or data by URL, and LibreOffice loads
 *     linked graphics while opening it (tested: Calc and Impress fetch `http://127.0.0.1:…`
 *     pictures even with `BlockUntrustedRefererLinks`, which covers Writer only). The profile's
 *     registrymodifications.xcu therefore removes the content providers that reach the network
 *     (http, https, WebDAV, FTP, CMIS: without them LibreOffice cannot open any remote URL), blocks
 *     untrusted referer links, never updates links on load, never recalculates on load (a
 *     WEBSERVICE() formula would fetch), and disables macros. test/formats/libreoffice.test.ts
 *     proves it with documents that link a picture on a loopback server the test runs.
 *
 * soffice is found on PATH (`soffice`, else `libreoffice`) or given by KB_SOFFICE_PATH; when there
 * is none, the file fails with `converter_unavailable` (the batch goes on). A conversion that runs
 * out of time fails with `convert_timeout`; one that ends without output (damaged or
 * password-protected input, out of memory) with `convert_failed`.
 */
import { execFile, spawn } from "node:child_process";
import { constants as fsConstants } from "node:fs";
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { IngestError } from "../types.ts";

export interface LibreOfficeOptions {
  /** soffice to run (KB_SOFFICE_PATH); empty or absent: `soffice` or `libreoffice` on PATH. */
  sofficePath?: string;
  /** Time one conversion may take (KB_SOFFICE_TIMEOUT_S). Default 120 s. */
  timeoutMs?: number;
  /** Address space of the soffice process, in MiB (KB_SOFFICE_MEMORY_MB). Default 2048. */
  memoryMb?: number;
  signal?: AbortSignal;
}

export const DEFAULT_SOFFICE_TIMEOUT_MS = 120_000;
export const DEFAULT_SOFFICE_MEMORY_MB = 2048;

const UCB = "/org.openoffice.ucb.Configuration/ContentProviders/org.openoffice.ucb.Configuration:ContentProvidersDataPrimaryKeys['Local']/SecondaryKeys/org.openoffice.ucb.Configuration:ContentProvidersDataSecondaryKeys['Office']/ProviderData";
/** The network content providers of LibreOffice's own configuration (share/registry/main.xcd). */
const NETWORK_PROVIDERS = [
  "Provider3", // http (WebDAV provider)
  "Provider4", // vnd.sun.star.webdav
  "Provider12", // https
  "Provider6", // ftp
  "Provider43", // vnd.libreoffice.cmis
];

const prop = (p: string, name: string, value: string) =>
  `<item oor:path="${p}"><prop oor:name="${name}" oor:op="fuse"><value>${value}</value></prop></item>`;

/** The profile's settings (user/registrymodifications.xcu); see the file comment. */
export const PROFILE_SETTINGS = [
  '<?xml version="1.0" encoding="UTF-8"?>',
  '<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
  ...NETWORK_PROVIDERS.map((n) => `<item oor:path="${UCB}"><node oor:name="${n}" oor:op="remove"/></item>`),
  prop("/org.openoffice.Office.Common/Security/Scripting", "BlockUntrustedRefererLinks", "true"),
  prop("/org.openoffice.Office.Common/Security/Scripting", "MacroSecurityLevel", "3"),
  prop("/org.openoffice.Office.Common/Security/Scripting", "DisableMacrosExecution", "true"),
  // Links on load: Writer 0 = never; Calc 1 = never.
  prop("/org.openoffice.Office.Writer/Content/Update", "Link", "0"),
  prop("/org.openoffice.Office.Calc/Content/Update", "Link", "1"),
  // Recalculation on load: 1 = never (the cached results are what the author saw).
  prop("/org.openoffice.Office.Calc/Formula/Load", "OOXMLRecalcMode", "1"),
  prop("/org.openoffice.Office.Calc/Formula/Load", "ODFRecalcMode", "1"),
  prop("/org.openoffice.Office.Java/VirtualMachine", "Enable", "false"),
  "</oor:items>",
  "",
].join("\n");

let found: { configured: string; bin: Promise<string | undefined> } | undefined;

/** The soffice to run, or undefined when there is none (cached per configured path). */
export function findSoffice(configured = ""): Promise<string | undefined> {
  if (found?.configured === configured) return found.bin;
  const bin = configured
    ? access(configured, fsConstants.X_OK).then(
        () => configured,
        () => undefined,
      )
    : new Promise<string | undefined>((resolve) => {
        execFile("sh", ["-c", "command -v soffice || command -v libreoffice"], { timeout: 10_000 }, (err, stdout) => resolve(err ? undefined : stdout.trim().split("\n")[0] || undefined));
      });
  found = { configured, bin };
  return bin;
}

/**
 * Converts `bytes` (a file with extension `ext`) with `soffice --convert-to <target>` and returns
 * the converted file's bytes. `target` is a LibreOffice filter spec: "pdf", "xlsx", "pptx", "docx",
 * optionally with a filter name ("pdf:writer_pdf_Export").
 */
export async function convertWithLibreOffice(bytes: Uint8Array, ext: string, target: string, source: string, options: LibreOfficeOptions = {}): Promise<Uint8Array> {
  const soffice = await findSoffice(options.sofficePath ?? "");
  if (!soffice) {
    throw new IngestError(
      "converter_unavailable",
      `${source}: .${ext} files are converted with LibreOffice, which is not installed here (install libreoffice-writer-nogui, -calc-nogui and -impress-nogui, or set KB_SOFFICE_PATH)`,
    );
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_SOFFICE_TIMEOUT_MS;
  const memoryKb = Math.max(256, options.memoryMb ?? DEFAULT_SOFFICE_MEMORY_MB) * 1024;
  const dir = await mkdtemp(path.join(os.tmpdir(), "kb-soffice-"));
  try {
    const profile = path.join(dir, "profile");
    await mkdir(path.join(profile, "user"), { recursive: true });
    await writeFile(path.join(profile, "user", "registrymodifications.xcu"), PROFILE_SETTINGS);
    const input = path.join(dir, `document.${ext}`);
    await writeFile(input, bytes);
    const outDir = path.join(dir, "out");
    await mkdir(outDir);
    const args = [
      `-env:UserInstallation=${pathToFileURL(profile).href}`,
      "--headless",
      "--invisible",
      "--norestore",
      "--nologo",
      "--nodefault",
      "--nolockcheck",
      "--convert-to",
      target,
      "--outdir",
      outDir,
      input,
    ];
    const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
    // sh sets the address-space limit and becomes `timeout`, which runs soffice in its own process
    // group and kills the group at the limit even if this process is gone by then.
    const script = 'ulimit -v "$0" || exit 126; exec timeout -s KILL "$@"';
    const stderr: string[] = [];
    const started = Date.now();
    const outcome = await new Promise<{ code: number | null; timedOut: boolean; aborted: boolean }>((resolve, reject) => {
      const child = spawn("sh", ["-c", script, String(memoryKb), String(seconds), soffice, ...args], {
        cwd: dir,
        detached: true,
        stdio: ["ignore", "ignore", "pipe"],
        env: { HOME: dir, PATH: "/usr/local/bin:/usr/bin:/bin", LANG: "C.UTF-8", SAL_USE_VCLPLUGIN: "svp" },
      });
      let timedOut = false;
      let aborted = false;
      const killGroup = () => {
        try {
          if (child.pid) process.kill(-child.pid, "SIGKILL");
        } catch {
          /* already gone */
        }
      };
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup();
      }, timeoutMs + 2_000);
      const onAbort = () => {
        aborted = true;
        killGroup();
      };
      options.signal?.addEventListener("abort", onAbort, { once: true });
      child.stderr.on("data", (d: Buffer) => {
        if (stderr.join("").length < 4096) stderr.push(d.toString("utf8"));
      });
      child.on("error", (err) => {
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        reject(err);
      });
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        // timeout(1) kills its whole process group, itself included, at the limit (SIGKILL after
        // `seconds`; a SIGKILL before that is something else, e.g. the kernel's OOM killer).
        const killedAtLimit = signal === "SIGKILL" && Date.now() - started >= seconds * 1000 - 250;
        resolve({ code, timedOut: timedOut || killedAtLimit || code === 124 || code === 137, aborted });
      });
    });
    if (outcome.aborted) throw new IngestError("aborted", `${source}: extraction aborted`);
    if (outcome.timedOut) {
      throw new IngestError("convert_timeout", `${source}: LibreOffice did not convert the .${ext} file within ${seconds} s; the conversion was stopped`);
    }
    const produced = (await readdir(outDir)).filter((n) => n.startsWith("document."));
    if (produced.length === 0) {
      const why = stderr.join("").replace(/Warning: failed to launch javaldx[^\n]*\n?/g, "").trim().slice(0, 300);
      throw new IngestError(
        "convert_failed",
        `${source}: LibreOffice could not convert this .${ext} file (damaged, password-protected or too large; exit code ${outcome.code ?? "none"}${why ? `: ${why}` : ""})`,
      );
    }
    return new Uint8Array(await readFile(path.join(outDir, produced[0]!)));
  } finally {
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}
