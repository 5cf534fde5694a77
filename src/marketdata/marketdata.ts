/**
 * Market data derived from the engine's events: L2 books with sequence numbers, recent trades,
 * tickers, candles, and the per-account order and balance messages. Pure and deterministic: no I/O,
 * no clock, no timers; time comes from the events. docs/marketdata.md describes every derivation.
 *
 * The API layer feeds `apply` with every durable command's events, in sequence order, whole commands
 * at a time, and publishes what it returns; the queries answer REST and WebSocket snapshots.
 */
import type { Market, SettledConfig } from "../engine/config.js";
import { add, type Int, sub } from "../engine/int.js";
import type {
  BalanceEvent,
  EngineEvent,
  OrderEvent,
  OrderStatus,
  Side,
  TradeEvent,
} from "../engine/types.js";
import { byPriceAscending, byPriceDescending, L2Side } from "./l2.js";
import { checkMarketDataLimits, type MarketDataLimits, marketDataLimits } from "./marketdata-limits.js";
import {
  type CandleInterval,
  CandleSeries,
  candleIntervalMs,
  candleIntervals,
  Rolling24h,
  TradeRing,
} from "./stats.js";
import {
  type BalanceView,
  type FillView,
  type MarketFormat,
  type OrderView,
  type TradeView,
  Views,
} from "./views.js";

export type { CandleInterval } from "./stats.js";

/** One price level: [price, quantity] as decimal strings. */
export type LevelView = [price: string, quantity: string];

/** GET /v1/markets/{symbol}/book. */
export interface BookView {
  symbol: string;
  sequence: number;
  bids: LevelView[];
  asks: LevelView[];
}

/** The book in engine units: [priceTicks, lots] best first. */
export interface RawBook {
  sequence: number;
  bids: [number, Int][];
  asks: [number, Int][];
}

/** GET /v1/markets/{symbol}/ticker. null: not known (see docs/marketdata.md). */
export interface TickerView {
  symbol: string;
  last: string | null;
  bestBid: string | null;
  bestAsk: string | null;
  volume24h: string;
  high24h: string | null;
  low24h: string | null;
  time: number | null;
}

export interface CandleView {
  time: number;
  open: string;
  high: string;
  low: string;
  close: string;
  volume: string;
}

/**
 * L2 increment: the levels one command changed, best first, with their new total quantity, or exactly
 * "0" for a removed level; sequence +1 from the previous update of the market.
 */
export interface BookUpdate {
  channel: "book";
  symbol: string;
  sequence: number;
  bids: LevelView[];
  asks: LevelView[];
}

/** The trades of one market in one command, in execution order. */
export interface TradesUpdate {
  channel: "trades";
  symbol: string;
  trades: TradeView[];
}

export interface TickerUpdate extends TickerView {
  channel: "ticker";
}

/** An order's state after a command, with the fills that command gave it. Route by accountId. */
export interface OrderUpdate {
  channel: "orders";
  accountId: number;
  order: OrderView;
}

/** A balance after a command that changed it. Route by accountId. */
export interface BalanceUpdate {
  channel: "balances";
  accountId: number;
  balance: BalanceView;
}

export type MarketDataUpdate = BookUpdate | TradesUpdate | TickerUpdate | OrderUpdate | BalanceUpdate;

/** What `init` needs of an order the engine holds (engine.openOrders() and engine.dump().orders fit). */
export interface SeedOrder {
  orderId: number;
  symbol: string;
  side: Side;
  price: number;
  quantity: number;
  filledQuantity: number;
  status: OrderStatus;
}

/** What `restoreTrades` needs of a past trade (a TradeEvent fits; so does a history record). */
export interface TradeRecord {
  tradeId: number;
  symbol: string;
  price: number;
  quantity: number;
  takerSide: Side;
  time: number;
}

export interface MarketDataOptions {
  /** Overrides of marketDataLimits (tests use small rings). */
  limits?: Partial<MarketDataLimits>;
  /** Produce the per-account `orders` and `balances` messages (default true). */
  accountMessages?: boolean;
}

/** The account whose orders and balances produce no messages: the exchange's fee account. */
const feeAccountId = 0;

/** An order resting in the book: its contribution to its level. */
class Resting {
  isBid = false;
  price = 0;
  /** Lots resting: quantity − filledQuantity. */
  lots = 0;
}

/** An order the current command changed, for its `orders` message. */
class PendingOrder {
  orderId = 0;
  event: OrderEvent | null = null;
  readonly trades: TradeEvent[] = [];
}

class MarketBook {
  readonly symbol: string;
  readonly bids = new L2Side(true);
  readonly asks = new L2Side(false);
  sequence = 0;
  /** Ticks of the last trade, 0 before any is known. */
  lastPrice = 0;
  /** Command stamp when first touched in the current command, and the top of book then. */
  stamp = -1;
  bestBidBefore = 0;
  bestAskBefore = 0;
  /** Trades of the current command. */
  readonly trades: TradeEvent[] = [];
  // Statistics, allocated on the first trade.
  ring: TradeRing | null = null;
  candles: CandleSeries[] | null = null;
  rolling: Rolling24h | null = null;

  constructor(
    readonly market: Market,
    readonly format: MarketFormat,
  ) {
    this.symbol = market.symbol;
  }
}

function byMarketIndex(a: MarketBook, b: MarketBook): number {
  return a.market.index - b.market.index;
}

function isRestingStatus(status: OrderStatus): boolean {
  return status === "open" || status === "partially_filled";
}

export class MarketData {
  readonly views: Views;
  readonly limits: MarketDataLimits;
  private readonly accountMessages: boolean;
  private readonly books: MarketBook[];
  private readonly bySymbol = new Map<string, MarketBook>();
  private readonly resting = new Map<number, Resting>();
  private readonly restingPool: Resting[] = [];
  /** The newest event time seen (or given to advanceTime); −1 before any. */
  private now = -1;

  // Scratch state of the command being applied.
  private stamp = 0;
  private commandSeq = Number.NaN;
  private commandTime = 0;
  private readonly touched: MarketBook[] = [];
  private readonly pendingById = new Map<number, PendingOrder>();
  private readonly pending: PendingOrder[] = [];
  private readonly pendingPool: PendingOrder[] = [];
  private readonly balances: BalanceEvent[] = [];

  constructor(config: SettledConfig, options: MarketDataOptions = {}) {
    this.views = new Views(config);
    this.limits = { ...marketDataLimits, ...options.limits };
    checkMarketDataLimits(this.limits);
    this.accountMessages = options.accountMessages ?? true;
    this.books = config.markets.map((m) => new MarketBook(m, this.views.market(m.symbol)!));
    for (const b of this.books) this.bySymbol.set(b.symbol, b);
  }

  // ───────────────────────────── start-up ─────────────────────────────

  /**
   * Starts from the engine's state after recovery: every order the engine holds (engine.openOrders()
   * or engine.dump().orders: open and partially filled ones rest in the book, untriggered stops do not),
   * the markets' last prices (engine.dump().markets), and `sequence`, where every market's book
   * sequence restarts.
   * Pass the journal sequence of the last applied command (engine.lastSeq): each book update follows
   * a distinct, later command, so a book sequence never exceeds the journal's and restarting there
   * never goes backwards. Replaces any book state held; trades, candles and tickers are kept.
   */
  init(
    sequence: number,
    orders: Iterable<SeedOrder>,
    markets: Iterable<{ symbol: string; lastPrice: number }> = [],
  ): void {
    for (const r of this.resting.values()) this.releaseResting(r);
    this.resting.clear();
    for (const b of this.books) {
      b.bids.clear();
      b.asks.clear();
      b.sequence = sequence;
      b.stamp = -1;
      b.trades.length = 0;
    }
    for (const o of orders) {
      if (!isRestingStatus(o.status)) continue;
      const book = this.bySymbol.get(o.symbol);
      if (book === undefined)
        throw new Error(`marketdata: init order ${o.orderId}: unknown symbol ${o.symbol}`);
      const lots = o.quantity - o.filledQuantity;
      if (lots <= 0) continue;
      const r = this.restingPool.pop() ?? new Resting();
      r.isBid = o.side === "buy";
      r.price = o.price;
      r.lots = lots;
      this.resting.set(o.orderId, r);
      const level = (r.isBid ? book.bids : book.asks).levelFor(o.price);
      level.total = add(level.total, lots);
    }
    for (const m of markets) {
      const book = this.bySymbol.get(m.symbol);
      if (book !== undefined && m.lastPrice !== 0) book.lastPrice = m.lastPrice;
    }
  }

  /**
   * Refills recent trades, candles and the 24-hour window from past trades (e.g. the history store
   * after a restart), oldest first. Produces no message. Call before applying newer commands.
   */
  restoreTrades(trades: Iterable<TradeRecord>): void {
    for (const t of trades) {
      const book = this.bySymbol.get(t.symbol);
      if (book === undefined) continue;
      if (t.time > this.now) this.now = t.time;
      this.record(book, t.tradeId, t.price, t.quantity, t.takerSide === "buy", t.time);
    }
  }

  /**
   * Exchange time moved on without events (a tick command, a quiet period): the 24-hour window of
   * ticker queries follows it. Times before the newest known one are ignored.
   */
  advanceTime(time: number): void {
    if (time > this.now) this.now = time;
  }

  // ───────────────────────────── the event stream ─────────────────────────────

  /**
   * Applies the events of one or more whole commands, in sequence order, and returns what to publish,
   * per command: for each market it changed (in configuration order) one `book` update if a level
   * changed (sequence +1), one `trades` message if it traded, one `ticker` if it traded or its best bid
   * or ask changed; then one `orders` message per order the command changed (final state, the
   * command's fills), in order of first appearance; then the `balances` messages, in event order.
   */
  apply(events: readonly EngineEvent[]): MarketDataUpdate[] {
    const out: MarketDataUpdate[] = [];
    const n = events.length;
    for (let i = 0; i < n; i++) {
      const e = events[i]!;
      if (e.seq !== this.commandSeq) {
        this.flush(out);
        this.commandSeq = e.seq;
        this.stamp++;
      }
      if (e.time > this.now) this.now = e.time;
      this.commandTime = e.time;
      switch (e.type) {
        case "order":
          this.onOrder(e);
          break;
        case "trade":
          this.onTrade(e);
          break;
        case "balance":
          if (this.accountMessages && e.accountId !== feeAccountId) this.balances.push(e);
          break;
        default:
          break;
      }
    }
    this.flush(out);
    this.commandSeq = Number.NaN;
    return out;
  }

  /**
   * An order's contribution to the book after its event: an order rests iff its status is open or
   * partially_filled and it is a limit or stop_limit order with GTC or GTD; it then rests with
   * quantity − filledQuantity lots at its price. Every other event state contributes nothing.
   * (A taker's `placed` or `amended` state rests provisionally: if it then trades or ends, its final
   * `order` event, later in the same command, corrects it before the command's update is made.)
   */
  private onOrder(e: OrderEvent): void {
    const book = this.bySymbol.get(e.symbol);
    if (book === undefined) return;
    const rests =
      isRestingStatus(e.status) &&
      (e.orderType === "limit" || e.orderType === "stop_limit") &&
      (e.timeInForce === "GTC" || e.timeInForce === "GTD");
    const lots = rests ? e.quantity - e.filledQuantity : 0;
    const r = this.resting.get(e.orderId);
    if (r !== undefined) {
      if (r.price !== e.price || r.lots !== lots) {
        this.changeLevel(book, r.isBid, r.price, -r.lots);
        if (lots > 0) {
          r.price = e.price;
          r.lots = lots;
          this.changeLevel(book, r.isBid, r.price, lots);
        } else {
          this.resting.delete(e.orderId);
          this.releaseResting(r);
        }
      }
    } else if (lots > 0) {
      const created = this.restingPool.pop() ?? new Resting();
      created.isBid = e.side === "buy";
      created.price = e.price;
      created.lots = lots;
      this.resting.set(e.orderId, created);
      this.changeLevel(book, created.isBid, e.price, lots);
    }
    if (this.accountMessages && e.accountId !== feeAccountId) this.pendingOrder(e.orderId).event = e;
  }

  private onTrade(t: TradeEvent): void {
    const book = this.bySymbol.get(t.symbol);
    if (book === undefined) return;
    this.touch(book);
    book.trades.push(t);
    this.record(book, t.tradeId, t.price, t.quantity, t.takerSide === "buy", t.time);
    if (this.accountMessages) {
      if (t.takerAccountId !== feeAccountId) this.pendingOrder(t.takerOrderId).trades.push(t);
      if (t.makerAccountId !== feeAccountId) this.pendingOrder(t.makerOrderId).trades.push(t);
    }
  }

  /** A trade into the statistics (engine units only). */
  private record(
    book: MarketBook,
    tradeId: number,
    price: number,
    quantity: number,
    takerBuy: boolean,
    time: number,
  ): void {
    book.lastPrice = price;
    if (book.ring === null) {
      book.ring = new TradeRing(this.limits.tradesPerMarketMax);
      book.candles = candleIntervals.map(
        (i) => new CandleSeries(candleIntervalMs[i], this.limits.candlesPerIntervalMax),
      );
      book.rolling = new Rolling24h();
    }
    book.ring.push(tradeId, price, quantity, takerBuy, time);
    const candles = book.candles!;
    for (let i = 0; i < candles.length; i++) candles[i]!.add(time, price, quantity);
    book.rolling!.add(time, price, quantity);
  }

  private touch(book: MarketBook): void {
    if (book.stamp === this.stamp) return;
    book.stamp = this.stamp;
    book.bestBidBefore = book.bids.bestPrice();
    book.bestAskBefore = book.asks.bestPrice();
    this.touched.push(book);
  }

  private changeLevel(book: MarketBook, isBid: boolean, price: number, lots: number): void {
    this.touch(book); // before the change: it saves the top of book as it was
    const side = isBid ? book.bids : book.asks;
    const level = side.levelFor(price);
    if (level.stamp !== this.stamp) {
      level.stamp = this.stamp;
      level.before = level.total;
      side.changed.push(level);
    }
    level.total = lots >= 0 ? add(level.total, lots) : sub(level.total, -lots);
  }

  private pendingOrder(orderId: number): PendingOrder {
    let p = this.pendingById.get(orderId);
    if (p === undefined) {
      p = this.pendingPool.pop() ?? new PendingOrder();
      p.orderId = orderId;
      p.event = null;
      this.pendingById.set(orderId, p);
      this.pending.push(p);
    }
    return p;
  }

  private releaseResting(r: Resting): void {
    this.restingPool.push(r);
  }

  /** Ends the current command: its messages, in the order `apply` documents. */
  private flush(out: MarketDataUpdate[]): void {
    const touched = this.touched;
    if (touched.length > 0) {
      if (touched.length > 1) touched.sort(byMarketIndex);
      for (let i = 0; i < touched.length; i++) this.flushMarket(touched[i]!, out);
      touched.length = 0;
    }
    const pending = this.pending;
    if (pending.length > 0) {
      for (let i = 0; i < pending.length; i++) {
        const p = pending[i]!;
        const e = p.event;
        if (e !== null) {
          const fills: FillView[] = [];
          for (let k = 0; k < p.trades.length; k++) fills.push(this.views.fillView(p.trades[k]!, p.orderId));
          out.push({ channel: "orders", accountId: e.accountId, order: this.views.orderView(e, fills) });
        }
        p.event = null;
        p.trades.length = 0;
        this.pendingPool.push(p);
      }
      pending.length = 0;
      this.pendingById.clear();
    }
    const balances = this.balances;
    if (balances.length > 0) {
      for (let i = 0; i < balances.length; i++) {
        const b = balances[i]!;
        out.push({ channel: "balances", accountId: b.accountId, balance: this.views.balanceView(b) });
      }
      balances.length = 0;
    }
  }

  private flushMarket(book: MarketBook, out: MarketDataUpdate[]): void {
    const bids = this.flushSide(book, book.bids);
    const asks = this.flushSide(book, book.asks);
    if (bids !== null || asks !== null) {
      book.sequence++;
      out.push({
        channel: "book",
        symbol: book.symbol,
        sequence: book.sequence,
        bids: bids ?? [],
        asks: asks ?? [],
      });
    }
    const traded = book.trades.length > 0;
    if (traded) {
      const trades: TradeView[] = [];
      for (let i = 0; i < book.trades.length; i++) trades.push(this.views.tradeView(book.trades[i]!));
      out.push({ channel: "trades", symbol: book.symbol, trades });
      book.trades.length = 0;
    }
    if (
      traded ||
      book.bids.bestPrice() !== book.bestBidBefore ||
      book.asks.bestPrice() !== book.bestAskBefore
    ) {
      out.push({ channel: "ticker", ...this.tickerOf(book, this.commandTime) });
    }
  }

  /** The side's net changes of this command, best first (null: none), and empty levels removed. */
  private flushSide(book: MarketBook, side: L2Side): LevelView[] | null {
    const changed = side.changed;
    if (changed.length === 0) return null;
    if (changed.length > 1) changed.sort(side.isBid ? byPriceDescending : byPriceAscending);
    const f = book.format;
    let views: LevelView[] | null = null;
    for (let i = 0; i < changed.length; i++) {
      const level = changed[i]!;
      if (level.total !== level.before) {
        if (views === null) views = [];
        views.push([f.price(level.price), level.total === 0 ? "0" : f.quantity(level.total)]);
      }
      if (level.total === 0) side.remove(level);
    }
    changed.length = 0;
    return views;
  }

  // ───────────────────────────── queries ─────────────────────────────

  /** Symbols of the configured markets. */
  symbols(): string[] {
    return this.books.map((b) => b.symbol);
  }

  /** The book's current sequence, undefined for an unknown symbol. */
  sequence(symbol: string): number | undefined {
    return this.bySymbol.get(symbol)?.sequence;
  }

  private depthOf(depth: number): number {
    if (!(depth > 0)) return 0;
    return Math.min(Math.floor(depth), this.limits.bookDepthMax);
  }

  /**
   * GET /v1/markets/{symbol}/book: at most `depth` levels a side (clamped to bookDepthMax), best first,
   * aggregated per price; undefined for an unknown symbol.
   */
  book(symbol: string, depth: number = this.limits.bookDepthMax): BookView | undefined {
    const book = this.bySymbol.get(symbol);
    if (book === undefined) return undefined;
    const d = this.depthOf(depth);
    const f = book.format;
    const side = (s: L2Side): LevelView[] => {
      const levels = s.levels;
      const result: LevelView[] = [];
      for (let i = levels.length - 1; i >= 0 && result.length < d; i--) {
        result.push([f.price(levels[i]!.price), f.quantity(levels[i]!.total)]);
      }
      return result;
    };
    return { symbol, sequence: book.sequence, bids: side(book.bids), asks: side(book.asks) };
  }

  /** The book in engine units (ticks, lots), same depth rule: for caches, checks and tests. */
  rawBook(symbol: string, depth: number = this.limits.bookDepthMax): RawBook | undefined {
    const book = this.bySymbol.get(symbol);
    if (book === undefined) return undefined;
    const d = this.depthOf(depth);
    const side = (s: L2Side): [number, Int][] => {
      const levels = s.levels;
      const result: [number, Int][] = [];
      for (let i = levels.length - 1; i >= 0 && result.length < d; i--) {
        result.push([levels[i]!.price, levels[i]!.total]);
      }
      return result;
    };
    return { sequence: book.sequence, bids: side(book.bids), asks: side(book.asks) };
  }

  /** GET /v1/markets/{symbol}/trades: at most `limit` (≤ tradesPerMarketMax) trades, newest first. */
  trades(symbol: string, limit: number = this.limits.tradesPerMarketMax): TradeView[] | undefined {
    const book = this.bySymbol.get(symbol);
    if (book === undefined) return undefined;
    const ring = book.ring;
    const result: TradeView[] = [];
    if (ring === null || !(limit > 0)) return result;
    const n = Math.min(Math.floor(limit), ring.size);
    const f = book.format;
    for (let k = 0; k < n; k++) {
      const i = ring.index(k);
      result.push({
        tradeId: String(ring.ids[i]),
        price: f.price(ring.prices[i]!),
        quantity: f.quantity(ring.quantities[i]!),
        takerSide: ring.takerBuys[i] === 1 ? "buy" : "sell",
        time: ring.times[i]!,
      });
    }
    return result;
  }

  /** GET /v1/markets/{symbol}/ticker, as of the newest known exchange time; undefined for an unknown symbol. */
  ticker(symbol: string): TickerView | undefined {
    const book = this.bySymbol.get(symbol);
    if (book === undefined) return undefined;
    return this.tickerOf(book, this.now);
  }

  private tickerOf(book: MarketBook, time: number): TickerView {
    const f = book.format;
    const bestBid = book.bids.bestPrice();
    const bestAsk = book.asks.bestPrice();
    const rolling = book.rolling;
    let volume: Int = 0;
    let high = 0;
    let low = 0;
    if (rolling !== null) {
      if (time >= 0) rolling.advance(time);
      volume = rolling.volume;
      high = rolling.high();
      low = rolling.low();
    }
    return {
      symbol: book.symbol,
      last: book.lastPrice === 0 ? null : f.price(book.lastPrice),
      bestBid: bestBid === 0 ? null : f.price(bestBid),
      bestAsk: bestAsk === 0 ? null : f.price(bestAsk),
      volume24h: f.quantity(volume),
      high24h: high === 0 ? null : f.price(high),
      low24h: low === 0 ? null : f.price(low),
      time: time >= 0 ? time : null,
    };
  }

  /**
   * GET /v1/markets/{symbol}/candles: candles of `interval` whose start time is within [from, to]
   * (both optional, inclusive), oldest first, at most `limit` (the newest ones); undefined for an
   * unknown symbol. Only buckets that had a trade have a candle.
   */
  candles(
    symbol: string,
    interval: CandleInterval,
    from?: number,
    to?: number,
    limit: number = this.limits.candlesPerIntervalMax,
  ): CandleView[] | undefined {
    const book = this.bySymbol.get(symbol);
    if (book === undefined) return undefined;
    const index = candleIntervals.indexOf(interval);
    if (index < 0) throw new Error(`marketdata: unknown candle interval ${interval}`);
    const result: CandleView[] = [];
    if (book.candles === null || !(limit > 0)) return result;
    const series = book.candles[index]!;
    const lo = from ?? Number.NEGATIVE_INFINITY;
    const hi = to ?? Number.POSITIVE_INFINITY;
    const max = Math.floor(limit);
    const f = book.format;
    // Newest first while collecting (the limit keeps the newest), reversed at the end.
    for (let k = 0; k < series.size && result.length < max; k++) {
      const i = series.index(k);
      const start = series.starts[i]!;
      if (start > hi) continue;
      if (start < lo) break;
      result.push({
        time: start,
        open: f.price(series.opens[i]!),
        high: f.price(series.highs[i]!),
        low: f.price(series.lows[i]!),
        close: f.price(series.closes[i]!),
        volume: f.quantity(series.volumes[i]!),
      });
    }
    return result.reverse();
  }
}
