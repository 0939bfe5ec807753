/**
 * The LISTEN side of the change feed on PostgreSQL (../change-feed.ts): one dedicated
 * connection (never a pooled one: a pooled connection goes back to the pool and stops
 * listening), LISTENing on the changes channel. When it drops (the server restarted, a network
 * cut, an administrator's pg_terminate_backend) it reconnects with backoff (250 ms doubling to
 * 10 s); the feed tells every handler to resync on both edges, since notifications sent while
 * nobody listened are gone.
 */
import pg from "pg";
import type { ChangeListener } from "../change-feed.ts";
import { CHANGES_CHANNEL } from "./changes-repo.ts";
import { scrubError } from "./db.ts";

const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 10_000;

export class PgNotifyListener implements ChangeListener {
  private client: pg.Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private backoff = FIRST_BACKOFF_MS;
  private closed = false;

  constructor(
    private readonly url: string,
    private readonly log?: (msg: string, fields?: Record<string, unknown>) => void,
  ) {}

  start(onMessage: (raw: string) => void, onConnected: (connected: boolean) => void): void {
    const connect = async () => {
      this.timer = null;
      if (this.closed) return;
      // application_name lets an operator (and the test) tell this connection from the pool's.
      const client = new pg.Client({ connectionString: this.url, application_name: "kb-listen" });
      let dropped = false;
      const drop = (why: string) => {
        if (dropped) return;
        dropped = true;
        if (this.client === client) this.client = null;
        client.removeAllListeners("notification");
        void client.end().catch(() => {});
        onConnected(false);
        if (this.closed) return;
        this.log?.("change feed: the LISTEN connection was lost; reconnecting", { why: scrubError(new Error(why), this.url).message, retryInMs: this.backoff });
        this.timer = setTimeout(() => void connect(), this.backoff);
        this.timer.unref();
        this.backoff = Math.min(MAX_BACKOFF_MS, this.backoff * 2);
      };
      client.on("error", (err) => drop(err.message));
      client.on("end", () => drop("connection ended"));
      client.on("notification", (n) => {
        if (n.channel === CHANGES_CHANNEL && n.payload) onMessage(n.payload);
      });
      try {
        await client.connect();
        await client.query(`LISTEN ${CHANGES_CHANNEL}`);
      } catch (err) {
        drop((err as Error).message);
        return;
      }
      if (this.closed) {
        await client.end().catch(() => {});
        return;
      }
      this.client = client;
      this.backoff = FIRST_BACKOFF_MS;
      onConnected(true);
    };
    void connect();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => {});
  }
}
