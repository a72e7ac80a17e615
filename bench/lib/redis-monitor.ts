/**
 * Exact Redis counts per request, the same way for every contestant: a `MONITOR` connection
 * records every command Redis executes while a contestant answers a sample of requests, one at a
 * time. The sample is bracketed by two `ECHO` markers sent after the previous request resolved, so
 * everything between them belongs to the sample's window. Other clients of a shared Redis show up
 * in the stream too: a command is the contestant's when it comes from a connection that, in the
 * window, touched a key or channel under the contestant's own prefix.
 *
 * Counted: round trips = commands sent by those connections (a MULTI…EXEC block is one; commands
 * a Lua script runs are not sent, so not counted); keys = arguments under the contestant's prefix
 * (MGET k1 k2 → 2, EVALSHA sha 2 k1 k2 … → 2; PUBLISH/SUBSCRIBE channels are not keys).
 */
import { Redis } from 'ioredis';

interface Line {
  readonly args: readonly string[];
  readonly source: string;
}

/** Totals of one sample. */
export interface RedisSample {
  readonly roundTrips: number;
  readonly keys: number;
  /** Round trips per command name (MULTI…EXEC counted as MULTI). */
  readonly byCommand: Readonly<Record<string, number>>;
}

const CHANNEL_COMMANDS = new Set(['PUBLISH', 'SPUBLISH', 'SUBSCRIBE', 'UNSUBSCRIBE', 'PSUBSCRIBE']);

/** A MONITOR connection and a control connection for the markers. */
export class RedisMonitor {
  readonly #monitorConnection: Redis;
  readonly #control: Redis;
  /** ioredis runs MONITOR on a connection of its own, which must be closed too. */
  #stream: Redis | undefined;
  #recording: Line[] | null = null;
  #waiting: { marker: string; resolve: () => void } | null = null;
  #markers = 0;

  private constructor(monitorConnection: Redis, control: Redis) {
    this.#monitorConnection = monitorConnection;
    this.#control = control;
  }

  /** Opens both connections and starts MONITOR. Rejects when Redis refuses MONITOR. */
  static async start(url: string): Promise<RedisMonitor> {
    const options = { lazyConnect: true, maxRetriesPerRequest: 1 };
    const monitorConnection = new Redis(url, options);
    const control = new Redis(url, options);
    for (const client of [monitorConnection, control]) client.on('error', () => {});
    await Promise.all([monitorConnection.connect(), control.connect()]);
    const self = new RedisMonitor(monitorConnection, control);
    const stream = await monitorConnection.monitor();
    self.#stream = stream;
    stream.on('error', () => {});
    stream.on('monitor', (_time: string, args: string[], source: string) => self.#onLine(args, source));
    return self;
  }

  #onLine(args: string[], source: string): void {
    if (this.#waiting && args[0]?.toUpperCase() === 'ECHO' && args[1] === this.#waiting.marker) {
      const { resolve } = this.#waiting;
      this.#waiting = null;
      resolve();
      return;
    }
    this.#recording?.push({ args, source });
  }

  /** Sends a marker and resolves once MONITOR has shown it: every command before it was seen. */
  async #mark(): Promise<void> {
    this.#markers += 1;
    const marker = `gci-bench-monitor-mark-${process.pid}-${this.#markers}`;
    const seen = new Promise<void>((resolve) => {
      this.#waiting = { marker, resolve };
    });
    await this.#control.echo(marker);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error('bench: MONITOR did not show the marker within 10 s')),
        10_000,
      );
    });
    try {
      await Promise.race([seen, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs `requests` (one at a time, inside) and counts the commands of connections using `prefix`. */
  async sample(prefix: string, requests: () => Promise<void>): Promise<RedisSample> {
    await this.#mark();
    this.#recording = [];
    await requests();
    await this.#mark();
    const lines = this.#recording;
    this.#recording = null;
    return count(lines, prefix);
  }

  async close(): Promise<void> {
    this.#stream?.disconnect();
    this.#monitorConnection.disconnect();
    this.#control.disconnect();
  }
}

function count(lines: readonly Line[], prefix: string): RedisSample {
  const ours = new Set<string>();
  for (const line of lines) {
    if (line.source !== 'lua' && line.args.slice(1).some((arg) => arg.startsWith(prefix)))
      ours.add(line.source);
  }
  let roundTrips = 0;
  let keys = 0;
  const byCommand: Record<string, number> = {};
  const inMulti = new Set<string>();
  for (const line of lines) {
    if (!ours.has(line.source)) continue;
    const command = line.args[0]?.toUpperCase() ?? '?';
    if (!CHANNEL_COMMANDS.has(command))
      keys += line.args.slice(1).filter((arg) => arg.startsWith(prefix)).length;
    if (command === 'MULTI') inMulti.add(line.source);
    if (command === 'EXEC' || command === 'DISCARD') {
      inMulti.delete(line.source);
      continue;
    }
    if (inMulti.has(line.source) && command !== 'MULTI') continue;
    roundTrips += 1;
    byCommand[command] = (byCommand[command] ?? 0) + 1;
  }
  return { roundTrips, keys, byCommand };
}
