/**
 * Change announcements between the processes sharing one metadata store (API replicas, workers,
 * the CLI): `publish(topic, payload)` records the change in the store's `changes` rows (in the
 * caller's transaction when one is open) and `subscribe(topic, handler)` is called when any
 * process announces on that topic. What a process caches of shared rows is dropped or refreshed
 * by these calls instead of re-read on every request.
 *
 * How an announcement travels:
 * - `notify` (PostgreSQL): the `changes` row is bumped and NOTIFY sent on the same connection,
 *   so it is delivered when the transaction commits (never for a rollback); a dedicated
 *   connection LISTENs (pg/notify-listener.ts), reconnecting with backoff;
 * - `poll` (PostgreSQL behind a pooler that drops NOTIFY, KB_PG_NOTIFY=off): every process reads
 *   the `changes` versions every KB_CHANGE_POLL_MS and calls the handlers of topics that moved;
 * - `in-process` (SQLite, one machine): handlers in this process only; a cache that another
 *   process (the CLI, `kb worker`) could make stale must not rely on it (`crossProcess` false).
 * A handler gets `resync: true` when announcements may have been missed (the listener lost its
 * connection, a poll failed) and when they start flowing again: it must then drop or re-read
 * everything it keeps. `live` says whether another process's announcement reaches this one now;
 * a cache must read through while it is false.
 */
import type { MetadataStore } from "./metadata.ts";

/** The topics announced today (a handler may subscribe to any string). */
export const TOPICS = {
  /** The active chunk table switched (a re-embed or rollback); payload: the new pointer. */
  index: "index",
  /** Users, groups, memberships or API tokens changed (a revocation, a disabled user, a role change; see announceWrites). */
  accounts: "accounts",
} as const;

export type ChangeEvent = { topic: string; payload: unknown; resync: false } | { topic: string; payload: null; resync: true };
export type ChangeHandler = (event: ChangeEvent) => void;
export type ChangeFeedMode = "in-process" | "notify" | "poll";

export interface ChangeFeed {
  readonly mode: ChangeFeedMode;
  /** True when announcements of other processes reach this one (a connected listener, a working poll). */
  readonly live: boolean;
  /** Whether announcements travel between processes at all (false: in-process only). */
  readonly crossProcess: boolean;
  publish(topic: string, payload?: unknown): Promise<void>;
  /** Returns the unsubscribe function. */
  subscribe(topic: string, handler: ChangeHandler): () => void;
  close(): Promise<void>;
}

/** What carries announcements between processes on PostgreSQL (pg/notify-listener.ts). */
export interface ChangeListener {
  start(onMessage: (raw: string) => void, onConnected: (connected: boolean) => void): void;
  close(): Promise<void>;
}

export interface StoreChangeFeedOptions {
  mode: ChangeFeedMode;
  /** The poll interval of the `changes` rows (`poll` mode), ms. */
  pollMs?: number;
  /** The NOTIFY listener (`notify` mode). */
  listener?: ChangeListener;
  log?: (level: "info" | "warn", msg: string, fields?: Record<string, unknown>) => void;
}

/** The change feed over a metadata store's `changes` rows (see the file comment). */
export class StoreChangeFeed implements ChangeFeed {
  private readonly handlers = new Map<string, Set<ChangeHandler>>();
  /** The last version seen per topic (from NOTIFY or a poll), so a poll does not repeat what NOTIFY delivered. */
  private readonly seen = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  private baselined = false;
  private connected = false;
  private closed = false;

  constructor(
    private readonly store: MetadataStore,
    private readonly opts: StoreChangeFeedOptions,
  ) {}

  get mode(): ChangeFeedMode {
    return this.opts.mode;
  }

  get crossProcess(): boolean {
    return this.opts.mode !== "in-process";
  }

  get live(): boolean {
    return this.crossProcess && this.connected && !this.closed;
  }

  /** Starts listening or polling; resolves once the first poll or connection attempt is done. */
  async start(): Promise<void> {
    if (this.opts.mode === "notify" && this.opts.listener) {
      let first!: () => void;
      const ready = new Promise<void>((r) => (first = r));
      this.opts.listener.start(
        (raw) => this.onNotification(raw),
        (connected) => {
          this.setConnected(connected);
          first();
        },
      );
      await ready;
    } else if (this.opts.mode === "poll") {
      await this.pollOnce();
      this.timer = setInterval(() => void this.pollOnce(), Math.max(10, this.opts.pollMs ?? 2000));
      this.timer.unref();
    }
  }

  async publish(topic: string, payload: unknown = null): Promise<void> {
    const version = await this.store.changes.bump(topic, payload);
    // This process's own handlers run once the change is visible to its reads (after the commit;
    // nothing on a rollback). Other processes hear of it by NOTIFY or their next poll.
    this.store.afterCommit(() => {
      if (this.crossProcess) this.seen.set(topic, Math.max(this.seen.get(topic) ?? 0, version));
      this.dispatch({ topic, payload, resync: false });
    });
  }

  subscribe(topic: string, handler: ChangeHandler): () => void {
    let set = this.handlers.get(topic);
    if (!set) this.handlers.set(topic, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  /** Reads the versions now (poll mode's step; also a test's way to not wait for the timer). */
  pollOnce(): Promise<void> {
    this.polling ??= this.doPoll().finally(() => (this.polling = null));
    return this.polling;
  }

  private async doPoll(): Promise<void> {
    if (this.closed) return;
    let rows: { topic: string; version: number; payload: unknown }[];
    try {
      rows = await this.store.changes.versions();
    } catch (err) {
      if (this.connected) this.opts.log?.("warn", "change feed: could not read the changes table; caches read through until it answers", { err: String(err) });
      this.setConnected(false);
      return;
    }
    const first = !this.baselined;
    this.baselined = true;
    for (const r of rows) {
      const before = this.seen.get(r.topic);
      if (before !== undefined && r.version <= before) continue;
      this.seen.set(r.topic, r.version);
      if (!first && this.connected) this.dispatch({ topic: r.topic, payload: r.payload, resync: false });
    }
    this.setConnected(true);
  }

  private onNotification(raw: string): void {
    let msg: { topic?: unknown; version?: unknown; payload?: unknown };
    try {
      msg = JSON.parse(raw) as typeof msg;
    } catch {
      return;
    }
    if (typeof msg.topic !== "string") return;
    const version = Number(msg.version);
    if (Number.isFinite(version)) {
      if (version <= (this.seen.get(msg.topic) ?? 0)) return; // this process's own announcement, handled after its commit
      this.seen.set(msg.topic, version);
    }
    this.dispatch({ topic: msg.topic, payload: msg.payload ?? null, resync: false });
  }

  /** A change of state (connected or not) may have hidden announcements: every handler resyncs. */
  private setConnected(connected: boolean): void {
    if (connected === this.connected) return;
    this.connected = connected;
    this.opts.log?.(connected ? "info" : "warn", connected ? `change feed (${this.opts.mode}): receiving announcements` : `change feed (${this.opts.mode}): not receiving announcements; caches read through`);
    for (const topic of this.handlers.keys()) this.dispatch({ topic, payload: null, resync: true });
  }

  private dispatch(event: ChangeEvent): void {
    for (const h of [...(this.handlers.get(event.topic) ?? [])]) {
      try {
        h(event);
      } catch (err) {
        this.opts.log?.("warn", "change feed: a handler failed", { topic: event.topic, err: String(err) });
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.polling?.catch(() => {});
    await this.opts.listener?.close();
  }
}

/**
 * Makes each named method of `repo` announce `topic` once it has written (in the caller's
 * transaction when one is open, so the announcement is delivered when the change commits).
 * Used on the repositories whose rows other processes keep (the composition root picks them).
 */
export function announceWrites<T extends object>(repo: T, methods: readonly (keyof T & string)[], feed: ChangeFeed, topic: string): void {
  for (const name of methods) {
    const original = repo[name] as unknown as (...args: unknown[]) => Promise<unknown>;
    if (typeof original !== "function") throw new Error(`announceWrites: ${name} is not a method`);
    Object.defineProperty(repo, name, {
      configurable: true,
      writable: true,
      value: async (...args: unknown[]) => {
        const result = await original.apply(repo, args);
        await feed.publish(topic, { change: name });
        return result;
      },
    });
  }
}
