/**
 * Stored originals are written durably and a failed write leaves nothing behind. The failure is
 * real, not simulated: a child process runs under a file size limit (RLIMIT_FSIZE, `ulimit -f`),
 * so the kernel refuses the write mid-file (EFBIG), as a full disk refuses it with ENOSPC. Both
 * reach the same path in BlobStore.put: a write(2) that fails after part of the file was written.
 */
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BlobStore } from "../src/stores/blob-store.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "kb-blob-"));
  dirs.push(d);
  return d;
}

describe("BlobStore.put", () => {
  it.each(["put", "putAsync"] as const)("%s stores bytes by hash, private, and keeps no temp file", async (method) => {
    const dir = tmp();
    const store = new BlobStore(path.join(dir, "blobs"));
    const { hash, path: p } = await store[method](Buffer.from("hello"));
    expect(fs.readFileSync(p, "utf8")).toBe("hello");
    expect(fs.statSync(p).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(path.dirname(p))).toEqual([hash]);
    // Stored once: the same bytes again name the same file.
    expect((await store[method](Buffer.from("hello"))).path).toBe(p);
    expect(fs.readdirSync(path.dirname(p))).toEqual([hash]);
  });

  it.each(["put", "putAsync"] as const)("%s: a write the file system refuses mid-file throws a clear error and removes its temp file", (method) => {
    const dir = tmp();
    const blobs = path.join(dir, "blobs");
    const script = path.join(dir, "put.mts");
    fs.writeFileSync(
      script,
      `import { BlobStore } from ${JSON.stringify(path.resolve("src/stores/blob-store.ts"))};
const store = new BlobStore(${JSON.stringify(blobs)});
try { await store.${method}(new Uint8Array(256 * 1024).fill(7)); console.log("stored"); }
catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); }`,
    );
    // SIGXFSZ ignored (inherited across exec), so the write returns EFBIG instead of killing node.
    // 64 KiB: the loader's own small cache files still fit; the 256 KiB original does not.
    const out = execFileSync("bash", ["-c", `trap '' XFSZ; ulimit -f 64; exec "$0" --import tsx "$1"`, process.execPath, script], {
      encoding: "utf8",
      env: { ...process.env, TSX_DISABLE_CACHE: "1" },
    });
    const result = JSON.parse(out.trim().split("\n").pop()!);
    expect(result.name).toBe("BlobWriteError");
    expect(result.code).toBe("EFBIG");
    expect(result.message).toMatch(/could not store the original .*larger than this process may write.*nothing was kept/);
    const left = fs.readdirSync(blobs, { recursive: true }).map(String);
    expect(left.filter((f) => f.endsWith(".tmp"))).toEqual([]);
    // Nothing under the hash either: a later put must not find a short original and skip the write.
    expect(left.filter((f) => /[0-9a-f]{64}$/.test(f))).toEqual([]);
  });
});
