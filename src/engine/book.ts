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

export class BookSide {
  /**
   * Best last: ascending prices for bids, descending for asks. Interior levels that empty out stay
   * (count 0) until compaction: a price that was used is likely to be used again soon, and reusing
   * its level avoids a splice on the hot path. Empty levels at the best end are popped at once, so
   * `best()` is always a live level, and a compaction pass runs when empties outnumber live levels.
   */
  readonly levels: Level[] = [];
  readonly byPrice = new Map<number, Level>();
  /** Levels holding at least one order (the bound priceLevelsPerSideMax counts these). */
  liveLevels = 0;
  constructor(
    readonly isBid: boolean,
    private readonly store: OrderStore,
  ) {}

  best(): Level | null {
    const n = this.levels.length;
    return n === 0 ? null : this.levels[n - 1]!;
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
    const levels = this.levels;
    const n = levels.length;
    if (n === 0 || this.better(level.price, levels[n - 1]!.price)) {
      levels.push(level);
      return;
    }
    levels.splice(this.position(level.price), 0, level);
  }

  /** Index of the first level better than `price` (where a level at `price` goes). */
  private position(price: number): number {
    const levels = this.levels;
    let lo = 0;
    let hi = levels.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.better(levels[mid]!.price, price)) hi = mid;
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
    const levels = this.levels;
    if (levels[levels.length - 1] === level) {
      // Keep the best end live: drop this level and any empties it uncovers.
      do {
        this.byPrice.delete(levels.pop()!.price);
      } while (levels.length > 0 && levels[levels.length - 1]!.count === 0);
      return;
    }
    if (levels.length - this.liveLevels > this.liveLevels + 64) this.compact();
  }

  /** Drops every empty level: O(levels), run when empties outnumber live ones, so amortized O(1). */
  private compact(): void {
    const levels = this.levels;
    let kept = 0;
    for (let i = 0; i < levels.length; i++) {
      const level = levels[i]!;
      if (level.count > 0) levels[kept++] = level;
      else this.byPrice.delete(level.price);
    }
    levels.length = kept;
  }
}
