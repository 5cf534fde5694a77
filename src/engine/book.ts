/**
 * One side of an order book: price levels in a sorted array with the best level LAST, plus a map
 * from price to level. Almost all activity is at or near the top of the book, so keeping the best
 * level at the end makes taking it (pop) and adding near it (a short splice) cheap, while lookups of
 * an existing level are one map probe. Each level holds its orders in a FIFO linked list.
 */
import type { Order } from "./order.js";

export class Level {
  /** Lots resting at this price. */
  total = 0;
  count = 0;
  head: Order | null = null;
  tail: Order | null = null;
  constructor(readonly price: number) {}
}

export class BookSide {
  /** Best last: ascending prices for bids, descending for asks. */
  readonly levels: Level[] = [];
  readonly byPrice = new Map<number, Level>();
  constructor(readonly isBid: boolean) {}

  best(): Level | null {
    const n = this.levels.length;
    return n === 0 ? null : this.levels[n - 1]!;
  }

  /** True when `a` is a better price than `b` on this side. */
  better(a: number, b: number): boolean {
    return this.isBid ? a > b : a < b;
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

  append(order: Order): void {
    const level = this.levelFor(order.price);
    order.level = level;
    order.next = null;
    order.prev = level.tail;
    if (level.tail === null) level.head = order;
    else level.tail.next = order;
    level.tail = order;
    level.total += order.quantity - order.filled;
    level.count++;
  }

  remove(order: Order): void {
    const level = order.level!;
    if (order.prev === null) level.head = order.next;
    else order.prev.next = order.next;
    if (order.next === null) level.tail = order.prev;
    else order.next.prev = order.prev;
    order.prev = null;
    order.next = null;
    order.level = null;
    level.total -= order.quantity - order.filled;
    level.count--;
    if (level.count === 0) this.removeLevel(level);
  }

  private removeLevel(level: Level): void {
    this.byPrice.delete(level.price);
    const levels = this.levels;
    const last = levels.length - 1;
    if (levels[last] === level) {
      levels.pop();
      return;
    }
    // position() finds the slot after the level's own price; the level sits just before it.
    levels.splice(this.position(level.price) - 1, 1);
  }
}
