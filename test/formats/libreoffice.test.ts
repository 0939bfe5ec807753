/**
 * Legacy Office / OpenDocument / RTF through LibreOffice (ingest/convert/libreoffice.ts): each kind
 * extracts through the real pipeline; a document linking a picture on a loopback server makes no
 * request; without soffice a file fails with converter_unavailable; the time and memory limits
 * reach the process. The fixtures are OpenDocument files built in the test and converted to
 * .doc/.rtf/.xls/.ppt by soffice itself. Tests that need soffice skip with a printed reason
 * without it (CI installs it: .ci/run).
 */
import CFB from "cfb";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convertWithLibreOffice, findSoffice } from "../../ingest/convert/libreoffice.ts";
import { extractFile } from "../../ingest/extract.ts";
import { configureExtraction, DEFAULT_EXTRACTION_SETTINGS } from "../../ingest/extraction-settings.ts";
import { closeOcrEngine } from "../../ingest/ocr/engine.ts";
import { IngestError, type ExtractedDocument } from "../../ingest/types.ts";
import { loadConfig } from "../../src/config.ts";
import { haveShared, sharedPath } from "../ingest/fixtures.ts";
import { buildOdf } from "./builders.ts";

const text = (d: ExtractedDocument) => d.pages.flatMap((p) => p.blocks.map((b) => b.text)).join("\n");
const tmp = mkdtempSync(path.join(os.tmpdir(), "kb-lo-test-"));
const soffice = await findSoffice("");
if (!soffice) console.log("[skip] LibreOffice conversions: soffice is not installed (apt-get install libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui)");

/** A loopback HTTP server that records every request (the linked pictures point at it). */
const requests: string[] = [];
const server = http.createServer((req, res) => {
  requests.push(`${req.method} ${req.url}`);
  res.writeHead(404).end();
});
let base = "";
const files = new Map<string, Buffer>();

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  if (!soffice) return;
  for (const kind of ["odt", "ods", "odp"] as const) files.set(kind, await buildOdf(kind, `${base}/${kind}.png`));
  // The legacy formats, written by LibreOffice itself from the OpenDocument files (with the
  // converter's isolated profile, so making them fetches nothing either).
  const from = { doc: "odt", rtf: "odt", xls: "ods", ppt: "odp" } as const;
  for (const [kind, src] of Object.entries(from)) {
    files.set(kind, Buffer.from(await convertWithLibreOffice(files.get(src)!, src, kind, `fixture.${src}`)));
  }
}, 240_000);

afterAll(async () => {
  await closeOcrEngine();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(tmp, { recursive: true, force: true });
});

describe.runIf(soffice)("LibreOffice conversions", () => {
  it("the fixtures' links are live: LibreOffice with a default profile fetches the linked pictures", async () => {
    // Without this, "no request" below could pass because the fixtures link nothing.
    const before = requests.length;
    const dir = mkdtempSync(path.join(tmp, "control-"));
    for (const kind of ["ods", "odp"]) {
      writeFileSync(path.join(dir, `link.${kind}`), files.get(kind)!);
      await new Promise<void>((resolve, reject) => {
        const p = spawn(soffice!, [`-env:UserInstallation=${pathToFileURL(path.join(dir, "profile")).href}`, "--headless", "--norestore", "--nologo", "--convert-to", "pdf", "--outdir", dir, path.join(dir, `link.${kind}`)], { stdio: "ignore" });
        p.on("error", reject);
        p.on("close", () => resolve());
      });
    }
    const fetched = requests.slice(before);
    expect(fetched).toContain("GET /ods.png");
    expect(fetched).toContain("GET /odp.png");
    requests.length = 0;
  }, 120_000);

  it(".odt, .doc, .rtf → PDF: the text, page by page", async () => {
    for (const kind of ["odt", "doc", "rtf"]) {
      const { type, document } = await extractFile({ source: `policy.${kind}`, bytes: files.get(kind)! });
      expect(type.kind).toBe(kind);
      expect(document.warnings).toContain("converted to PDF by LibreOffice");
      const pages = document.pages.map((p) => ({ page: p.page, text: p.blocks.map((b) => b.text).join(" ") }));
      expect(pages.find((p) => /Annual leave must be approved in advance/.test(p.text))?.page).toBe(1);
      expect(pages.find((p) => /Receipts are kept for five years/.test(p.text))?.page).toBe(2);
      expect(document.title).toBe("policy");
    }
  }, 240_000);

  it(".ods, .xls → XLSX: a page per sheet, headed by its name, tables as Markdown tables", async () => {
    for (const kind of ["ods", "xls"]) {
      const { type, document } = await extractFile({ source: `budget.${kind}`, bytes: files.get(kind)! });
      expect(type.kind).toBe(kind);
      expect(document.warnings).toContain("converted to XLSX by LibreOffice");
      expect(document.pages.map((p) => p.blocks[0]?.text)).toEqual(["매출", "Notes"]);
      expect(document.pages[0]!.blocks.find((b) => b.kind === "table")?.text).toBe("| 지역 | 금액 |\n| --- | --- |\n| 서울 | 300 |");
      expect(text(document)).toContain("Budget approved in March");
    }
  }, 240_000);

  it(".odp, .ppt → PPTX: a page per slide, in order", async () => {
    for (const kind of ["odp", "ppt"]) {
      const { type, document } = await extractFile({ source: `deck.${kind}`, bytes: files.get(kind)! });
      expect(type.kind).toBe(kind);
      expect(document.warnings).toContain("converted to PPTX by LibreOffice");
      expect(document.pages.map((p) => p.page)).toEqual([1, 2]);
      // (The fixture's title frames are plain text frames to LibreOffice: no title placeholder.)
      expect(document.pages[0]!.blocks[0]?.text).toBe("Quarterly Review");
      expect(text(document)).toContain("Revenue grew in every region.");
      expect(document.pages[1]!.blocks.map((b) => b.text)).toEqual(["Next steps", "Hire two engineers."]);
    }
  }, 240_000);

  it("no conversion made a request to the server the documents link to", () => {
    // Runs after the conversions above (vitest runs a file's tests in order).
    expect(requests).toEqual([]);
  });

  it("conversions at the same time each get their own profile and all finish", async () => {
    const out = await Promise.all([
      convertWithLibreOffice(files.get("odt")!, "odt", "pdf", "a.odt"),
      convertWithLibreOffice(files.get("ods")!, "ods", "xlsx", "b.ods"),
      convertWithLibreOffice(files.get("odp")!, "odp", "pptx", "c.odp"),
    ]);
    expect(out.map((b) => Buffer.from(b).subarray(0, 4).toString("latin1"))).toEqual(["%PDF", "PK\u0003\u0004", "PK\u0003\u0004"]);
    expect(requests).toEqual([]);
  }, 120_000);

  it("a damaged file fails with convert_failed, and the next one still converts", async () => {
    const broken = Buffer.concat([files.get("doc")!.subarray(0, 2048), Buffer.alloc(4096, 0x41)]);
    await expect(convertWithLibreOffice(broken, "doc", "pdf", "broken.doc")).rejects.toMatchObject({ code: "convert_failed" });
    expect(Buffer.from(await convertWithLibreOffice(files.get("rtf")!, "rtf", "pdf", "ok.rtf")).subarray(0, 5).toString()).toBe("%PDF-");
  }, 120_000);

  it("the public samples convert (skipped without ../shared)", async () => {
    const dir = sharedPath("multiformat_unstructured");
    if (!haveShared(dir, "LibreOffice public samples")) return;
    for (const name of ["simple.doc", "fake.odt", "fake-doc.rtf", "tests-example.xls", "fake-power-point.ppt"]) {
      const { document } = await extractFile({ source: name, bytes: readFileSync(path.join(dir, name)) });
      expect(text(document).length, name).toBeGreaterThan(10);
    }
  }, 300_000);
});

describe("LibreOffice converter: absent, time and memory limits (no soffice needed)", () => {
  /** A stand-in soffice: a shell script. */
  function fakeSoffice(name: string, body: string): string {
    const p = path.join(tmp, name);
    writeFileSync(p, `#!/bin/sh\n${body}\n`);
    chmodSync(p, 0o755);
    return p;
  }

  it("without soffice a file fails with converter_unavailable (KB_SOFFICE_PATH to nothing)", async () => {
    const config = loadConfig({ KB_SOFFICE_PATH: path.join(tmp, "no-such-soffice") });
    try {
      configureExtraction({ sofficePath: config.sofficePath });
      const err = await extractFile({ source: "old.doc", bytes: minimalWordOle() }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IngestError);
      expect((err as IngestError).code).toBe("converter_unavailable");
      expect((err as IngestError).message).toMatch(/LibreOffice/);
    } finally {
      configureExtraction({ sofficePath: DEFAULT_EXTRACTION_SETTINGS.sofficePath });
    }
  });

  it("a conversion past its time limit fails with convert_timeout and its process is gone", async () => {
    const pidFile = path.join(tmp, "slow.pid");
    const slow = fakeSoffice("slow-soffice", `echo $$ > ${pidFile}\nexec sleep 60`);
    await expect(convertWithLibreOffice(Buffer.from("{\\rtf1 x}"), "rtf", "pdf", "slow.rtf", { sofficePath: slow, timeoutMs: 1000 })).rejects.toMatchObject({ code: "convert_timeout" });
    // Gone, or a zombie nobody reaps (a container without an init): either way not running.
    const stat = `/proc/${Number(readFileSync(pidFile, "utf8"))}/stat`;
    const state = existsSync(stat) ? (readFileSync(stat, "utf8").split(") ")[1]?.[0] ?? "?") : "gone";
    expect(["gone", "Z", "X"]).toContain(state);
  }, 30_000);

  it("soffice runs under the address-space limit, in a fresh profile that removes the network providers", async () => {
    const seen = path.join(tmp, "seen.txt");
    // Records its limit and profile, then "converts" by copying the input.
    const probe = fakeSoffice(
      "probe-soffice",
      `ulimit -v > ${seen}\nfor a; do case "$a" in -env:UserInstallation=file://*) p="\${a#-env:UserInstallation=file://}"; cat "$p/user/registrymodifications.xcu" >> ${seen};; --outdir) next=1;; *) if [ -n "$next" ]; then out="$a"; next=; fi; last="$a";; esac; done\ncp "$last" "$out/document.pdf"`,
    );
    const out = await convertWithLibreOffice(Buffer.from("%PDF-1.4 fake"), "doc", "pdf", "probe.doc", { sofficePath: probe, memoryMb: 700 });
    expect(Buffer.from(out).toString()).toBe("%PDF-1.4 fake");
    const [limit, ...profile] = readFileSync(seen, "utf8").split("\n");
    expect(Number(limit)).toBe(700 * 1024);
    const xcu = profile.join("\n");
    for (const provider of ["Provider3", "Provider4", "Provider12", "Provider6", "Provider43"]) expect(xcu).toContain(`<node oor:name="${provider}" oor:op="remove"/>`);
    expect(xcu).toContain('<prop oor:name="BlockUntrustedRefererLinks" oor:op="fuse"><value>true</value></prop>');
  });
});

/** An OLE container with a WordDocument stream: detected as .doc (enough to reach the converter). */
function minimalWordOle(): Buffer {
  const cfb = CFB.utils.cfb_new();
  CFB.utils.cfb_add(cfb, "WordDocument", Buffer.alloc(512, 1));
  return Buffer.from(CFB.write(cfb, { type: "buffer" }) as Uint8Array);
}
