/**
 * Original files by content hash under <data>/blobs, so documents can be re-extracted and
 * reindexed without the source folder. Writes are atomic (temp file + rename).
 */
import fs from "node:fs";
import path from "node:path";
import { sha256Hex } from "./ids.ts";
import { makePrivateDir, PRIVATE_FILE_MODE } from "./private-files.ts";

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
      fs.writeFileSync(tmp, bytes, { mode: PRIVATE_FILE_MODE });
      fs.renameSync(tmp, target);
    }
    return { hash, path: target };
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
