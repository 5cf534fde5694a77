/**
 * The order book replica of the page, and the sequence rule that keeps it right (docs/marketdata.md,
 * "Client recovery"):
 *
 * - the WebSocket `book` subscription sends a snapshot with sequence S, then updates S+1, S+2, …;
 * - an update with a sequence ≤ the book's is stale and dropped; S+1 is applied;
 * - anything else is a gap: the book is "resyncing", updates are buffered, the snapshot is fetched
 *   again over REST (GET /v1/markets/{symbol}/book), buffered updates ≤ its sequence are dropped and the
 *   rest applied in order. A gap inside the buffer starts another resync (with a growing delay).
 *
 * Pure logic, no DOM: the rendering reads `bids`/`asks` once per animation frame. Levels are kept in
 * a Map by price plus an array of prices sorted best first (binary search; a book has at most a few
 * thousand levels), so one update costs O(log n) plus a splice only when a level appears or goes.
 */
import type { BookSnapshot, Level } from "./types.js";

export interface BookLevel {
  price: number;
  quantity: number;
  priceText: string;
  quantityText: string;
}

export class BookSide {
  /** Prices best first: descending for bids, ascending for asks. */
  readonly prices: number[] = [];
  readonly levels = new Map<number, BookLevel>();

  constructor(readonly isBid: boolean) {}

  get size(): number {
    return this.prices.length;
  }

  /** The level at `rank` (0 = best), or undefined. */
  at(rank: number): BookLevel | undefined {
    const price = this.prices[rank];
    return price === undefined ? undefined : this.levels.get(price);
  }

  clear(): void {
    this.prices.length = 0;
    this.levels.clear();
  }

  /** Index where `price` is or would be inserted, keeping best-first order. */
  private search(price: number): number {
    const prices = this.prices;
    let lo = 0;
    let hi = prices.length;
    if (this.isBid) {
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (prices[mid]! > price) lo = mid + 1;
        else hi = mid;
      }
    } else {
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (prices[mid]! < price) lo = mid + 1;
        else hi = mid;
      }
    }
    return lo;
  }

  /** Sets a level's total; a zero quantity removes it. */
  set(priceText: string, quantityText: string): void {
    const price = Number(priceText);
    const quantity = Number(quantityText);
    if (!Number.isFinite(price) || !Number.isFinite(quantity)) return;
    const existing = this.levels.get(price);
    if (quantity <= 0) {
      if (existing === undefined) return;
      this.levels.delete(price);
      const i = this.search(price);
      if (this.prices[i] === price) this.prices.splice(i, 1);
      return;
    }
    if (existing !== undefined) {
      existing.quantity = quantity;
      existing.quantityText = quantityText;
      return;
    }
    this.levels.set(price, { price, quantity, priceText, quantityText });
    this.prices.splice(this.search(price), 0, price);
  }

  load(levels: readonly Level[]): void {
    this.clear();
    for (const [p, q] of levels) this.set(p, q);
  }
}

export class OrderBook {
  readonly bids = new BookSide(true);
  readonly asks = new BookSide(false);
  sequence = -1;
  /** Bumped on every change, so that renderers know whether to draw. */
  version = 0;

  load(snapshot: BookSnapshot): void {
    this.bids.load(snapshot.bids);
    this.asks.load(snapshot.asks);
    this.sequence = snapshot.sequence;
    this.version++;
  }

  apply(update: BookSnapshot): void {
    for (const [p, q] of update.bids) this.bids.set(p, q);
    for (const [p, q] of update.asks) this.asks.set(p, q);
    this.sequence = update.sequence;
    this.version++;
  }

  clear(): void {
    this.bids.clear();
    this.asks.clear();
    this.sequence = -1;
    this.version++;
  }
}

export type SyncState = "waiting" | "live" | "resyncing";

export interface BookSyncOptions {
  /** GET /v1/markets/{symbol}/book. */
  fetchSnapshot(symbol: string): Promise<BookSnapshot>;
  onState?(state: SyncState): void;
  /** The book changed outside an update/snapshot call (a REST resync landed). */
  onChange?(): void;
  /** Updates kept while resyncing; past it the oldest are dropped (the next snapshot covers them). */
  bufferMax?: number;
  /** Delay before the first REST resync, then doubled up to retryMaxMs while gaps persist. */
  retryMinMs?: number;
  retryMaxMs?: number;
}

export class BookSync {
  readonly book = new OrderBook();
  symbol = "";
  state: SyncState = "waiting";
  /** Gaps seen and REST snapshots fetched (for the status line and tests). */
  gaps = 0;
  resyncs = 0;
  /** Updates applied since the page started. */
  applied = 0;
  private buffer: BookSnapshot[] = [];
  private generation = 0;
  private retryMs: number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly bufferMax: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;

  constructor(private readonly options: BookSyncOptions) {
    this.bufferMax = options.bufferMax ?? 10_000;
    this.retryMinMs = options.retryMinMs ?? 0;
    this.retryMaxMs = options.retryMaxMs ?? 2_000;
    this.retryMs = this.retryMinMs;
  }

  /** A new market, or a new connection: forget the book and wait for the subscription's snapshot. */
  reset(symbol: string): void {
    this.symbol = symbol;
    this.generation++;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.buffer = [];
    this.book.clear();
    this.retryMs = this.retryMinMs;
    this.setState("waiting");
  }

  /** The snapshot the WebSocket sends after `subscribe`. */
  snapshot(snapshot: BookSnapshot): void {
    if (snapshot.symbol !== this.symbol) return;
    this.generation++;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.book.load(snapshot);
    this.drain();
  }

  update(update: BookSnapshot): void {
    if (update.symbol !== this.symbol) return;
    if (this.state !== "live") {
      this.buffer.push(update);
      if (this.buffer.length > this.bufferMax) this.buffer.splice(0, this.buffer.length - this.bufferMax);
      return;
    }
    const expected = this.book.sequence + 1;
    if (update.sequence < expected) return;
    if (update.sequence === expected) {
      this.book.apply(update);
      this.applied++;
      this.retryMs = this.retryMinMs;
      return;
    }
    this.buffer.push(update);
    this.gap();
  }

  /** Applies buffered updates that follow the book; a hole starts a resync. */
  private drain(): void {
    const buffer = this.buffer;
    buffer.sort((a, b) => a.sequence - b.sequence);
    let i = 0;
    for (; i < buffer.length; i++) {
      const u = buffer[i]!;
      if (u.sequence <= this.book.sequence) continue;
      if (u.sequence !== this.book.sequence + 1) break;
      this.book.apply(u);
      this.applied++;
    }
    this.buffer = buffer.slice(i);
    if (this.buffer.length > 0) {
      this.gap();
      return;
    }
    this.setState("live");
  }

  private gap(): void {
    this.gaps++;
    this.setState("resyncing");
    if (this.timer !== undefined) return;
    const generation = ++this.generation;
    const symbol = this.symbol;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMaxMs, Math.max(100, this.retryMs * 2));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (generation !== this.generation) return;
      this.resyncs++;
      this.options.fetchSnapshot(symbol).then(
        (snapshot) => {
          if (generation !== this.generation || snapshot.symbol !== this.symbol) return;
          this.book.load(snapshot);
          this.drain();
          this.options.onChange?.();
        },
        () => {
          if (generation !== this.generation) return;
          // The server is unreachable: try again (the socket's reconnect may also reset us first).
          this.gap();
        },
      );
    }, delay);
  }

  private setState(state: SyncState): void {
    if (this.state === state) return;
    this.state = state;
    this.options.onState?.(state);
  }
}
