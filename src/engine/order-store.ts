/**
 * The orders the engine holds (open, partially filled, untriggered), as a struct of typed arrays
 * indexed by slot. Closed orders are dropped: events carry their final state to the API and history.
 *
 * Why not one object per order: Node's V8 runs without pointer compression, so every object field
 * costs 8 bytes plus a header, and doubles above the Smi range are boxed: an order object with its
 * map entry measured 262 bytes (bench:engine). Here an order costs about 90 bytes of arrays plus its
 * id → slot map entry, nothing is allocated per order, the garbage collector has 1M fewer objects to
 * trace, and snapshots read flat arrays.
 *
 * Orders link into two intrusive doubly-linked lists by slot: their price level's queue (time
 * priority) and their account's open orders (orderId order, for cancel_all). Rare fields (stop price,
 * expiry, quote budget, clientOrderId) live in a side map, and amounts beyond 2^53 (which a Float64
 * cannot hold exactly) in another, flagged by NaN in the array.
 */
import { IdIndex } from "./id-index.js";
import { big, type Int } from "./int.js";
import type { OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce } from "./types.js";

export const nil = -1;

export const sideNames: readonly Side[] = ["buy", "sell"];
export const typeNames: readonly OrderType[] = ["limit", "market", "stop_limit", "stop_market"];
export const tifNames: readonly TimeInForce[] = ["GTC", "IOC", "FOK", "GTD"];
export const stpNames: readonly SelfTradePrevention[] = ["cancel_taker", "cancel_maker", "cancel_both"];
export const statusNames: readonly OrderStatus[] = [
  "untriggered",
  "open",
  "partially_filled",
  "filled",
  "cancelled",
  "expired",
];

export enum Status {
  Untriggered = 0,
  Open = 1,
  PartiallyFilled = 2,
  Filled = 3,
  Cancelled = 4,
  Expired = 5,
}

export enum Type {
  Limit = 0,
  Market = 1,
  StopLimit = 2,
  StopMarket = 3,
}

export enum Tif {
  GTC = 0,
  IOC = 1,
  FOK = 2,
  GTD = 3,
}

// flags layout: side 1 bit | type 2 | tif 2 | stp 2 | postOnly 1 | status 3 | resting 1 | market index
const typeShift = 1;
const tifShift = 3;
const stpShift = 5;
const postOnlyBit = 1 << 7;
const statusShift = 8;
const restingBit = 1 << 11;
const marketShift = 12;

export function packFlags(
  side: number,
  type: number,
  tif: number,
  stp: number,
  postOnly: boolean,
  status: number,
  market: number,
): number {
  return (
    side |
    (type << typeShift) |
    (tif << tifShift) |
    (stp << stpShift) |
    (postOnly ? postOnlyBit : 0) |
    (status << statusShift) |
    (market << marketShift)
  );
}

/** Fields most orders leave at their default; kept apart so that plain limit orders do not pay for them. */
export interface OrderExtra {
  stopPrice: number;
  expireTime: number;
  quoteQuantity: Int;
  clientOrderId: string;
}

const noExtra: OrderExtra = { stopPrice: 0, expireTime: 0, quoteQuantity: 0, clientOrderId: "" };

export class OrderStore {
  capacity: number;
  id: Float64Array;
  price: Float64Array;
  quantity: Float64Array;
  filled: Float64Array;
  /** NaN: the value is beyond 2^53, see bigHold / bigNotional. */
  holdUnits: Float64Array;
  notionalUnits: Float64Array;
  createdAt: Float64Array;
  account: Int32Array;
  flags: Int32Array;
  prev: Int32Array;
  next: Int32Array;
  accountPrev: Int32Array;
  accountNext: Int32Array;

  private readonly extras = new Map<number, OrderExtra>();
  private readonly bigHold = new Map<number, bigint>();
  private readonly bigNotional = new Map<number, bigint>();
  /** orderId → slot for every order held. */
  readonly slotOf = new IdIndex();
  private free: Int32Array;
  private freeCount = 0;
  /** Slots ever used; slots below it are live or on the free stack. */
  private used = 0;

  constructor(initialCapacity = 1024) {
    this.capacity = initialCapacity;
    this.id = new Float64Array(initialCapacity);
    this.price = new Float64Array(initialCapacity);
    this.quantity = new Float64Array(initialCapacity);
    this.filled = new Float64Array(initialCapacity);
    this.holdUnits = new Float64Array(initialCapacity);
    this.notionalUnits = new Float64Array(initialCapacity);
    this.createdAt = new Float64Array(initialCapacity);
    this.account = new Int32Array(initialCapacity);
    this.flags = new Int32Array(initialCapacity);
    this.prev = new Int32Array(initialCapacity);
    this.next = new Int32Array(initialCapacity);
    this.accountPrev = new Int32Array(initialCapacity);
    this.accountNext = new Int32Array(initialCapacity);
    this.free = new Int32Array(initialCapacity);
  }

  get size(): number {
    return this.slotOf.size;
  }

  private grow(): void {
    const capacity = this.capacity * 2;
    const f64 = (a: Float64Array) => {
      const b = new Float64Array(capacity);
      b.set(a);
      return b;
    };
    const i32 = (a: Int32Array) => {
      const b = new Int32Array(capacity);
      b.set(a);
      return b;
    };
    this.id = f64(this.id);
    this.price = f64(this.price);
    this.quantity = f64(this.quantity);
    this.filled = f64(this.filled);
    this.holdUnits = f64(this.holdUnits);
    this.notionalUnits = f64(this.notionalUnits);
    this.createdAt = f64(this.createdAt);
    this.account = i32(this.account);
    this.flags = i32(this.flags);
    this.prev = i32(this.prev);
    this.next = i32(this.next);
    this.accountPrev = i32(this.accountPrev);
    this.accountNext = i32(this.accountNext);
    this.free = i32(this.free);
    this.capacity = capacity;
  }

  allocate(
    id: number,
    accountId: number,
    flags: number,
    price: number,
    quantity: number,
    createdAt: number,
    extra: OrderExtra | null,
  ): number {
    let slot: number;
    if (this.freeCount > 0) slot = this.free[--this.freeCount]!;
    else {
      if (this.used === this.capacity) this.grow();
      slot = this.used++;
    }
    this.id[slot] = id;
    this.account[slot] = accountId;
    this.flags[slot] = flags;
    this.price[slot] = price;
    this.quantity[slot] = quantity;
    this.filled[slot] = 0;
    this.holdUnits[slot] = 0;
    this.notionalUnits[slot] = 0;
    this.createdAt[slot] = createdAt;
    this.prev[slot] = nil;
    this.next[slot] = nil;
    this.accountPrev[slot] = nil;
    this.accountNext[slot] = nil;
    if (extra !== null) this.extras.set(slot, extra);
    if (!this.slotOf.add(id, slot)) throw new Error(`order store: order ${id} is already held`);
    return slot;
  }

  release(slot: number): void {
    this.slotOf.delete(this.id[slot]!);
    this.extras.delete(slot);
    if (Number.isNaN(this.holdUnits[slot]!)) this.bigHold.delete(slot);
    if (Number.isNaN(this.notionalUnits[slot]!)) this.bigNotional.delete(slot);
    this.free[this.freeCount++] = slot;
  }

  // ── packed fields ──
  isBuy(slot: number): boolean {
    return (this.flags[slot]! & 1) === 0;
  }
  side(slot: number): number {
    return this.flags[slot]! & 1;
  }
  type(slot: number): number {
    return (this.flags[slot]! >> typeShift) & 3;
  }
  tif(slot: number): number {
    return (this.flags[slot]! >> tifShift) & 3;
  }
  stp(slot: number): number {
    return (this.flags[slot]! >> stpShift) & 3;
  }
  postOnly(slot: number): boolean {
    return (this.flags[slot]! & postOnlyBit) !== 0;
  }
  status(slot: number): number {
    return (this.flags[slot]! >> statusShift) & 7;
  }
  setStatus(slot: number, status: number): void {
    this.flags[slot] = (this.flags[slot]! & ~(7 << statusShift)) | (status << statusShift);
  }
  /** In its price level's queue (a taker being matched, or an amended order moving, is not). */
  isResting(slot: number): boolean {
    return (this.flags[slot]! & restingBit) !== 0;
  }
  setResting(slot: number, resting: boolean): void {
    this.flags[slot] = resting ? this.flags[slot]! | restingBit : this.flags[slot]! & ~restingBit;
  }
  market(slot: number): number {
    return this.flags[slot]! >>> marketShift;
  }
  remaining(slot: number): number {
    return this.quantity[slot]! - this.filled[slot]!;
  }

  // ── rare fields ──
  extra(slot: number): OrderExtra {
    return this.extras.get(slot) ?? noExtra;
  }
  stopPrice(slot: number): number {
    return this.extras.get(slot)?.stopPrice ?? 0;
  }
  quoteQuantity(slot: number): Int {
    return this.extras.get(slot)?.quoteQuantity ?? 0;
  }
  clientOrderId(slot: number): string {
    return this.extras.get(slot)?.clientOrderId ?? "";
  }
  expireTime(slot: number): number {
    return this.extras.get(slot)?.expireTime ?? 0;
  }

  // ── exact amounts ──
  hold(slot: number): Int {
    const v = this.holdUnits[slot]!;
    return Number.isNaN(v) ? this.bigHold.get(slot)! : v;
  }
  setHold(slot: number, value: Int): void {
    if (typeof value === "number") {
      if (Number.isNaN(this.holdUnits[slot]!)) this.bigHold.delete(slot);
      this.holdUnits[slot] = value;
    } else {
      this.holdUnits[slot] = Number.NaN;
      this.bigHold.set(slot, value);
    }
  }
  filledNotional(slot: number): Int {
    const v = this.notionalUnits[slot]!;
    return Number.isNaN(v) ? this.bigNotional.get(slot)! : v;
  }
  setFilledNotional(slot: number, value: Int): void {
    if (typeof value === "number") {
      if (Number.isNaN(this.notionalUnits[slot]!)) this.bigNotional.delete(slot);
      this.notionalUnits[slot] = value;
    } else {
      this.notionalUnits[slot] = Number.NaN;
      this.bigNotional.set(slot, big(value));
    }
  }
}
