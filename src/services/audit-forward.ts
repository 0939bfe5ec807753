/**
 * Audit events sent to a SIEM as they are written (KB_AUDIT_FORWARD), to one destination only:
 *
 * - `syslog+udp://host:514`, `syslog+tcp://host:601`: RFC 5424 messages (facility 13, "log
 *   audit"; severity info for ok, warning for denied/warning, error for error), APP-NAME
 *   `private-kb`, MSGID the event's action, the message the event as JSON (its chain hash
 *   included). TCP frames use octet counting (RFC 6587) and reconnect after a failure.
 * - `file:/path/audit.jsonl`: one JSON object per line, appended (the file is created 0600).
 *
 * Forwarding never blocks or fails the request that wrote the event: events wait in a bounded
 * in-memory queue and a background loop sends them. When the destination is down the queue
 * fills; beyond `maxQueue` new events are dropped, counted in `kb_audit_forward_events_total
 * {outcome="dropped"}` and logged (once per burst). The database stays the record; a forwarded
 * copy is best effort.
 */
import dgram from "node:dgram";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import type { AuditChainRow } from "../stores/metadata.ts";

const MAX_QUEUE = 10_000;
const BATCH = 100;
const MAX_BACKOFF_MS = 30_000;
/** Facility 13: log audit (RFC 5424 table 1). */
const FACILITY = 13;

export type ForwardedEvent = AuditChainRow;

interface Sink {
  send(events: ForwardedEvent[]): Promise<void>;
  close(): Promise<void>;
}

/** The event as forwarded: the stored row, hash included. */
export function forwardedJson(e: ForwardedEvent): string {
  return JSON.stringify({ id: e.id, at: e.at, actor: e.actor, action: e.action, target: e.target, outcome: e.outcome, details: e.details, hash: e.hash });
}

const printable = (s: string, max: number) => {
  const clean = s.replace(/[^\x21-\x7e]/g, "").slice(0, max);
  return clean || "-";
};

/** One RFC 5424 message for an event. */
export function syslogMessage(e: ForwardedEvent, hostname = os.hostname(), pid = process.pid): string {
  const severity = e.outcome === "error" ? 3 : e.outcome === "denied" || e.outcome === "warning" ? 4 : 6;
  return `<${FACILITY * 8 + severity}>1 ${e.at} ${printable(hostname, 255)} private-kb ${pid} ${printable(e.action, 32)} - ${forwardedJson(e)}`;
}

function parseDestination(dest: string): { kind: "udp" | "tcp"; host: string; port: number } | { kind: "file"; path: string } {
  if (dest.startsWith("file:")) return { kind: "file", path: dest.slice("file:".length) };
  const m = /^syslog\+(udp|tcp):\/\/(\[[0-9a-fA-F:.]+\]|[^/:\s]+):(\d{1,5})\/?$/.exec(dest);
  if (!m) throw new Error(`KB_AUDIT_FORWARD: unsupported destination "${dest}"`);
  return { kind: m[1] as "udp" | "tcp", host: m[2]!.replace(/^\[|\]$/g, ""), port: Number(m[3]) };
}

class UdpSink implements Sink {
  private socket: dgram.Socket | null = null;
  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  async send(events: ForwardedEvent[]): Promise<void> {
    this.socket ??= dgram.createSocket(net.isIPv6(this.host) ? "udp6" : "udp4").on("error", () => {});
    const socket = this.socket;
    for (const e of events) {
      await new Promise<void>((resolve, reject) => socket.send(Buffer.from(syslogMessage(e)), this.port, this.host, (err) => (err ? reject(err) : resolve())));
    }
  }

  async close(): Promise<void> {
    const s = this.socket;
    this.socket = null;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}

class TcpSink implements Sink {
  private socket: net.Socket | null = null;
  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  private connect(): Promise<net.Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: this.host, port: this.port });
      s.setNoDelay(true);
      s.once("connect", () => {
        s.removeListener("error", reject);
        s.on("error", () => s.destroy()); // the next send reconnects
        this.socket = s;
        resolve(s);
      });
      s.once("error", reject);
    });
  }

  async send(events: ForwardedEvent[]): Promise<void> {
    const socket = await this.connect();
    const frames = events.map((e) => {
      const msg = Buffer.from(syslogMessage(e));
      return Buffer.concat([Buffer.from(`${msg.length} `), msg]);
    });
    await new Promise<void>((resolve, reject) =>
      socket.write(Buffer.concat(frames), (err) => {
        if (err) {
          socket.destroy();
          reject(err);
        } else resolve();
      }),
    );
  }

  async close(): Promise<void> {
    const s = this.socket;
    this.socket = null;
    if (s && !s.destroyed) await new Promise<void>((r) => s.end(() => r()));
  }
}

class FileSink implements Sink {
  constructor(private readonly file: string) {}

  async send(events: ForwardedEvent[]): Promise<void> {
    await fs.promises.appendFile(this.file, events.map((e) => `${forwardedJson(e)}\n`).join(""), { mode: 0o600 });
  }

  async close(): Promise<void> {}
}

export interface AuditForwarderOptions {
  /** Events kept while the destination is slow or down (default 10,000); beyond, dropped. */
  maxQueue?: number;
  metrics?: { auditForwarded(outcome: "sent" | "dropped", n?: number): void };
  log?: (level: "warn" | "error", msg: string, fields?: Record<string, unknown>) => void;
}

export class AuditForwarder {
  private readonly sink: Sink;
  private readonly queue: ForwardedEvent[] = [];
  private readonly maxQueue: number;
  private pumping: Promise<void> | null = null;
  private backoffMs = 0;
  private closed = false;
  private droppedInBurst = 0;
  /** Events dropped since start (queue full). */
  dropped = 0;
  /** Events handed to the destination since start. */
  sent = 0;

  constructor(
    readonly destination: string,
    private readonly options: AuditForwarderOptions = {},
  ) {
    const d = parseDestination(destination);
    this.sink = d.kind === "file" ? new FileSink(d.path) : d.kind === "udp" ? new UdpSink(d.host, d.port) : new TcpSink(d.host, d.port);
    this.maxQueue = options.maxQueue ?? MAX_QUEUE;
  }

  /** Queues an event for the destination; never throws, never waits. */
  enqueue(event: ForwardedEvent): void {
    if (this.closed) return;
    if (this.queue.length >= this.maxQueue) {
      this.dropped++;
      this.options.metrics?.auditForwarded("dropped");
      if (this.droppedInBurst++ === 0) this.options.log?.("error", "audit forwarding: queue full, dropping events until the destination takes them again", { destination: this.destination, maxQueue: this.maxQueue });
      return;
    }
    this.queue.push(event);
    this.pumping ??= this.pump().finally(() => (this.pumping = null));
  }

  private async pump(): Promise<void> {
    while (this.queue.length > 0 && !this.closed) {
      if (this.backoffMs > 0) await new Promise((r) => setTimeout(r, this.backoffMs).unref());
      const batch = this.queue.slice(0, BATCH);
      try {
        await this.sink.send(batch);
        this.queue.splice(0, batch.length);
        this.sent += batch.length;
        this.options.metrics?.auditForwarded("sent", batch.length);
        if (this.backoffMs > 0 || this.droppedInBurst > 0) this.options.log?.("warn", "audit forwarding resumed", { destination: this.destination, droppedMeanwhile: this.droppedInBurst });
        this.backoffMs = 0;
        this.droppedInBurst = 0;
      } catch (err) {
        if (this.backoffMs === 0) this.options.log?.("error", "audit forwarding failed; retrying", { destination: this.destination, err: String(err) });
        this.backoffMs = Math.min(MAX_BACKOFF_MS, Math.max(250, this.backoffMs * 2));
      }
    }
  }

  /** Resolves once the queue is empty (tests), or after `timeoutMs`. */
  async flush(timeoutMs = 5000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.queue.length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
  }

  /** Sends what is queued (for up to `timeoutMs`), then closes the connection. */
  async close(timeoutMs = 2000): Promise<void> {
    await this.flush(timeoutMs);
    this.closed = true;
    await this.sink.close().catch(() => {});
  }
}
