/**
 * The client address a request is charged to (anonymous rate limit, failed-auth audit).
 *
 * It is the connection's peer address. X-Forwarded-For is believed only when that peer is a
 * configured trusted proxy (KB_TRUSTED_PROXIES): the header is walked from the right, skipping
 * trusted proxies, and the first address that is not one is the client (nginx's
 * `real_ip_recursive on`). Entries left of it were written by the client and could be anything,
 * so they are never used; without trusted proxies the header is ignored entirely.
 */
import net from "node:net";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./env.ts";

/** The address when the request came without a socket (app.request in tests). */
export const UNKNOWN_ADDRESS = "unknown";

/** `::ffff:1.2.3.4` (an IPv4 client of a dual-stack socket) → `1.2.3.4`, so one client has one key. */
function normalize(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address.toLowerCase();
}

/** One X-Forwarded-For entry as an address: bare, or with a port some proxies append; else null. */
function parseForwarded(entry: string): string | null {
  const e = entry.trim();
  if (net.isIP(e)) return normalize(e);
  const v4port = /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(e);
  if (v4port && net.isIP(v4port[1]!)) return v4port[1]!;
  const v6bracket = /^\[([0-9a-f:.]+)\](?::\d+)?$/i.exec(e);
  if (v6bracket && net.isIP(v6bracket[1]!)) return normalize(v6bracket[1]!);
  return null;
}

export class ClientAddressResolver {
  private readonly trusted = new net.BlockList();
  private readonly any: boolean;

  /** `proxies`: IPs and CIDR subnets, as validated by the configuration. */
  constructor(proxies: readonly string[]) {
    for (const entry of proxies) {
      const [ip, prefix] = entry.split("/");
      const type = net.isIP(ip!) === 4 ? "ipv4" : "ipv6";
      if (prefix === undefined) this.trusted.addAddress(ip!, type);
      else this.trusted.addSubnet(ip!, Number(prefix), type);
    }
    this.any = proxies.length > 0;
  }

  isTrusted(address: string): boolean {
    const family = net.isIP(address);
    return family !== 0 && this.trusted.check(address, family === 4 ? "ipv4" : "ipv6");
  }

  resolve(peer: string | undefined, forwardedFor: string | undefined): string {
    if (!peer) return UNKNOWN_ADDRESS;
    let client = normalize(peer);
    if (!this.any || !forwardedFor || !this.isTrusted(client)) return client;
    const hops = forwardedFor.split(",");
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = parseForwarded(hops[i]!);
      // A malformed entry ends the walk: nothing left of it can be attributed to a trusted hop.
      if (hop === null) break;
      client = hop;
      if (!this.isTrusted(hop)) break;
    }
    return client;
  }
}

/**
 * Sets `clientAddress` for every request, and `forwardedHttps`: the peer is a trusted proxy and
 * its X-Forwarded-Proto's first entry (the client-facing hop) is https. From anyone else the
 * header is ignored.
 */
export function clientAddress(resolver: ClientAddressResolver): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    // @hono/node-server passes the Node request as the env binding; absent under app.request().
    const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
    const peer = incoming?.socket?.remoteAddress;
    c.set("clientAddress", resolver.resolve(peer, c.req.header("x-forwarded-for")));
    const proto = c.req.header("x-forwarded-proto")?.split(",")[0]?.trim().toLowerCase();
    c.set("forwardedHttps", proto === "https" && peer !== undefined && resolver.isTrusted(normalize(peer)));
    await next();
  };
}
