/** The live state of one market: both sides of the book, waiting stop orders and the last price. */
import { BookSide } from "./book.js";
import type { Market } from "./config.js";
import type { OrderStore } from "./order-store.js";

export class MarketState {
  readonly bids: BookSide;
  readonly asks: BookSide;
  /** Slots of the untriggered stop orders, in orderId order. */
  readonly stops: number[] = [];
  /** Ticks of the last trade; 0 before the first. */
  lastPrice = 0;
  /** Command stamp when the market was last touched (for the stops step). */
  touchedStamp = -1;
  constructor(
    readonly market: Market,
    store: OrderStore,
  ) {
    this.bids = new BookSide(true, store);
    this.asks = new BookSide(false, store);
  }

  sideOf(isBuy: boolean): BookSide {
    return isBuy ? this.bids : this.asks;
  }

  oppositeOf(isBuy: boolean): BookSide {
    return isBuy ? this.asks : this.bids;
  }
}
