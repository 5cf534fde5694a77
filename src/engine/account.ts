/** An account: balances per asset index, its open orders, the clientOrderIds it used, its credentials. */
import type { Int } from "./int.js";
import { nil, type OrderStore } from "./order-store.js";

export class Account {
  readonly available: Int[];
  readonly locked: Int[];
  /** Command stamp when each asset's balance was last saved for the end-of-command balance events. */
  readonly touchedStamp: number[];
  openOrderCount = 0;
  /** Slots of the first and last open orders, linked in orderId order through OrderStore.accountPrev/Next. */
  firstOrder = nil;
  lastOrder = nil;
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

  linkOrder(store: OrderStore, slot: number): void {
    store.accountPrev[slot] = this.lastOrder;
    store.accountNext[slot] = nil;
    if (this.lastOrder === nil) this.firstOrder = slot;
    else store.accountNext[this.lastOrder] = slot;
    this.lastOrder = slot;
    this.openOrderCount++;
  }

  unlinkOrder(store: OrderStore, slot: number): void {
    const prev = store.accountPrev[slot]!;
    const next = store.accountNext[slot]!;
    if (prev === nil) this.firstOrder = next;
    else store.accountNext[prev] = next;
    if (next === nil) this.lastOrder = prev;
    else store.accountPrev[next] = prev;
    store.accountPrev[slot] = nil;
    store.accountNext[slot] = nil;
    this.openOrderCount--;
  }
}
