/**
 * Cancellation over the stateless HTTP transport. Each POST to /mcp gets a server of its own
 * (any replica can answer any request), so a client's `notifications/cancelled` arrives in
 * another request than the call it cancels. The route hands it here: calls in flight are kept by
 * (API token, JSON-RPC request id), so a caller cancels only its own calls (keyed by token: two
 * clients sharing one token and a request id could cancel each other's). A cancellation that
 * reaches another replica than the call finds nothing and is ignored (the protocol lets a
 * receiver ignore one); a client that drops the connection stops the call on any replica.
 */
export class McpCancellations {
  private readonly inFlight = new Map<string, Set<AbortController>>();

  private static key(tokenId: string, requestId: string | number): string {
    return `${tokenId}\n${typeof requestId}:${requestId}`;
  }

  /** A call in flight for `tokenId`: its signal, and `done()` when it ends. */
  register(tokenId: string, requestId: string | number): { signal: AbortSignal; done(): void } {
    const key = McpCancellations.key(tokenId, requestId);
    const ac = new AbortController();
    let set = this.inFlight.get(key);
    if (!set) this.inFlight.set(key, (set = new Set()));
    set.add(ac);
    return {
      signal: ac.signal,
      done: () => {
        set.delete(ac);
        if (set.size === 0 && this.inFlight.get(key) === set) this.inFlight.delete(key);
      },
    };
  }

  /** Cancels `tokenId`'s calls with this request id; true when one was found. */
  cancel(tokenId: string, requestId: string | number, reason?: string): boolean {
    const set = this.inFlight.get(McpCancellations.key(tokenId, requestId));
    if (!set) return false;
    for (const ac of set) ac.abort(reason ?? "cancelled by the client");
    return true;
  }

  get size(): number {
    return this.inFlight.size;
  }
}
