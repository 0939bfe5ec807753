/**
 * An incremental Server-Sent Events parser: text in, in whatever pieces the network delivers
 * it, complete events out (the event name and its data lines joined by "\n").
 * Pure (no DOM or stream types), so the server-side tests can check it.
 */
export interface SseEvent {
  event: string;
  data: string;
}

export class SseParser {
  private buffer = "";

  /** Feeds a piece of the stream; returns the events it completed. */
  push(text: string): SseEvent[] {
    this.buffer += text;
    // Normalize line ends, keeping a trailing "\r" until we know whether "\n" follows it.
    const keepCr = this.buffer.endsWith("\r");
    let body = keepCr ? this.buffer.slice(0, -1) : this.buffer;
    body = body.replace(/\r\n?/g, "\n");
    const out: SseEvent[] = [];
    let end: number;
    while ((end = body.indexOf("\n\n")) >= 0) {
      const block = body.slice(0, end);
      body = body.slice(end + 2);
      const e = parseBlock(block);
      if (e) out.push(e);
    }
    this.buffer = body + (keepCr ? "\r" : "");
    return out;
  }

  /** The stream ended: the events still pending (a last one without its blank line). */
  end(): SseEvent[] {
    const rest = this.buffer.replace(/\r\n?/g, "\n");
    this.buffer = "";
    return rest
      .split("\n\n")
      .map(parseBlock)
      .filter((e): e is SseEvent => e !== null);
  }
}

function parseBlock(block: string): SseEvent | null {
  let event = "message";
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line === "" || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  return data.length ? { event, data: data.join("\n") } : null;
}
