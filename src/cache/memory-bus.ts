/**
 * The in-process `MarketDataBus` (the default, one process): `publish` hands the batch to every
 * subscriber synchronously, in publish order. Nothing is stored except a small ring of the newest
 * batches, so that a subscriber that read a snapshot at seq S (an await or two ago) can subscribe from
 * S and miss nothing published since. A subscriber asking for batches older than the ring gets
 * `onGap` first; no other gap can happen in-process.
 *
 * A subscriber's callbacks are never called from inside `subscribe` (the replay runs in a microtask,
 * and batches published meanwhile queue behind it), and an exception thrown by a subscriber is caught
 * and counted: publishing never fails.
 */
import type { BusBatch, BusStats, BusSubscriber, BusSubscription, MarketDataBus } from "./bus.js";

export interface MemoryBusOptions {
  /** Batches kept for late subscribers (subscribe from a recent seq). Default 1,024. */
  ringSize?: number;
  /** Where a subscriber's exception is reported (default: console.error). */
  log?: (message: string) => void;
}

class MemorySubscription implements BusSubscription {
  open = true;
  /** Batches waiting for the replay microtask; null once the subscriber is live. */
  queue: BusBatch[] | null = [];

  constructor(
    readonly bus: MemoryMarketDataBus,
    readonly subscriber: BusSubscriber,
  ) {}

  close(): void {
    if (!this.open) return;
    this.open = false;
    this.queue = null;
    this.bus.remove(this);
  }
}

export class MemoryMarketDataBus implements MarketDataBus {
  readonly backend = "memory";
  readonly stats: BusStats = { published: 0, dropped: 0, delivered: 0, gaps: 0 };
  /** Exceptions thrown by subscribers (caught). */
  subscriberErrors = 0;
  private readonly ring: BusBatch[] = [];
  private ringHead = 0;
  /** Seq of the newest batch that left the ring (-1: none did). */
  private evictedSeq = -1;
  private lastSeq = -1;
  private subscriptions: MemorySubscription[] = [];
  private closed = false;
  private readonly ringSize: number;
  private readonly log: (message: string) => void;

  constructor(options: MemoryBusOptions = {}) {
    this.ringSize = Math.max(1, options.ringSize ?? 1_024);
    this.log = options.log ?? ((m) => console.error(m));
  }

  get healthy(): boolean {
    return !this.closed;
  }

  publish(batch: BusBatch): void {
    if (this.closed) {
      this.stats.dropped++;
      return;
    }
    this.stats.published++;
    this.lastSeq = batch.seq;
    if (this.ring.length < this.ringSize) this.ring.push(batch);
    else {
      this.evictedSeq = this.ring[this.ringHead]!.seq;
      this.ring[this.ringHead] = batch;
      this.ringHead = (this.ringHead + 1) % this.ringSize;
    }
    for (const s of this.subscriptions) {
      if (s.queue !== null) s.queue.push(batch);
      else this.deliver(s, batch);
    }
  }

  subscribe(fromSeq: number, subscriber: BusSubscriber): BusSubscription {
    const s = new MemorySubscription(this, subscriber);
    if (this.closed) {
      s.open = false;
      return s;
    }
    this.subscriptions.push(s);
    const gap = fromSeq >= 0 && this.evictedSeq > fromSeq;
    if (fromSeq >= 0 && fromSeq < this.lastSeq) {
      for (let i = 0; i < this.ring.length; i++) {
        const b = this.ring[(this.ringHead + i) % this.ring.length]!;
        if (b.seq > fromSeq) s.queue!.push(b);
      }
    }
    queueMicrotask(() => {
      if (!s.open || s.queue === null) return;
      if (gap) {
        this.stats.gaps++;
        try {
          subscriber.onGap(fromSeq);
        } catch (error) {
          this.subscriberFailed(error);
        }
      }
      // Batches published by the subscriber's own callbacks join the queue while it drains.
      while (s.open && s.queue !== null && s.queue.length > 0) this.deliver(s, s.queue.shift()!);
      if (s.open) s.queue = null;
    });
    return s;
  }

  private deliver(s: MemorySubscription, batch: BusBatch): void {
    if (!s.open) return;
    this.stats.delivered++;
    try {
      s.subscriber.onBatch(batch);
    } catch (error) {
      this.subscriberFailed(error);
    }
  }

  private subscriberFailed(error: unknown): void {
    this.subscriberErrors++;
    this.log(`market-data bus: a subscriber threw: ${(error as Error)?.stack ?? String(error)}`);
  }

  /** @internal */
  remove(s: MemorySubscription): void {
    this.subscriptions = this.subscriptions.filter((x) => x !== s);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of [...this.subscriptions]) s.close();
  }
}
