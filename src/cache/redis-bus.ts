/**
 * The Redis `MarketDataBus` (docs/cache-bus.md): ONE stream `{namespace}:md` (braces included: a hash
 * tag, as the cache's keys) whose entry ids are the
 * batch seqs, `<seq>-0`, so that
 *
 *   - a subscriber resumes after an outage from the last seq it saw (XREAD from `<seq>-0`);
 *   - a snapshot rendered at seq S joins the stream right after S (subscribe from S).
 *
 * Entry: `XADD {ns}:md MAXLEN ~ busStreamEntriesMax <seq>-0 d <updates JSON> p <prev> i <incarnation>`
 * where `p` is the seq of the batch this publisher was given before (published or dropped; -1 for its
 * first) and `i` a random id of the publishing bus instance. A subscriber that reads entry E after seq L
 * knows it missed something when E.p > L (a batch the publisher dropped, or the stream trimmed entries
 * it had not read yet) or when E.i changes (another publisher incarnation: an engine restart, whose book
 * sequences jump anyway). It then calls `onGap` and goes on; the replica resyncs from snapshots.
 *
 * Publishing is fire and forget on one connection (node-redis pipelines the XADDs, so they reach the
 * server in publish order): at most cacheLimits.busPendingBatchesMax XADDs in flight; beyond that, or
 * while disconnected, a batch is dropped and counted. Nothing special marks the next successful one:
 * subscribers see the gap through `p` (and through the book sequences).
 *
 * An XADD refused because its id is not above the stream's top ("equal or smaller than the target
 * stream top item") means the stream was left by an older incarnation with larger seqs (a fresh data
 * directory, a failover that lost the tail). The bus then logs it (once), DELs the stream, and adds the
 * refused batch and every batch given meanwhile again, in seq order. Subscribers notice the reset (their
 * next read finds a top below what they saw, or another incarnation) and resync. Two live publishers on
 * one namespace would keep resetting each other: one engine (leader) per namespace.
 *
 * Each subscription has a connection of its own: XREAD COUNT busReadCountMax BLOCK 1000 from the last id
 * seen. When the connection drops it retries with a capped backoff while the client reconnects in the
 * background, resumes from the last id and calls `onGap(lastSeq)` first (the publisher may have dropped
 * batches while Redis was unreachable, and a Redis restarted empty lost the stream).
 */
import { randomBytes } from "node:crypto";
import { cacheLimits } from "../limits.js";
import type { BusBatch, BusStats, BusSubscriber, BusSubscription, MarketDataBus } from "./bus.js";
import {
  type CacheRedisClient,
  newCacheClient,
  parseRedisCacheUrl,
  type RedisCacheLocation,
} from "./redis-connection.js";

export interface RedisBusOptions {
  /** Entries kept in the stream (approximate trim). */
  streamEntriesMax?: number;
  /** XADDs in flight before batches are dropped. */
  pendingBatchesMax?: number;
  /** Entries one XREAD returns at most. */
  readCountMax?: number;
  /** How long one XREAD waits for new entries. */
  blockMs?: number;
  log?: (message: string) => void;
  /** Client name prefix (CLIENT LIST). */
  clientName?: string;
}

interface Entry {
  seq: number;
  prev: number;
  data: string;
}

export interface RedisBusStats extends BusStats {
  /** Times the stream was deleted because an older incarnation left larger ids. */
  resets: number;
  /** XADDs in flight. */
  pending: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const topError = /equal or smaller than the target stream top item/i;

/** `{ns}:md`: the braces are a hash tag, the stream shares the cache keys' slot on Redis Cluster. */
export function busStreamKey(namespace: string): string {
  return `{${namespace}}:md`;
}

export class RedisMarketDataBus implements MarketDataBus {
  readonly backend = "redis";
  readonly key: string;
  readonly location: RedisCacheLocation;
  readonly stats: RedisBusStats = { published: 0, dropped: 0, delivered: 0, gaps: 0, resets: 0, pending: 0 };
  /** Increments each time the publishing connection becomes ready (a reconnect bumps it). */
  connectionEpoch = 0;
  readonly incarnation = randomBytes(6).toString("hex");
  readonly streamEntriesMax: number;
  readonly pendingBatchesMax: number;
  readonly readCountMax: number;
  readonly blockMs: number;
  private readonly client: CacheRedisClient;
  private readonly log: (message: string) => void;
  private readonly clientName: string;
  private prevSeq = -1;
  /** Seq of the newest batch the server took from this publisher. */
  private addedSeq = -1;
  /** Batches waiting for a stream reset (DEL) to finish; null when none is under way. */
  private resetQueue: Entry[] | null = null;
  private resetLogged = false;
  private closed = false;
  private readonly subscriptions = new Set<RedisSubscription>();

  constructor(location: RedisCacheLocation | string, options: RedisBusOptions = {}) {
    this.location = typeof location === "string" ? parseRedisCacheUrl(location) : location;
    this.key = busStreamKey(this.location.namespace);
    this.streamEntriesMax = options.streamEntriesMax ?? cacheLimits.busStreamEntriesMax;
    this.pendingBatchesMax = options.pendingBatchesMax ?? cacheLimits.busPendingBatchesMax;
    this.readCountMax = options.readCountMax ?? cacheLimits.busReadCountMax;
    this.blockMs = options.blockMs ?? 1_000;
    this.log = options.log ?? ((m) => console.error(m));
    this.clientName = options.clientName ?? "bourse-bus";
    this.client = newCacheClient(this.location, `${this.clientName}-pub`);
    this.client.on("ready", () => {
      this.connectionEpoch++;
    });
    this.client.connect().catch(() => {});
  }

  get healthy(): boolean {
    return !this.closed && this.client.isReady;
  }

  /** Resolves once the publishing connection is up (or after timeoutMs, whichever first). */
  async ready(timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.client.isReady && !this.closed && Date.now() < deadline) await sleep(10);
    return this.client.isReady;
  }

  publish(batch: BusBatch): void {
    const entry: Entry = { seq: batch.seq, prev: this.prevSeq, data: "" };
    this.prevSeq = batch.seq;
    if (this.closed || this.stats.pending >= this.pendingBatchesMax) {
      this.stats.dropped++;
      return;
    }
    if (this.resetQueue === null && !this.client.isReady) {
      this.stats.dropped++;
      return;
    }
    try {
      entry.data = JSON.stringify(batch.updates);
    } catch {
      this.stats.dropped++;
      return;
    }
    if (this.resetQueue !== null) {
      this.stats.pending++;
      this.resetQueue.push(entry);
      return;
    }
    this.send(entry);
  }

  private send(entry: Entry): void {
    this.stats.pending++;
    const args = [
      "XADD",
      this.key,
      "MAXLEN",
      "~",
      String(this.streamEntriesMax),
      `${entry.seq}-0`,
      "d",
      entry.data,
      "p",
      String(entry.prev),
      "i",
      this.incarnation,
    ];
    let sent: Promise<unknown>;
    try {
      sent = this.client.sendCommand(args);
    } catch {
      this.stats.pending--;
      this.stats.dropped++;
      return;
    }
    sent.then(
      () => {
        this.stats.pending--;
        this.stats.published++;
        if (entry.seq > this.addedSeq) this.addedSeq = entry.seq;
      },
      (error: unknown) => {
        this.stats.pending--;
        if (topError.test((error as Error)?.message ?? "") && entry.seq > this.addedSeq && !this.closed) {
          this.reset(entry);
        } else this.stats.dropped++;
      },
    );
  }

  /** The stream's top is above our seqs: an older incarnation left it. DEL it and add again in order. */
  private reset(entry: Entry): void {
    this.stats.pending++;
    if (this.resetQueue !== null) {
      this.resetQueue.push(entry);
      return;
    }
    this.resetQueue = [entry];
    this.stats.resets++;
    if (!this.resetLogged) {
      this.resetLogged = true;
      this.log(
        `market-data bus: ${this.key} on ${this.location.redacted} holds seqs above ${entry.seq} ` +
          "(left by an older incarnation): deleting it; subscribers resync",
      );
    }
    const drain = (ok: boolean): void => {
      const queue = this.resetQueue ?? [];
      this.resetQueue = null;
      this.stats.pending -= queue.length;
      queue.sort((a, b) => a.seq - b.seq);
      for (const e of queue) {
        if (ok && !this.closed && this.client.isReady && this.stats.pending < this.pendingBatchesMax)
          this.send(e);
        else this.stats.dropped++;
      }
    };
    let deleted: Promise<unknown>;
    try {
      deleted = this.client.sendCommand(["DEL", this.key]);
    } catch {
      drain(false);
      return;
    }
    deleted.then(
      () => drain(true),
      () => drain(false),
    );
  }

  subscribe(fromSeq: number, subscriber: BusSubscriber): BusSubscription {
    const s = new RedisSubscription(this, fromSeq, subscriber, this.blockMs, this.readCountMax);
    if (this.closed) s.close();
    else {
      this.subscriptions.add(s);
      void s.run();
    }
    return s;
  }

  /** @internal */
  newSubscriberClient(): CacheRedisClient {
    return newCacheClient(this.location, `${this.clientName}-sub`);
  }

  /** @internal */
  forget(s: RedisSubscription): void {
    this.subscriptions.delete(s);
  }

  /** Waits (up to 2 s) for the XADDs in flight, then disconnects everything. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of [...this.subscriptions]) s.close();
    const deadline = Date.now() + 2_000;
    while (this.stats.pending > 0 && this.client.isReady && Date.now() < deadline) await sleep(5);
    this.client.destroy();
  }
}

type RawEntry = [string, string[]];

function entriesOf(reply: unknown): RawEntry[] {
  if (reply === null || reply === undefined) return [];
  const streams = Array.isArray(reply)
    ? (reply as [string, RawEntry[]][])
    : Object.entries(reply as Record<string, RawEntry[]>);
  const out: RawEntry[] = [];
  for (const [, list] of streams) for (const e of list) out.push(e);
  return out;
}

function seqOf(id: string): number {
  const dash = id.indexOf("-");
  return Number(dash < 0 ? id : id.slice(0, dash));
}

class RedisSubscription implements BusSubscription {
  private open = true;
  private readonly client: CacheRedisClient;
  /** Seq of the last entry delivered (or the subscription's starting point). */
  private lastSeq: number;
  private lastId: string;
  /** Incarnation of the last entry delivered; null: not known (the next entry is not checked against it). */
  private incarnation: string | null = null;
  /** The next entry starts afresh: no check of its `p` (the subscriber was just told about a gap). */
  private unchecked = false;

  constructor(
    private readonly bus: RedisMarketDataBus,
    fromSeq: number,
    private readonly subscriber: BusSubscriber,
    private readonly blockMs: number,
    private readonly count: number,
  ) {
    this.lastSeq = fromSeq;
    this.lastId = fromSeq >= 0 ? `${fromSeq}-0` : "";
    this.client = bus.newSubscriberClient();
    this.client.connect().catch(() => {});
  }

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.bus.forget(this);
    this.client.destroy();
  }

  async run(): Promise<void> {
    let everReady = false;
    let lost = false;
    let failures = 0;
    while (this.open) {
      if (!this.client.isReady) {
        if (everReady) lost = true;
        await sleep(Math.min(20 * 2 ** failures, 500));
        failures = Math.min(failures + 1, 10);
        continue;
      }
      if (lost) {
        // Connected again: tell the subscriber now, not after the first read's BLOCK.
        lost = false;
        this.gap();
      }
      try {
        if (this.lastId === "") {
          // Only new batches: start after the stream's current top.
          const top = (await this.client.sendCommand(["XREVRANGE", this.bus.key, "+", "-", "COUNT", "1"])) as
            | RawEntry[]
            | null;
          const id = top?.[0]?.[0];
          this.lastId = id ?? "0-0";
          this.lastSeq = id === undefined ? -1 : seqOf(id);
          this.unchecked = true;
        }
        const reply = await this.client.sendCommand([
          "XREAD",
          "COUNT",
          String(this.count),
          "BLOCK",
          String(this.blockMs),
          "STREAMS",
          this.bus.key,
          this.lastId,
        ]);
        everReady = true;
        failures = 0;
        if (!this.open) return;
        const entries = entriesOf(reply);
        if (entries.length === 0) await this.checkReset();
        else this.deliver(entries);
      } catch {
        if (!this.open) return;
        if (everReady) lost = true;
        await sleep(Math.min(20 * 2 ** failures, 1_000));
        failures = Math.min(failures + 1, 10);
      }
    }
  }

  private gap(): void {
    this.bus.stats.gaps++;
    this.unchecked = true;
    this.incarnation = null;
    try {
      this.subscriber.onGap(this.lastSeq);
    } catch {
      // The subscriber's problem; the bus goes on.
    }
  }

  private deliver(entries: RawEntry[]): void {
    for (const [id, fields] of entries) {
      if (!this.open) return;
      const seq = seqOf(id);
      let data = "[]";
      let prev = -1;
      let incarnation = "";
      for (let i = 0; i + 1 < fields.length; i += 2) {
        const name = fields[i];
        if (name === "d") data = fields[i + 1]!;
        else if (name === "p") prev = Number(fields[i + 1]);
        else if (name === "i") incarnation = fields[i + 1]!;
      }
      if (!this.unchecked) {
        const otherPublisher = this.incarnation !== null && incarnation !== this.incarnation;
        if (otherPublisher || prev > this.lastSeq) this.gap();
      }
      this.unchecked = false;
      this.lastSeq = seq;
      this.lastId = id;
      this.incarnation = incarnation;
      let batch: BusBatch;
      try {
        batch = { seq, updates: JSON.parse(data) as BusBatch["updates"] };
      } catch {
        this.gap();
        continue;
      }
      this.bus.stats.delivered++;
      try {
        this.subscriber.onBatch(batch);
      } catch {
        // As above: a subscriber's exception does not stop the subscription.
      }
    }
  }

  /** Nothing new for a while: was the stream reset below what we saw (a new incarnation's DEL)? */
  private async checkReset(): Promise<void> {
    if (this.lastSeq < 0) return;
    const top = (await this.client.sendCommand(["XREVRANGE", this.bus.key, "+", "-", "COUNT", "1"])) as
      | RawEntry[]
      | null;
    const id = top?.[0]?.[0];
    if (id === undefined || seqOf(id) >= this.lastSeq || !this.open) return;
    this.gap();
    this.lastId = "0-0";
    this.lastSeq = -1;
  }
}
