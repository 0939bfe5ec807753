/**
 * Original files by content hash under <data>/blobs, so documents can be re-extracted and
 * reindexed without the source folder. Writes are atomic and durable: temp file, fsync, rename,
 * fsync of the folder; a write that fails (a full disk, a file size limit) leaves no temp file.
 */
import fs from "node:fs";
import path from "node:path";
import { sha256Hex } from "./ids.ts";
import { makePrivateDir, PRIVATE_FILE_MODE } from "./private-files.ts";

/** A stored original could not be written; nothing was left behind. `code` is the system error (ENOSPC, EFBIG, EDQUOT…). */
export class BlobWriteError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = "BlobWriteError";
  }
}

export class BlobStore {
  constructor(private readonly dir: string) {
    makePrivateDir(dir);
  }

  pathOf(hash: string): string {
    return path.join(this.dir, hash.slice(0, 2), hash);
  }

  /** Stores bytes (if not yet stored) and returns their hash and path. */
  put(bytes: Uint8Array): { hash: string; path: string } {
    const hash = sha256Hex(bytes);
    const target = this.pathOf(hash);
    if (!fs.existsSync(target)) {
      makePrivateDir(path.dirname(target));
      const tmp = `${target}.${process.pid}.${Date.now()}.tmp`;
      try {
        const fd = fs.openSync(tmp, "wx", PRIVATE_FILE_MODE);
        try {
          for (let off = 0; off < bytes.length; ) off += fs.writeSync(fd, bytes, off, bytes.length - off);
          // On disk before the name points at it: a crash after the rename must not leave a short original.
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
        fs.renameSync(tmp, target);
        syncDir(path.dirname(target));
      } catch (err) {
        fs.rmSync(tmp, { force: true });
        const e = err as NodeJS.ErrnoException;
        const why = e.code === "ENOSPC" ? "the disk is full" : e.code === "EDQUOT" ? "the disk quota is exhausted" : e.code === "EFBIG" ? "the file is larger than this process may write" : e.message;
        throw new BlobWriteError(`could not store the original (${bytes.length} bytes) under ${this.dir}: ${why} (${e.code ?? "error"}); nothing was kept`, e.code);
      }
    }
    return { hash, path: target };
  }

  /**
   * `put` without blocking the event loop: the same atomic, durable write (temp file, fsync,
   * rename, fsync of the folder), with the file system work on libuv's thread pool, so an
   * ingesting process keeps serving its extraction processes and requests meanwhile.
   */
  async putAsync(bytes: Uint8Array): Promise<{ hash: string; path: string }> {
    const hash = sha256Hex(bytes);
    const target = this.pathOf(hash);
    if (fs.existsSync(target)) return { hash, path: target };
    makePrivateDir(path.dirname(target));
    const tmp = `${target}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2, 8)}.tmp`;
    try {
      const fh = await fs.promises.open(tmp, "wx", PRIVATE_FILE_MODE);
      try {
        await fh.writeFile(bytes);
        // On disk before the name points at it: a crash after the rename must not leave a short original.
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fs.promises.rename(tmp, target);
      const dir = await fs.promises.open(path.dirname(target), "r");
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch (err) {
      await fs.promises.rm(tmp, { force: true });
      const e = err as NodeJS.ErrnoException;
      const why = e.code === "ENOSPC" ? "the disk is full" : e.code === "EDQUOT" ? "the disk quota is exhausted" : e.code === "EFBIG" ? "the file is larger than this process may write" : e.message;
      throw new BlobWriteError(`could not store the original (${bytes.length} bytes) under ${this.dir}: ${why} (${e.code ?? "error"}); nothing was kept`, e.code);
    }
    return { hash, path: target };
  }

  /**
   * Opens a stored original for reading (its size and a stream), or null when the path is not
   * inside this store or the file is gone.
   */
  open(blobPath: string): { size: number; stream: () => fs.ReadStream } | null {
    const rel = path.relative(this.dir, blobPath);
    if (rel.startsWith("..") || path.isAbsolute(rel)) return null;
    try {
      const st = fs.statSync(blobPath);
      if (!st.isFile()) return null;
      return { size: st.size, stream: () => fs.createReadStream(blobPath) };
    } catch {
      return null;
    }
  }

  /**
   * Removes a stored original (callers check first that no document still names it). Only
   * paths inside this store are touched; a missing file is not an error.
   */
  remove(blobPath: string): boolean {
    const rel = path.relative(this.dir, blobPath);
    if (rel.startsWith("..") || path.isAbsolute(rel)) return false;
    try {
      fs.unlinkSync(blobPath);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw err;
    }
  }
}

/** Makes a rename in `dir` durable (the folder entry itself is flushed). */
function syncDir(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
