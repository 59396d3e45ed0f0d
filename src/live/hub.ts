/**
 * The live hub: typed topics fanned out to dashboard WebSockets. `publish` never blocks and is
 * never awaited by the request path. Each client has a bounded queue: while its socket is
 * backed up, new messages queue and the OLDEST are dropped, so one slow browser cannot hold
 * memory or slow anyone else.
 */
export type Topic = "requests" | "metrics" | "events";
export const TOPICS: readonly Topic[] = ["requests", "metrics", "events"];

/** The part of Bun's ServerWebSocket the hub needs (tests pass a fake). */
export type LiveSocket = { send(data: string, compress?: boolean): number; getBufferedAmount(): number };

type Client = { socket: LiveSocket; topics: Set<Topic>; queue: string[]; dropped: number };

export class Hub {
  private clients = new Map<LiveSocket, Client>();
  readonly stats = { published: 0, dropped: 0 };

  constructor(
    private readonly options: { maxQueue: number; maxBufferedBytes: number } = { maxQueue: 500, maxBufferedBytes: 1 << 20 },
  ) {}

  add(socket: LiveSocket, topics: Iterable<Topic> = TOPICS): void {
    this.clients.set(socket, { socket, topics: new Set(topics), queue: [], dropped: 0 });
  }

  remove(socket: LiveSocket): void {
    this.clients.delete(socket);
  }

  subscribers(topic: Topic): number {
    let n = 0;
    for (const c of this.clients.values()) if (c.topics.has(topic)) n++;
    return n;
  }

  /** Serialises once and hands the message to every subscriber of `topic`. */
  publish(topic: Topic, data: unknown): void {
    if (!this.subscribers(topic)) return;
    const message = JSON.stringify({ topic, data });
    this.stats.published++;
    for (const client of this.clients.values()) {
      if (!client.topics.has(topic)) continue;
      if (client.queue.length === 0 && client.socket.getBufferedAmount() < this.options.maxBufferedBytes) {
        // send() returns -1 under backpressure (queued by Bun) and 0 when dropped: keep it ourselves then.
        if (client.socket.send(message, false) !== 0) continue;
      }
      client.queue.push(message);
      if (client.queue.length > this.options.maxQueue) {
        client.queue.shift();
        client.dropped++;
        this.stats.dropped++;
      }
    }
  }

  /** Called on the socket's `drain`: sends what queued up while it was backed up. */
  drain(socket: LiveSocket): void {
    const client = this.clients.get(socket);
    if (!client) return;
    while (client.queue.length && client.socket.getBufferedAmount() < this.options.maxBufferedBytes) {
      if (client.socket.send(client.queue[0]!, false) === 0) break;
      client.queue.shift();
    }
  }
}
