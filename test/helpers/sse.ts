/** Server-sent events read from a fetch response (tests of streamed answers). */
export interface SseEvent {
  event: string;
  data: any;
}

/** Reads SSE events from a fetch response as they arrive; `until` returning true stops reading (the body stays open). */
export async function readSse(res: Response, until: (e: SseEvent, all: SseEvent[]) => boolean = () => false): Promise<SseEvent[]> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const events: SseEvent[] = [];
  let buf = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return events;
    buf += decoder.decode(value, { stream: true });
    let i: number;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message";
      const data = block
        .split("\n")
        .filter((l) => l.startsWith("data: "))
        .map((l) => l.slice(6))
        .join("\n");
      const e = { event, data: data === "[DONE]" ? data : JSON.parse(data) };
      events.push(e);
      if (until(e, events)) {
        reader.releaseLock();
        return events;
      }
    }
  }
}
