/**
 * One side of an aggregated (L2) book: lots per price, levels in a sorted array with the best LAST
 * (as in the engine's book: activity is at the top, so adding or removing there is a push or a pop)
 * plus a map from price to level.
 *
 * Within a command a level may drop to 0 lots and stay in place; the end-of-command flush removes it.
 * That way a level emptied and refilled in the same command (a taker that rests, then trades) is one
 * object with one "before" value, and the update carries its net change only.
 */
import type { Int } from "../engine/int.js";

export class L2Level {
  price = 0;
  /** Lots at this price (exact: number while safe, bigint beyond). */
  total: Int = 0;
  /** `total` before the current command's first change; valid while stamp = the command's stamp. */
  before: Int = 0;
  stamp = -1;
}

export class L2Side {
  /** Best last: ascending prices for bids, descending for asks. */
  readonly levels: L2Level[] = [];
  readonly byPrice = new Map<number, L2Level>();
  /** Levels changed by the current command. */
  readonly changed: L2Level[] = [];
  private readonly pool: L2Level[] = [];

  constructor(readonly isBid: boolean) {}

  /** Best price in ticks, 0 when the side is empty. Valid between commands. */
  bestPrice(): number {
    const n = this.levels.length;
    return n === 0 ? 0 : this.levels[n - 1]!.price;
  }

  better(a: number, b: number): boolean {
    return this.isBid ? a > b : a < b;
  }

  levelFor(price: number): L2Level {
    let level = this.byPrice.get(price);
    if (level !== undefined) return level;
    level = this.pool.pop() ?? new L2Level();
    level.price = price;
    level.total = 0;
    level.before = 0;
    level.stamp = -1;
    this.byPrice.set(price, level);
    const levels = this.levels;
    const n = levels.length;
    if (n === 0 || this.better(price, levels[n - 1]!.price)) levels.push(level);
    else levels.splice(this.position(price), 0, level);
    return level;
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

  remove(level: L2Level): void {
    this.byPrice.delete(level.price);
    const levels = this.levels;
    const last = levels.length - 1;
    if (levels[last] === level) levels.pop();
    else levels.splice(this.position(level.price) - 1, 1);
    this.pool.push(level);
  }

  clear(): void {
    for (const level of this.levels) this.pool.push(level);
    this.levels.length = 0;
    this.byPrice.clear();
    this.changed.length = 0;
  }
}

/** Sorts changed levels best first. */
export function byPriceDescending(a: L2Level, b: L2Level): number {
  return b.price - a.price;
}

export function byPriceAscending(a: L2Level, b: L2Level): number {
  return a.price - b.price;
}
