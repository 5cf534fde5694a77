/**
 * One side of an order book: price levels in a sorted array with the best level LAST, plus a map
 * from price to level. Almost all activity is at or near the top of the book, so keeping the best
 * level at the end makes taking it (pop) and adding near it (a short splice) cheap, while lookups of
 * an existing level are one map probe. Each level holds its orders in a FIFO linked list.
 */
import { nil, type OrderStore } from "./order-store.js";

export class Level {
  /** Lots resting at this price. */
  total = 0;
  count = 0;
  /** Oldest and newest order slots, linked through OrderStore.prev/next. */
  head = nil;
  tail = nil;
  constructor(readonly price: number) {}
}

/** Levels per chunk before it splits: splices stay within a few cache lines' worth of pointers. */
const chunkLevelsMax = 256;

export class BookSide {
  /**
   * Price levels in sorted chunks, worst first, best LAST (in the last chunk): taking the best level
   * is a `pop`. A new level costs a binary search over chunks and a splice within one chunk of at
   * most `chunkLevelsMax` levels, so a deep book stays O(log n + chunk) per new level instead of
   * O(n) (a single sorted array measured 7.8 s for 50k levels added away from the best).
   *
   * Interior levels that empty out stay (count 0) until compaction: a price that was used is likely
   * to be used again soon, and reusing its level avoids a splice on the hot path. Empty levels at
   * the best end are popped at once, so `best()` is always a live level, and a compaction pass runs
   * when empties outnumber live levels (amortized O(1)).
   */
  readonly chunks: Level[][] = [];
  readonly byPrice = new Map<number, Level>();
  /** Levels holding at least one order (the bound priceLevelsPerSideMax counts these). */
  liveLevels = 0;
  /** Levels in the chunks, empty ones included. */
  private levelCount = 0;
  constructor(
    readonly isBid: boolean,
    private readonly store: OrderStore,
  ) {}

  best(): Level | null {
    const chunks = this.chunks;
    const n = chunks.length;
    if (n === 0) return null;
    const last = chunks[n - 1]!;
    return last[last.length - 1]!;
  }

  /** True when `a` is a better price than `b` on this side. */
  better(a: number, b: number): boolean {
    return this.isBid ? a > b : a < b;
  }

  /** Orders at `price` (0 when none). */
  countAt(price: number): number {
    const level = this.byPrice.get(price);
    return level === undefined ? 0 : level.count;
  }

  /** Live levels, best first, at most `depth`. */
  fromBest(depth = Number.POSITIVE_INFINITY): Level[] {
    const result: Level[] = [];
    const chunks = this.chunks;
    for (let c = chunks.length - 1; c >= 0 && result.length < depth; c--) {
      const chunk = chunks[c]!;
      for (let i = chunk.length - 1; i >= 0 && result.length < depth; i--) {
        if (chunk[i]!.count > 0) result.push(chunk[i]!);
      }
    }
    return result;
  }

  levelFor(price: number): Level {
    let level = this.byPrice.get(price);
    if (level === undefined) {
      level = new Level(price);
      this.byPrice.set(price, level);
      this.insertLevel(level);
    }
    return level;
  }

  private insertLevel(level: Level): void {
    const chunks = this.chunks;
    const price = level.price;
    this.levelCount++;
    const n = chunks.length;
    if (n === 0) {
      chunks.push([level]);
      return;
    }
    const lastChunk = chunks[n - 1]!;
    if (this.better(price, lastChunk[lastChunk.length - 1]!.price)) {
      // A new best level: the common case at the top of the book.
      lastChunk.push(level);
      if (lastChunk.length > chunkLevelsMax) this.split(n - 1);
      return;
    }
    // The first chunk whose best level is better than `price` holds its place.
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const chunk = chunks[mid]!;
      if (this.better(chunk[chunk.length - 1]!.price, price)) hi = mid;
      else lo = mid + 1;
    }
    const chunk = chunks[lo]!;
    chunk.splice(this.position(chunk, price), 0, level);
    if (chunk.length > chunkLevelsMax) this.split(lo);
  }

  private split(index: number): void {
    const chunk = this.chunks[index]!;
    const upper = chunk.splice(chunk.length >>> 1);
    this.chunks.splice(index + 1, 0, upper);
  }

  /** Index of the first level of `chunk` better than `price` (where a level at `price` goes). */
  private position(chunk: Level[], price: number): number {
    let lo = 0;
    let hi = chunk.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.better(chunk[mid]!.price, price)) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  append(slot: number): void {
    this.appendTo(this.levelFor(this.store.price[slot]!), slot);
  }

  /** Appends to a level already looked up (snapshot restore appends whole levels at once). */
  appendTo(level: Level, slot: number): void {
    const store = this.store;
    if (level.count === 0) this.liveLevels++;
    store.next[slot] = nil;
    store.prev[slot] = level.tail;
    if (level.tail === nil) level.head = slot;
    else store.next[level.tail] = slot;
    level.tail = slot;
    level.total += store.quantity[slot]! - store.filled[slot]!;
    level.count++;
    store.setResting(slot, true);
  }

  /** The level a resting order sits in. */
  levelOf(slot: number): Level {
    return this.byPrice.get(this.store.price[slot]!)!;
  }

  remove(slot: number): void {
    const store = this.store;
    const level = this.levelOf(slot);
    const prev = store.prev[slot]!;
    const next = store.next[slot]!;
    if (prev === nil) level.head = next;
    else store.next[prev] = next;
    if (next === nil) level.tail = prev;
    else store.prev[next] = prev;
    store.prev[slot] = nil;
    store.next[slot] = nil;
    store.setResting(slot, false);
    level.total -= store.quantity[slot]! - store.filled[slot]!;
    level.count--;
    if (level.count === 0) this.levelEmptied(level);
  }

  private levelEmptied(level: Level): void {
    this.liveLevels--;
    const chunks = this.chunks;
    if (this.best() === level) {
      // Keep the best end live: drop this level and any empties it uncovers.
      do {
        const last = chunks[chunks.length - 1]!;
        this.byPrice.delete(last.pop()!.price);
        this.levelCount--;
        if (last.length === 0) chunks.pop();
      } while (chunks.length > 0 && this.best()!.count === 0);
      return;
    }
    if (this.levelCount - this.liveLevels > this.liveLevels + 64) this.compact();
  }

  /** Drops every empty level and re-chunks: O(levels), run when empties outnumber live ones. */
  private compact(): void {
    const live: Level[] = [];
    for (const chunk of this.chunks) {
      for (const level of chunk) {
        if (level.count > 0) live.push(level);
        else this.byPrice.delete(level.price);
      }
    }
    this.chunks.length = 0;
    const half = chunkLevelsMax >>> 1;
    for (let i = 0; i < live.length; i += half) this.chunks.push(live.slice(i, i + half));
    this.levelCount = live.length;
  }
}
