/**
 * A LanceDB table as files: `<lanceDir>/<name>.lance` holds immutable data and index files and
 * one manifest per table version under `_versions`. That makes two maintenance operations
 * simple and safe:
 *  - a copy of the table *at a version* is every file except the manifests of later versions
 *    (files a version refers to are never rewritten, so copying while the table is written is fine);
 *  - a table whose latest version cannot be read goes back to the last version that can: a
 *    damaged manifest is moved aside (LanceDB then opens the version before it), and a version
 *    whose data files are damaged is replaced by a new version equal to the last good one
 *    (LanceDB `checkout` + `restore`, which keeps the history).
 */
import fs from "node:fs";
import path from "node:path";
import * as lancedb from "@lancedb/lancedb";
import { makePrivateDir, PRIVATE_FILE_MODE } from "../private-files.ts";

const U64_MAX = 18446744073709551615n;
const HINT_FILE = "latest_version_hint.json";

export function tableDir(lanceDir: string, table: string): string {
  return path.join(lanceDir, `${table}.lance`);
}

/** The version a manifest file name stands for (Lance names them u64::MAX - version, or plainly in old tables). */
function versionOfManifest(file: string): number | null {
  const m = /^(\d+)\.manifest$/.exec(file);
  if (!m) return null;
  const n = BigInt(m[1]!);
  return Number(n > 1n << 63n ? U64_MAX - n : n);
}

/** The manifests of a table, newest first. */
export function manifests(dir: string): { version: number; file: string }[] {
  const vdir = path.join(dir, "_versions");
  if (!fs.existsSync(vdir)) return [];
  return fs
    .readdirSync(vdir)
    .flatMap((f) => {
      const v = versionOfManifest(f);
      return v === null ? [] : [{ version: v, file: path.join(vdir, f) }];
    })
    .sort((a, b) => b.version - a.version);
}

export interface TableProbe {
  ok: boolean;
  version?: number;
  rows?: number;
  /** LanceDB's reason, without its source locations. */
  error?: string;
}

/** Lance errors carry Rust source paths and repeat themselves; the first reason is what a reader needs. */
export function lanceReason(err: unknown): string {
  const msg = String((err as Error)?.message ?? err);
  return msg
    .replace(/^lance error:\s*/i, "")
    .replace(/,\s*\/\S+\.rs:\d+:\d+.*$/s, "")
    .replace(/^LanceError\((\w+)\):\s*/, "$1: ")
    .trim();
}

/** Reads every row's document id: fails when the version's manifest or any data file it refers to is damaged. */
async function readAll(table: lancedb.Table): Promise<number> {
  let rows = 0;
  for await (const batch of table.query().select(["document_id", "document_version"])) rows += batch.numRows;
  return rows;
}

/** Opens the table (its latest version) and reads it through. */
export async function probeTable(lanceDir: string, table: string): Promise<TableProbe> {
  let db: lancedb.Connection | null = null;
  let t: lancedb.Table | null = null;
  try {
    db = await lancedb.connect(lanceDir);
    t = await db.openTable(table);
    const version = await t.version();
    const rows = await readAll(t);
    return { ok: true, version, rows };
  } catch (err) {
    return { ok: false, error: lanceReason(err) };
  } finally {
    t?.close();
    db?.close();
  }
}

export interface TableRepair {
  /** The version the table reads now (a new version equal to `goodVersion` when data files were damaged). */
  version: number;
  /** The last version that could be read. */
  goodVersion: number;
  /** Manifests moved aside (into `quarantineDir`). */
  quarantined: string[];
  rows: number;
}

/**
 * Returns a table whose latest version cannot be read to the last version that can. Damaged
 * manifests are moved to `quarantineDir` (kept for inspection, never deleted); when the manifest
 * reads but data does not, LanceDB checks out the newest readable version and restores it as
 * the latest. Throws when no version can be read.
 */
export async function rollBackToReadable(lanceDir: string, table: string, quarantineDir: string): Promise<TableRepair> {
  const dir = tableDir(lanceDir, table);
  const quarantined: string[] = [];
  for (;;) {
    const probe = await probeTable(lanceDir, table);
    if (probe.ok) return { version: probe.version!, goodVersion: probe.version!, quarantined, rows: probe.rows! };
    const all = manifests(dir);
    if (all.length === 0) throw new Error(`${dir}: no readable version left (${probe.error})`);
    // Does the newest manifest itself open? If not, it is the damage: move it aside and retry.
    const opened = await openTableOrNull(lanceDir, table);
    if (!opened) {
      if (all.length === 1) throw new Error(`${dir}: its only version cannot be read (${probe.error})`);
      const newest = all[0]!;
      makePrivateDir(quarantineDir);
      const to = path.join(quarantineDir, path.basename(newest.file));
      fs.renameSync(newest.file, to);
      // The hint names the version just moved aside; Lance lists the folder without it.
      fs.rmSync(path.join(dir, "_versions", HINT_FILE), { force: true });
      quarantined.push(to);
      continue;
    }
    // The manifest reads but its data does not: the newest older version that reads becomes the latest.
    const { db, t } = opened;
    try {
      const versions = (await t.listVersions()).map((v) => v.version).sort((a, b) => b - a);
      const latest = await t.version();
      for (const v of versions) {
        if (v >= latest) continue;
        try {
          await t.checkout(v);
          const rows = await readAll(t);
          await t.restore();
          return { version: await t.version(), goodVersion: v, quarantined, rows };
        } catch {
          // this version is damaged too: try the one before
        }
      }
      throw new Error(`${dir}: no readable version left (${probe.error})`);
    } finally {
      t.close();
      db.close();
    }
  }
}

async function openTableOrNull(lanceDir: string, table: string): Promise<{ db: lancedb.Connection; t: lancedb.Table } | null> {
  const db = await lancedb.connect(lanceDir);
  try {
    return { db, t: await db.openTable(table) };
  } catch {
    db.close();
    return null;
  }
}

/** The version a table reads now (its latest), or throws. */
export async function currentVersion(lanceDir: string, table: string): Promise<number> {
  const db = await lancedb.connect(lanceDir);
  try {
    const t = await db.openTable(table);
    try {
      return await t.version();
    } finally {
      t.close();
    }
  } finally {
    db.close();
  }
}

/**
 * Copies a table as of `version` into `destLanceDir`: every file except the manifests of later
 * versions (and the latest-version hint), so the copy's latest version is `version`. Files of
 * later versions that come along are unreferenced and harmless.
 */
export function copyTableAt(lanceDir: string, table: string, version: number, destLanceDir: string): { files: number; bytes: number } {
  const src = tableDir(lanceDir, table);
  const dest = tableDir(destLanceDir, table);
  let files = 0;
  let bytes = 0;
  const walk = (from: string, to: string) => {
    makePrivateDir(to);
    for (const e of fs.readdirSync(from, { withFileTypes: true })) {
      const f = path.join(from, e.name);
      if (e.isDirectory()) walk(f, path.join(to, e.name));
      // Judged file by file: a later version may be committed while the folder is being walked.
      else if (e.isFile() && !((versionOfManifest(e.name) ?? -1) > version) && e.name !== HINT_FILE) {
        try {
          fs.copyFileSync(f, path.join(to, e.name));
        } catch (err) {
          // A file of a later version that a compaction removed meanwhile: not part of `version`.
          if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
          throw err;
        }
        fs.chmodSync(path.join(to, e.name), PRIVATE_FILE_MODE);
        files++;
        bytes += fs.statSync(path.join(to, e.name)).size;
      }
    }
  };
  walk(src, dest);
  return { files, bytes };
}
