/**
 * Failed authentications go to the audit log aggregated per client address, so anonymous
 * traffic cannot grow the log without bound.
 *
 * The first failure from an address writes an `auth.failed` row at once (count 1). Further
 * failures from it are counted in memory, and when its window (a minute) closes they are
 * written as one `auth.failed` row with their `count`, reasons and time span; a flood from one
 * address is one row a minute. An address quiet for a whole window is forgotten, and its next
 * failure is again written at once. Immediate rows are budgeted per window across all
 * addresses: failures from further new addresses (address rotation) are counted together in one
 * row per window with `client: "*"` and the number of distinct addresses. Pending counts are
 * written when the knowledge base closes, so the sum of `count` over `auth.failed` rows is the
 * number of failed attempts. Writes are awaited by `record` (the request that caused them) and
 * by `close`; the window timer's writes are tracked so that `close` waits for them too.
 */
import { MAX_TARGET_BYTES, truncateUtf8, type AuditLog } from "./audit.ts";

export interface AuthFailureLogOptions {
  windowMs?: number;
  /** Addresses written at once per window; failures from further new addresses are pooled. */
  newAddressesPerWindow?: number;
  /** Addresses tracked at once (memory bound); beyond it the oldest is written out and forgotten. */
  maxAddresses?: number;
  now?: () => number;
}

interface Pending {
  /** End of the current window (ms). */
  until: number;
  count: number;
  /** Of `count`, answered 429 (over the anonymous rate limit) rather than 401. */
  limited: number;
  reasons: Record<string, number>;
  target: string | null;
  from: number;
  to: number;
  /** Distinct addresses, for the pooled entry only; counted up to maxAddresses. */
  addresses?: Set<string>;
}

const POOLED = "*";

export class AuthFailureLog {
  private readonly windowMs: number;
  private readonly budget: number;
  private readonly maxAddresses: number;
  private readonly now: () => number;
  /** Least recently (re)started window first. */
  private readonly pending = new Map<string, Pending>();
  private budgetLeft = 0;
  private budgetUntil = 0;
  private readonly timer: NodeJS.Timeout;
  /** Audit writes started and not yet settled (they never reject). */
  private readonly writing = new Set<Promise<void>>();

  constructor(
    private readonly audit: AuditLog,
    options: AuthFailureLogOptions = {},
  ) {
    this.windowMs = options.windowMs ?? 60_000;
    this.budget = options.newAddressesPerWindow ?? 100;
    this.maxAddresses = options.maxAddresses ?? 10_000;
    this.now = options.now ?? Date.now;
    this.timer = setInterval(() => void this.closeWindows(), this.windowMs);
    this.timer.unref();
  }

  /** One failed authentication from `address` for `target` (the request path). */
  async record(address: string, target: string, reason: string, limited = false): Promise<void> {
    const before = new Set(this.writing);
    this.count(address, target, reason, limited);
    await Promise.all([...this.writing].filter((w) => !before.has(w)));
  }

  private count(address: string, target: string, reason: string, limited: boolean): void {
    const now = this.now();
    let key = address;
    let p = this.pending.get(key);
    if (p && now >= p.until) p = this.closeWindow(key, p, now);
    if (!p) {
      if (now >= this.budgetUntil) {
        this.budgetLeft = this.budget;
        this.budgetUntil = now + this.windowMs;
      }
      if (this.budgetLeft > 0) {
        this.budgetLeft--;
        this.write(address, { count: 1, limited: limited ? 1 : 0, reasons: { [reason]: 1 }, target, from: now, to: now });
        this.start(key, now);
        return;
      }
      key = POOLED;
      p = this.pending.get(key);
      if (p && now >= p.until) p = this.closeWindow(key, p, now);
      p ??= this.start(key, now);
      p.addresses ??= new Set();
      if (p.addresses.size < this.maxAddresses) p.addresses.add(address);
    }
    p.count++;
    if (limited) p.limited++;
    p.reasons[reason] = (p.reasons[reason] ?? 0) + 1;
    // Cut now: up to maxAddresses targets are held in memory until written.
    p.target = truncateUtf8(target, MAX_TARGET_BYTES);
    if (p.count === 1) p.from = now;
    p.to = now;
  }

  /** Writes the counts of every closed window; an address with nothing pending is forgotten. */
  async closeWindows(now = this.now()): Promise<void> {
    for (const [key, p] of [...this.pending]) if (now >= p.until) this.closeWindow(key, p, now);
    await this.settled();
  }

  /** Writes every pending count now (at shutdown). */
  async flush(): Promise<void> {
    for (const [key, p] of [...this.pending]) {
      if (p.count > 0) this.write(key, p);
      this.pending.delete(key);
    }
    await this.settled();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }

  /** Waits for every audit write started so far. */
  private async settled(): Promise<void> {
    await Promise.all([...this.writing]);
  }

  /** Addresses (and the pool) currently tracked. */
  get tracked(): number {
    return this.pending.size;
  }

  private start(key: string, now: number): Pending {
    const p: Pending = { until: now + this.windowMs, count: 0, limited: 0, reasons: {}, target: null, from: now, to: now };
    this.pending.delete(key);
    this.pending.set(key, p);
    while (this.pending.size > this.maxAddresses) {
      const [oldKey, old] = this.pending.entries().next().value!;
      if (old.count > 0) this.write(oldKey, old);
      this.pending.delete(oldKey);
    }
    return p;
  }

  /**
   * Ends `key`'s window: its count is written, and an address that kept failing stays tracked
   * for another window (its next failures are counted, not written one by one); a quiet one is
   * forgotten. Returns the entry for the new window, if any.
   */
  private closeWindow(key: string, p: Pending, now: number): Pending | undefined {
    if (p.count === 0) {
      this.pending.delete(key);
      return undefined;
    }
    this.write(key, p);
    return this.start(key, now);
  }

  private write(key: string, p: Pick<Pending, "count" | "limited" | "reasons" | "target" | "from" | "to" | "addresses">): void {
    const details: Record<string, unknown> = { client: key, count: p.count };
    if (p.count === 1) details.reason = Object.keys(p.reasons)[0];
    else Object.assign(details, { reasons: p.reasons, from: new Date(p.from).toISOString(), to: new Date(p.to).toISOString() });
    if (p.limited) details.rateLimited = p.limited;
    if (p.addresses) details.clients = p.addresses.size;
    const w: Promise<void> = this.audit.record(null, "auth.failed", p.target, details, "denied").then(
      () => {},
      () => {}, // The audit log being unavailable (closing) must not turn a 401 into a 500.
    );
    this.writing.add(w);
    void w.finally(() => this.writing.delete(w));
  }
}
