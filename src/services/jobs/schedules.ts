/**
 * Recurring folder syncs, run by workers (`kb worker`, and `kb serve`'s in-process worker).
 *
 * Sources come from `KB_SYNC_SOURCES` (JSON) or `<data>/sources.json`:
 *   [{ "name": "hr", "folder": "/srv/share/hr", "every": "15m",
 *      "allow": ["group:hr"], "classification": "internal" },
 *    { "name": "wiki", "folder": "/srv/wiki", "cron": "0 2 * * *", "watch": true }]
 * `every`: 30s, 15m, 2h, 1d (the first sync runs at once); `cron`: five fields (minute hour
 * day-of-month month day-of-week; `*`, lists, ranges, steps), local time; `watch`: also sync a
 * few seconds after files under the folder change, and once when the worker starts (to catch
 * changes made while no worker watched; a sync of unchanged files writes nothing). A source is not submitted again while a
 * sync of its folder is queued or running. The last submit time is kept in SQLite settings,
 * so several workers share the schedule (the check-and-submit is one transaction).
 */
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { classificationLevel, parsePrincipalList, SYSTEM_ACTOR } from "../../../policies/index.ts";
import type { MetadataRepositories, MetadataStore } from "../../stores/metadata.ts";
import type { JobsService } from "./jobs-service.ts";

const SourceSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "letters, digits, _ . - only"),
  folder: z.string().min(1),
  every: z
    .string()
    .regex(/^\d+\s*(s|m|h|d)$/, 'like "30s", "15m", "2h", "1d"')
    .optional(),
  cron: z.string().optional(),
  watch: z.boolean().optional(),
  allow: z.union([z.array(z.string()), z.string()]).optional(),
  deny: z.union([z.array(z.string()), z.string()]).optional(),
  classification: z.union([z.string(), z.number().int()]).optional(),
});
export type SourceConfig = z.infer<typeof SourceSchema>;

export interface SyncSource {
  name: string;
  folder: string;
  everyMs: number | null;
  cron: Cron | null;
  watch: boolean;
  allow?: string[];
  deny?: string[];
  classification?: number;
}

export function parseDuration(s: string): number {
  const m = /^(\d+)\s*(s|m|h|d)$/.exec(s.trim());
  if (!m) throw new Error(`bad duration "${s}"`);
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "s" | "m" | "h" | "d"];
}

/* ------------------------------------------------------------------------------------------ */
/* cron                                                                                        */
/* ------------------------------------------------------------------------------------------ */

export interface Cron {
  matches(d: Date): boolean;
}

function cronField(expr: string, min: number, max: number): Set<number> {
  const out = new Set<number>();
  for (const part of expr.split(",")) {
    const [range, stepText] = part.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new Error(`bad cron step in "${expr}"`);
    let lo: number;
    let hi: number;
    if (range === "*") [lo, hi] = [min, max];
    else if (range!.includes("-")) [lo, hi] = range!.split("-").map(Number) as [number, number];
    else {
      lo = Number(range);
      hi = stepText === undefined ? lo : max;
    }
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < min || hi > max || lo > hi) throw new Error(`bad cron field "${expr}" (allowed ${min}-${max})`);
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

/** Five-field cron (minute hour day-of-month month day-of-week, 0 or 7 = Sunday), local time. */
export function parseCron(expr: string): Cron {
  const f = expr.trim().split(/\s+/);
  if (f.length !== 5) throw new Error(`cron "${expr}" needs 5 fields`);
  const [mi, ho, dom, mo, dow] = [cronField(f[0]!, 0, 59), cronField(f[1]!, 0, 23), cronField(f[2]!, 1, 31), cronField(f[3]!, 1, 12), cronField(f[4]!, 0, 7)];
  if (dow.has(7)) dow.add(0);
  const domAny = f[2] === "*";
  const dowAny = f[4] === "*";
  return {
    matches(d) {
      if (!mi.has(d.getMinutes()) || !ho.has(d.getHours()) || !mo.has(d.getMonth() + 1)) return false;
      // Classic cron: when both day fields are restricted, either may match.
      const a = dom.has(d.getDate());
      const b = dow.has(d.getDay());
      return domAny && dowAny ? true : domAny ? b : dowAny ? a : a || b;
    },
  };
}

/** True when some whole minute in (after, upTo] matches. */
export function cronDueBetween(cron: Cron, after: Date, upTo: Date): boolean {
  const t = new Date(after.getTime());
  t.setSeconds(0, 0);
  t.setMinutes(t.getMinutes() + 1);
  const limit = Math.min(upTo.getTime(), after.getTime() + 366 * 86_400_000);
  for (; t.getTime() <= limit; t.setMinutes(t.getMinutes() + 1)) if (cron.matches(t)) return true;
  return false;
}

/* ------------------------------------------------------------------------------------------ */
/* loading                                                                                     */
/* ------------------------------------------------------------------------------------------ */

const list = (v: string[] | string | undefined) => (v === undefined ? undefined : parsePrincipalList(Array.isArray(v) ? v.join(",") : v));

export function parseSources(json: unknown, where: string): SyncSource[] {
  const parsed = z.array(SourceSchema).safeParse(json);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`invalid sync sources in ${where}:\n${lines.join("\n")}`);
  }
  const names = new Set<string>();
  return parsed.data.map((s) => {
    if (names.has(s.name)) throw new Error(`sync source "${s.name}" is listed twice in ${where}`);
    names.add(s.name);
    if (!path.isAbsolute(s.folder)) throw new Error(`sync source "${s.name}": folder must be absolute`);
    if (!s.every && !s.cron && !s.watch) throw new Error(`sync source "${s.name}": give "every", "cron" or "watch"`);
    return {
      name: s.name,
      folder: path.resolve(s.folder),
      everyMs: s.every ? parseDuration(s.every) : null,
      cron: s.cron ? parseCron(s.cron) : null,
      watch: s.watch ?? false,
      allow: list(s.allow),
      deny: list(s.deny),
      classification: s.classification === undefined ? undefined : typeof s.classification === "number" ? s.classification : classificationLevel(s.classification),
    };
  });
}

/** `KB_SYNC_SOURCES` (JSON) wins over `<data>/sources.json`; none: no schedules. */
export function loadSources(envJson: string | undefined, dataDir: string): SyncSource[] {
  if (envJson?.trim()) {
    let json: unknown;
    try {
      json = JSON.parse(envJson);
    } catch (err) {
      throw new Error(`KB_SYNC_SOURCES is not valid JSON: ${(err as Error).message}`);
    }
    return parseSources(json, "KB_SYNC_SOURCES");
  }
  const file = path.join(dataDir, "sources.json");
  if (!fs.existsSync(file)) return [];
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`${file} is not valid JSON: ${(err as Error).message}`);
  }
  return parseSources(json, file);
}

/* ------------------------------------------------------------------------------------------ */
/* scheduler                                                                                   */
/* ------------------------------------------------------------------------------------------ */

const WATCH_DEBOUNCE_MS = 3000;

/**
 * A job submitted every `everyMs` besides the folder syncs (a directory sync every
 * `syncIntervalMinutes`): not again while one it `matches` is queued or running; the first
 * runs at once. Its last submit time is kept like a folder source's.
 */
export interface IntervalSchedule {
  name: string;
  everyMs: number;
  kind: string;
  matches: (params: Record<string, unknown>) => boolean;
  submit: (tx: MetadataRepositories) => Promise<{ jobId: string }>;
}

export class Scheduler {
  private readonly watchers: fs.FSWatcher[] = [];
  /** Per source: time of the last file event not yet synced. */
  private readonly changedAt = new Map<string, number>();

  constructor(
    private readonly sources: SyncSource[],
    private readonly deps: {
      /** The last submit time per source (settings); the check-and-submit is one transaction. */
      metadata: MetadataStore;
      jobsService: JobsService;
      log?: (msg: string, fields?: Record<string, unknown>) => void;
      now?: () => Date;
      /** Asked at every tick (the directories file may change meanwhile). */
      intervals?: () => IntervalSchedule[];
    },
  ) {
    for (const s of sources.filter((x) => x.watch)) {
      // Catch up at start: files may have changed while no worker watched.
      this.changedAt.set(s.name, Date.now() - WATCH_DEBOUNCE_MS);
      try {
        const w = fs.watch(s.folder, { recursive: true, persistent: false }, () => this.changedAt.set(s.name, Date.now()));
        w.on("error", (err) => deps.log?.("folder watch failed", { source: s.name, err: String(err) }));
        this.watchers.push(w);
      } catch (err) {
        deps.log?.("cannot watch folder", { source: s.name, folder: s.folder, err: String(err) });
      }
    }
  }

  get names(): string[] {
    return [...this.sources.map((s) => s.name), ...(this.deps.intervals?.() ?? []).map((s) => s.name)];
  }

  private due(s: SyncSource, last: Date | null, now: Date): boolean {
    const changed = this.changedAt.get(s.name);
    if (changed !== undefined && now.getTime() - changed >= WATCH_DEBOUNCE_MS && (!last || last.getTime() < changed)) return true;
    if (s.everyMs !== null && (!last || now.getTime() - last.getTime() >= s.everyMs)) return true;
    if (s.cron && last && cronDueBetween(s.cron, last, now)) return true;
    return false;
  }

  /** Submits the sources that are due; returns the new job ids. */
  async tick(): Promise<string[]> {
    const { metadata, jobsService } = this.deps;
    const now = this.deps.now?.() ?? new Date();
    const submitted: string[] = [];
    for (const s of this.sources) {
      const key = `schedule.${s.name}.last`;
      // Read first: the write transaction only when something is (probably) due.
      const seen = await metadata.settings.get<string>(key);
      if (seen && !this.due(s, new Date(seen), now)) continue;
      let jobId: string | null;
      // One source refused (its folder left the sync roots since start) does not stop the others.
      try {
        jobId = await metadata.withTransaction(async (tx) => {
          const { settings } = tx;
          const lastIso = await settings.get<string>(key);
          if (!lastIso && s.cron && s.everyMs === null && !this.changedAt.has(s.name)) {
            await settings.set(key, now.toISOString()); // a new cron schedule waits for its next match
            return null;
          }
          if (!this.due(s, lastIso ? new Date(lastIso) : null, now)) return null;
          if (await tx.jobs.activeJobWith("sync", (p) => p.folder === s.folder)) return null;
          await settings.set(key, now.toISOString());
          return (await jobsService.submitSync(SYSTEM_ACTOR, { folder: s.folder, allow: s.allow, deny: s.deny, classification: s.classification }, { schedule: s.name, tx })).jobId;
        });
      } catch (err) {
        this.deps.log?.("scheduled sync refused", { source: s.name, folder: s.folder, err: (err as Error).message });
        continue;
      }
      if (jobId) {
        this.changedAt.delete(s.name);
        submitted.push(jobId);
        this.deps.log?.("scheduled sync submitted", { source: s.name, folder: s.folder, jobId });
      }
    }
    for (const s of this.deps.intervals?.() ?? []) {
      const key = `schedule.${s.name}.last`;
      const isDue = (lastIso: string | undefined) => !lastIso || now.getTime() - Date.parse(lastIso) >= s.everyMs;
      if (!isDue(await metadata.settings.get<string>(key))) continue;
      try {
        const jobId = await metadata.withTransaction(async (tx) => {
          if (!isDue(await tx.settings.get<string>(key))) return null;
          if (await tx.jobs.activeJobWith(s.kind, s.matches)) return null;
          await tx.settings.set(key, now.toISOString());
          return (await s.submit(tx)).jobId;
        });
        if (jobId) {
          submitted.push(jobId);
          this.deps.log?.("scheduled job submitted", { schedule: s.name, kind: s.kind, jobId });
        }
      } catch (err) {
        this.deps.log?.("scheduled job refused", { schedule: s.name, err: (err as Error).message });
      }
    }
    return submitted;
  }

  close(): void {
    for (const w of this.watchers) w.close();
    this.watchers.length = 0;
  }
}
