/** An account: balances per asset index, its open orders, the clientOrderIds it used. */
import type { Int } from "./int.js";
import type { Order } from "./order.js";

export class Account {
  readonly available: Int[];
  readonly locked: Int[];
  /** Command stamp when each asset's balance was last saved for the end-of-command balance events. */
  readonly touchedStamp: number[];
  openOrderCount = 0;
  /** Head and tail of the open orders list, in orderId order. */
  firstOrder: Order | null = null;
  lastOrder: Order | null = null;
  /** clientOrderId → orderId, oldest first (Map keeps insertion order), created on first use. */
  clientOrderIds: Map<string, number> | null = null;
  /** Credentials kept for the gateway, opaque to the engine. */
  name = "";
  apiKey = "";
  sealedSecret = "";

  constructor(
    readonly id: number,
    assetCount: number,
  ) {
    this.available = new Array<Int>(assetCount).fill(0);
    this.locked = new Array<Int>(assetCount).fill(0);
    this.touchedStamp = new Array<number>(assetCount).fill(-1);
  }

  linkOrder(order: Order): void {
    order.accountPrev = this.lastOrder;
    order.accountNext = null;
    if (this.lastOrder === null) this.firstOrder = order;
    else this.lastOrder.accountNext = order;
    this.lastOrder = order;
    this.openOrderCount++;
  }

  unlinkOrder(order: Order): void {
    if (order.accountPrev === null) this.firstOrder = order.accountNext;
    else order.accountPrev.accountNext = order.accountNext;
    if (order.accountNext === null) this.lastOrder = order.accountPrev;
    else order.accountNext.accountPrev = order.accountPrev;
    order.accountPrev = null;
    order.accountNext = null;
    this.openOrderCount--;
  }
}
