/**
 * Per-market trade statistics kept in raw engine units (ticks, lots), never strings: a ring of recent
 * trades, candles per interval, and the rolling 24-hour window of the ticker. Each trade costs O(1)
 * (amortized) and no allocation once the rings are full; strings are made only by queries.
 */
import { add, type Int, sub } from "../engine/int.js";
import { tickerWindowMinutes } from "./marketdata-limits.js";

const minuteMs = 60_000;

/** The most recent trades of a market, newest at `head`, in parallel arrays (grown up to capacity). */
export class TradeRing {
  readonly ids: number[] = [];
  readonly prices: number[] = [];
  readonly quantities: number[] = [];
  /** 1: the taker bought, 0: it sold. */
  readonly takerBuys: number[] = [];
  readonly times: number[] = [];
  size = 0;
  head = -1;

  constructor(readonly capacity: number) {}

  push(id: number, price: number, quantity: number, takerBuy: boolean, time: number): void {
    if (this.size < this.capacity) {
      this.ids.push(id);
      this.prices.push(price);
      this.quantities.push(quantity);
      this.takerBuys.push(takerBuy ? 1 : 0);
      this.times.push(time);
      this.head = this.size++;
      return;
    }
    const i = (this.head + 1) % this.capacity;
    this.ids[i] = id;
    this.prices[i] = price;
    this.quantities[i] = quantity;
    this.takerBuys[i] = takerBuy ? 1 : 0;
    this.times[i] = time;
    this.head = i;
  }

  /** Index of the k-th newest trade (k = 0: newest), k < size. */
  index(k: number): number {
    const i = this.head - k;
    return i >= 0 ? i : i + this.capacity;
  }
}

export type CandleInterval = "1m" | "5m" | "1h" | "1d";

export const candleIntervals: readonly CandleInterval[] = ["1m", "5m", "1h", "1d"];

export const candleIntervalMs: Readonly<Record<CandleInterval, number>> = {
  "1m": 60_000,
  "5m": 300_000,
  "1h": 3_600_000,
  "1d": 86_400_000,
};

/**
 * Candles of one interval: buckets aligned on multiples of the interval since the epoch (UTC), one
 * candle per bucket that had a trade (buckets without trades have no candle), oldest dropped past
 * capacity. Prices in ticks, volume in lots.
 */
export class CandleSeries {
  readonly starts: number[] = [];
  readonly opens: number[] = [];
  readonly highs: number[] = [];
  readonly lows: number[] = [];
  readonly closes: number[] = [];
  readonly volumes: Int[] = [];
  size = 0;
  head = -1;

  constructor(
    readonly intervalMs: number,
    readonly capacity: number,
  ) {}

  add(time: number, price: number, quantity: number): void {
    let start = time - (time % this.intervalMs);
    if (this.size > 0) {
      const h = this.head;
      const current = this.starts[h]!;
      if (start <= current) {
        // Same bucket (or, never in sequence order, an earlier time: counted in the current bucket).
        start = current;
        if (price > this.highs[h]!) this.highs[h] = price;
        if (price < this.lows[h]!) this.lows[h] = price;
        this.closes[h] = price;
        this.volumes[h] = add(this.volumes[h]!, quantity);
        return;
      }
    }
    let i: number;
    if (this.size < this.capacity) {
      i = this.size++;
      this.starts.push(start);
      this.opens.push(price);
      this.highs.push(price);
      this.lows.push(price);
      this.closes.push(price);
      this.volumes.push(quantity);
    } else {
      i = (this.head + 1) % this.capacity;
      this.starts[i] = start;
      this.opens[i] = price;
      this.highs[i] = price;
      this.lows[i] = price;
      this.closes[i] = price;
      this.volumes[i] = quantity;
    }
    this.head = i;
  }

  /** Index of the k-th newest candle (k = 0: newest), k < size. */
  index(k: number): number {
    const i = this.head - k;
    return i >= 0 ? i : i + this.capacity;
  }
}

/**
 * The ticker's rolling 24 hours: one bucket per minute (a ring of `tickerWindowMinutes`), a running
 * volume sum, and monotonic deques of per-minute highs and lows, so that a trade and a query are O(1)
 * amortized. At minute m (floor(time / 60,000)) the window holds the minutes m − 1439 … m: the trades
 * of the last 24 hours, to the minute.
 */
export class Rolling24h {
  private readonly slotMinute = new Float64Array(tickerWindowMinutes).fill(-1);
  private readonly slotVolume: Int[] = new Array<Int>(tickerWindowMinutes).fill(0);
  /** Lots traded in the window. */
  volume: Int = 0;
  private readonly hiMinute = new Float64Array(tickerWindowMinutes);
  private readonly hiValue = new Float64Array(tickerWindowMinutes);
  private hiHead = 0;
  private hiLength = 0;
  private readonly loMinute = new Float64Array(tickerWindowMinutes);
  private readonly loValue = new Float64Array(tickerWindowMinutes);
  private loHead = 0;
  private loLength = 0;
  /** The newest minute the window was moved to. */
  private minute = Number.NEGATIVE_INFINITY;

  /** Moves the window to end at the minute of `time` (never backwards). */
  advance(time: number): void {
    const m = Math.floor(time / minuteMs);
    if (m <= this.minute) return;
    const previous = this.minute;
    this.minute = m;
    const oldest = m - tickerWindowMinutes + 1;
    if (m - previous >= tickerWindowMinutes) {
      // The whole window left (a first trade, or a day or more without one).
      this.slotMinute.fill(-1);
      this.slotVolume.fill(0);
      this.volume = 0;
    } else {
      // Minutes that leave the window: (previous − 1439) … (oldest − 1), fewer than one ring's worth.
      for (let x = previous - tickerWindowMinutes + 1; x < oldest; x++) {
        const slot = x % tickerWindowMinutes;
        if (this.slotMinute[slot] === x) {
          this.volume = sub(this.volume, this.slotVolume[slot]!);
          this.slotVolume[slot] = 0;
          this.slotMinute[slot] = -1;
        }
      }
    }
    while (this.hiLength > 0 && this.hiMinute[this.hiHead]! < oldest) {
      this.hiHead = (this.hiHead + 1) % tickerWindowMinutes;
      this.hiLength--;
    }
    while (this.loLength > 0 && this.loMinute[this.loHead]! < oldest) {
      this.loHead = (this.loHead + 1) % tickerWindowMinutes;
      this.loLength--;
    }
  }

  add(time: number, price: number, quantity: number): void {
    this.advance(time);
    const m = this.minute; // a time before the window's minute (never in sequence order) counts in it
    const slot = m % tickerWindowMinutes;
    if (this.slotMinute[slot] !== m) {
      this.slotMinute[slot] = m;
      this.slotVolume[slot] = 0;
    }
    this.slotVolume[slot] = add(this.slotVolume[slot]!, quantity);
    this.volume = add(this.volume, quantity);

    // Highs: minutes with strictly decreasing highs from front to back.
    const n = tickerWindowMinutes;
    while (this.hiLength > 0) {
      const back = (this.hiHead + this.hiLength - 1) % n;
      if (this.hiValue[back]! > price) break;
      this.hiLength--;
    }
    const hiBack = (this.hiHead + this.hiLength - 1) % n;
    if (this.hiLength === 0 || this.hiMinute[hiBack] !== m) {
      const i = (this.hiHead + this.hiLength) % n;
      this.hiMinute[i] = m;
      this.hiValue[i] = price;
      this.hiLength++;
    }
    // Lows: strictly increasing from front to back.
    while (this.loLength > 0) {
      const back = (this.loHead + this.loLength - 1) % n;
      if (this.loValue[back]! < price) break;
      this.loLength--;
    }
    const loBack = (this.loHead + this.loLength - 1) % n;
    if (this.loLength === 0 || this.loMinute[loBack] !== m) {
      const i = (this.loHead + this.loLength) % n;
      this.loMinute[i] = m;
      this.loValue[i] = price;
      this.loLength++;
    }
  }

  /** Highest price (ticks) in the window, 0 when it holds no trade. Call advance() first. */
  high(): number {
    return this.hiLength > 0 ? this.hiValue[this.hiHead]! : 0;
  }

  /** Lowest price (ticks) in the window, 0 when it holds no trade. Call advance() first. */
  low(): number {
    return this.loLength > 0 ? this.loValue[this.loHead]! : 0;
  }
}
