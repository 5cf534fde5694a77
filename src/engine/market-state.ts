/** The live state of one market: both sides of the book, waiting stop orders and the last price. */
import { BookSide } from "./book.js";
import type { Market } from "./config.js";
import type { Order } from "./order.js";

export class MarketState {
  readonly bids = new BookSide(true);
  readonly asks = new BookSide(false);
  /** Untriggered stop orders in orderId order. */
  readonly stops: Order[] = [];
  /** Ticks of the last trade; 0 before the first. */
  lastPrice = 0;
  /** Command stamp when the market was last touched (for the stops step). */
  touchedStamp = -1;
  constructor(readonly market: Market) {}

  sideOf(isBuy: boolean): BookSide {
    return isBuy ? this.bids : this.asks;
  }

  oppositeOf(isBuy: boolean): BookSide {
    return isBuy ? this.asks : this.bids;
  }
}
