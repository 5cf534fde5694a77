/**
 * The naive reference model of the engine, written from docs/engine.md alone (never from
 * src/engine/engine.ts), so that the differential test catches a misreading on either side.
 *
 * Clarity over speed: every amount is a bigint, books are maps of price -> FIFO array sorted on
 * demand, stops a plain array scanned linearly. A few counters (open orders per account, GTD set)
 * keep one command O(open orders) so that the bound tests (100k orders) stay affordable.
 * Amounts leave the model through `normalize`, so its events compare equal to the fast engine's.
 */

import type { EngineCode } from "../../src/engine/codes.js";
import { type EngineConfig, type Market, type SettledConfig, settleConfig } from "../../src/engine/config.js";
import type { EngineDump, EngineModel, MarketDump, OrderDump } from "../../src/engine/dump.js";
import { big, type Int, normalize } from "../../src/engine/int.js";
import type {
  AmendOrderCommand,
  CancelAllCommand,
  CancelOrderCommand,
  Command,
  CreateAccountCommand,
  EngineEvent,
  OrderReason,
  OrderStatus,
  OrderType,
  PlaceOrderCommand,
  SelfTradePrevention,
  Side,
  TimeInForce,
  TransferCommand,
} from "../../src/engine/types.js";
import { int64Max, limits } from "../../src/limits.js";

const clientOrderIdPattern = /^[A-Za-z0-9_-]{1,36}$/;
const transferIdPattern = /^[A-Za-z0-9_.:-]{1,64}$/;

interface RefOrder {
  orderId: number;
  accountId: number;
  market: RefMarket;
  side: Side;
  orderType: OrderType;
  timeInForce: TimeInForce;
  price: number;
  stopPrice: number;
  quantity: number;
  filledQuantity: number;
  filledNotional: bigint;
  quoteQuantity: bigint;
  /** A market buy by quantity: the walk cost its hold was computed from (its notional budget). */
  walkCost: bigint;
  hold: bigint;
  status: OrderStatus;
  postOnly: boolean;
  expireTime: number;
  clientOrderId: string;
  selfTradePrevention: SelfTradePrevention;
  createdAt: number;
}

interface RefMarket {
  readonly m: Market;
  lastPrice: number;
  /** price -> orders in time priority; a level exists only while it holds an order. */
  readonly bids: Map<number, RefOrder[]>;
  readonly asks: Map<number, RefOrder[]>;
  /** Untriggered stop orders, in acceptance (orderId) order. */
  readonly stops: RefOrder[];
}

interface RefAccount {
  readonly accountId: number;
  readonly available: bigint[];
  readonly locked: bigint[];
  /** clientOrderId -> orderId, oldest first (Map keeps insertion order). */
  readonly clientOrderIds: Map<string, number>;
  openOrders: number;
}

interface TransferRecord {
  kind: "deposit" | "withdraw";
  accountId: number;
  asset: string;
  amount: bigint;
}

/** What one command is doing: its events, the balances it touched, the markets it touched. */
interface Step {
  readonly seq: number;
  readonly time: number;
  readonly out: EngineEvent[];
  /** accountId*assets+assetIndex -> [available, locked] before the command. */
  readonly before: Map<number, [bigint, bigint]>;
  readonly touched: Set<RefMarket>;
  triggers: number;
}

function isStopType(t: OrderType): boolean {
  return t === "stop_limit" || t === "stop_market";
}

function isMarketType(t: OrderType): boolean {
  return t === "market" || t === "stop_market";
}

function feeOf(n: bigint, bps: number): bigint {
  const scaled = n * BigInt(bps);
  return (scaled + 9999n) / 10000n; // n >= 0: ceiling division
}

function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

function sortedLevels(levels: Map<number, RefOrder[]>, side: "bids" | "asks"): [number, RefOrder[]][] {
  const list = [...levels.entries()];
  list.sort((a, b) => (side === "bids" ? b[0] - a[0] : a[0] - b[0]));
  return list;
}

function bestLevel(levels: Map<number, RefOrder[]>, side: "bids" | "asks"): [number, RefOrder[]] | undefined {
  let best: [number, RefOrder[]] | undefined;
  for (const entry of levels) {
    if (best === undefined || (side === "bids" ? entry[0] > best[0] : entry[0] < best[0])) best = entry;
  }
  return best;
}

export class ReferenceEngine implements EngineModel {
  readonly config: SettledConfig;
  /** How often the rare paths ran, so that a fuzz run can show it reached them. */
  readonly coverage: Record<string, number> = {};
  private readonly markets: RefMarket[];
  private readonly marketBySymbol = new Map<string, RefMarket>();
  private readonly accounts: RefAccount[] = [];
  /** Every open or untriggered order. */
  private readonly orders = new Map<number, RefOrder>();
  /** Open or untriggered GTD orders, so that expiry does not scan every order. */
  private readonly gtd = new Set<RefOrder>();
  private readonly transfers = new Map<string, TransferRecord>();
  /** Per asset: deposits - withdrawals. */
  private readonly supply: bigint[];
  private lastSeq = 0;
  private time = 0;
  private nextOrderId = 1;
  private nextTradeId = 1;

  constructor(config: EngineConfig) {
    this.config = settleConfig(config);
    this.markets = this.config.markets.map((m) => ({
      m,
      lastPrice: 0,
      bids: new Map(),
      asks: new Map(),
      stops: [],
    }));
    for (const rm of this.markets) this.marketBySymbol.set(rm.m.symbol, rm);
    this.supply = this.config.assets.map(() => 0n);
    this.addAccount(); // account 0: the exchange's fee account
  }

  // ---------------------------------------------------------------- the command loop

  apply(command: Command, out: EngineEvent[]): void {
    const step: Step = {
      seq: command.seq,
      time: command.time,
      out,
      before: new Map(),
      touched: new Set(),
      triggers: 0,
    };
    this.lastSeq = command.seq;
    this.time = command.time;
    this.expireGtd(step);
    switch (command.type) {
      case "create_account":
        this.createAccount(step, command);
        break;
      case "deposit":
      case "withdraw":
        this.transfer(step, command);
        break;
      case "place":
        this.place(step, command);
        break;
      case "cancel":
        this.cancel(step, command);
        break;
      case "cancel_all":
        this.cancelAll(step, command);
        break;
      case "amend":
        this.amend(step, command);
        break;
      case "tick":
        break;
    }
    this.runStops(step);
    this.emitBalances(step);
  }

  private expireGtd(step: Step): void {
    const due = [...this.gtd].filter((o) => o.expireTime <= step.time);
    due.sort((a, b) => a.expireTime - b.expireTime || a.orderId - b.orderId);
    for (const o of due) {
      if (o.status === "untriggered") this.cover("untriggered stop expires");
      this.close(step, o, "expired", "expired_gtd");
    }
  }

  private runStops(step: Step): void {
    for (const rm of this.markets) {
      if (!step.touched.has(rm)) continue;
      while (step.triggers < limits.stopTriggersPerCommandMax && rm.lastPrice !== 0) {
        const last = rm.lastPrice;
        let next: RefOrder | undefined;
        for (const o of rm.stops) {
          const due = o.side === "buy" ? last >= o.stopPrice : last <= o.stopPrice;
          if (due && (next === undefined || o.orderId < next.orderId)) next = o;
        }
        if (next === undefined) break;
        if (step.triggers > 0) this.cover("stop cascade");
        step.triggers += 1;
        this.trigger(step, next);
      }
    }
  }

  private emitBalances(step: Step): void {
    const assets = this.config.assets.length;
    const keys = [...step.before.keys()].sort((a, b) => a - b);
    for (const key of keys) {
      const accountId = Math.floor(key / assets);
      const assetIndex = key % assets;
      const [available, locked] = step.before.get(key)!;
      const account = this.accounts[accountId]!;
      const nowAvailable = account.available[assetIndex]!;
      const nowLocked = account.locked[assetIndex]!;
      if (nowAvailable === available && nowLocked === locked) continue;
      step.out.push({
        type: "balance",
        seq: step.seq,
        time: step.time,
        accountId,
        asset: this.config.assets[assetIndex]!.asset,
        available: normalize(nowAvailable),
        locked: normalize(nowLocked),
      });
    }
  }

  /**
   * The rejected event names the command's subject: its account, the order a cancel or amend named
   * and that order's clientOrderId when the account holds it, a place's clientOrderId when valid.
   * (docs/engine.md is silent on the last two; an invalid clientOrderId is not echoed, so that the
   * event field always holds a well-formed one.)
   */
  private reject(step: Step, command: Command, code: EngineCode): void {
    this.cover(`rejected ${command.type} ${code}`);
    let clientOrderId = "";
    if (command.type === "place" && clientOrderIdPattern.test(command.clientOrderId)) {
      clientOrderId = command.clientOrderId;
    } else if (command.type === "cancel" || command.type === "amend") {
      clientOrderId = this.ownOrder(command.accountId, command.orderId)?.clientOrderId ?? "";
    }
    step.out.push({
      type: "rejected",
      seq: step.seq,
      time: step.time,
      command: command.type,
      code,
      accountId: "accountId" in command ? command.accountId : 0,
      orderId: command.type === "cancel" || command.type === "amend" ? command.orderId : 0,
      clientOrderId,
    });
  }

  private cover(path: string): void {
    this.coverage[path] = (this.coverage[path] ?? 0) + 1;
  }

  // ---------------------------------------------------------------- balances

  private addAccount(): RefAccount {
    const n = this.config.assets.length;
    const account: RefAccount = {
      accountId: this.accounts.length,
      available: new Array<bigint>(n).fill(0n),
      locked: new Array<bigint>(n).fill(0n),
      clientOrderIds: new Map(),
      openOrders: 0,
    };
    this.accounts.push(account);
    return account;
  }

  private accountExists(accountId: number): boolean {
    return Number.isInteger(accountId) && accountId >= 0 && accountId < this.accounts.length;
  }

  /** The one place balances change: remembers the value before the command, refuses a negative one. */
  private move(step: Step, accountId: number, assetIndex: number, dAvailable: bigint, dLocked: bigint): void {
    const account = this.accounts[accountId]!;
    const key = accountId * this.config.assets.length + assetIndex;
    if (!step.before.has(key)) {
      step.before.set(key, [account.available[assetIndex]!, account.locked[assetIndex]!]);
    }
    const available = account.available[assetIndex]! + dAvailable;
    const locked = account.locked[assetIndex]! + dLocked;
    if (available < 0n || locked < 0n) {
      throw new Error(`reference: balance of account ${accountId} asset ${assetIndex} would go negative`);
    }
    account.available[assetIndex] = available;
    account.locked[assetIndex] = locked;
  }

  private heldAsset(o: { market: RefMarket; side: Side }): number {
    return o.side === "buy" ? o.market.m.quote.index : o.market.m.base.index;
  }

  private lock(step: Step, o: RefOrder, amount: bigint): void {
    this.move(step, o.accountId, this.heldAsset(o), -amount, amount);
    o.hold += amount;
  }

  private release(step: Step, o: RefOrder): void {
    this.move(step, o.accountId, this.heldAsset(o), o.hold, -o.hold);
    o.hold = 0n;
  }

  // ---------------------------------------------------------------- units

  private notional(m: Market, price: number, quantity: number): bigint {
    return BigInt(price) * BigInt(quantity) * BigInt(m.quoteUnitsPerTickLot);
  }

  private base(m: Market, quantity: number): bigint {
    return BigInt(quantity) * BigInt(m.baseUnitsPerLot);
  }

  /** The hold of a limit-priced order on `remaining` lots (placement and amend). */
  private limitHold(m: Market, side: Side, price: number, remaining: number): bigint {
    if (side === "sell") return this.base(m, remaining);
    const n = this.notional(m, price, remaining);
    return n + feeOf(n, m.holdFeeBps);
  }

  // ---------------------------------------------------------------- create_account, transfers

  private createAccount(step: Step, c: CreateAccountCommand): void {
    // Account 0 (fees) is not one of the accountsMax accounts a client can create.
    if (this.accounts.length - 1 >= limits.accountsMax) return this.reject(step, c, "TOO_MANY_ACCOUNTS");
    const account = this.addAccount();
    step.out.push({ type: "account_created", seq: step.seq, time: step.time, accountId: account.accountId });
  }

  private transfer(step: Step, c: TransferCommand): void {
    if (!this.accountExists(c.accountId)) return this.reject(step, c, "UNKNOWN_ACCOUNT");
    const asset = this.config.assetByName.get(c.asset);
    if (asset === undefined) return this.reject(step, c, "UNKNOWN_ASSET");
    if (!transferIdPattern.test(c.transferId)) return this.reject(step, c, "INVALID_TRANSFER_ID");
    const amount = big(c.amount);
    if (amount <= 0n) return this.reject(step, c, "INVALID_AMOUNT");
    if (amount > int64Max) return this.reject(step, c, "AMOUNT_OVERFLOW");
    const previous = this.transfers.get(c.transferId);
    if (previous !== undefined) {
      const same =
        previous.kind === c.type &&
        previous.accountId === c.accountId &&
        previous.asset === c.asset &&
        previous.amount === amount;
      if (!same) return this.reject(step, c, "TRANSFER_ID_CONFLICT");
      step.out.push(this.transferEvent(step, c, amount, true));
      return;
    }
    if (this.transfers.size >= limits.transfersMax) return this.reject(step, c, "TOO_MANY_TRANSFERS");
    const account = this.accounts[c.accountId]!;
    if (c.type === "deposit") {
      if (this.supply[asset.index]! + amount > int64Max) return this.reject(step, c, "AMOUNT_OVERFLOW");
      this.supply[asset.index]! += amount;
      this.move(step, c.accountId, asset.index, amount, 0n);
    } else {
      if (account.available[asset.index]! < amount) return this.reject(step, c, "INSUFFICIENT_FUNDS");
      this.supply[asset.index]! -= amount;
      this.move(step, c.accountId, asset.index, -amount, 0n);
    }
    this.transfers.set(c.transferId, { kind: c.type, accountId: c.accountId, asset: c.asset, amount });
    step.out.push(this.transferEvent(step, c, amount, false));
  }

  private transferEvent(step: Step, c: TransferCommand, amount: bigint, duplicate: boolean): EngineEvent {
    return {
      type: "transfer",
      seq: step.seq,
      time: step.time,
      kind: c.type,
      accountId: c.accountId,
      asset: c.asset,
      amount: normalize(amount),
      transferId: c.transferId,
      duplicate,
    };
  }

  // ---------------------------------------------------------------- place

  private place(step: Step, c: PlaceOrderCommand): void {
    if (!this.accountExists(c.accountId)) return this.reject(step, c, "UNKNOWN_ACCOUNT");
    const rm = this.marketBySymbol.get(c.symbol);
    if (rm === undefined) return this.reject(step, c, "UNKNOWN_SYMBOL");
    if (c.clientOrderId !== "" && !clientOrderIdPattern.test(c.clientOrderId)) {
      return this.reject(step, c, "INVALID_CLIENT_ORDER_ID");
    }
    const account = this.accounts[c.accountId]!;
    if (c.clientOrderId !== "") {
      const original = account.clientOrderIds.get(c.clientOrderId);
      if (original !== undefined) {
        step.out.push({
          type: "duplicate_order",
          seq: step.seq,
          time: step.time,
          accountId: c.accountId,
          orderId: original,
          clientOrderId: c.clientOrderId,
        });
        return;
      }
    }
    const checked = this.checkPlace(step, c, rm, account);
    if (typeof checked === "string") return this.reject(step, c, checked);

    const o: RefOrder = {
      orderId: this.nextOrderId++,
      accountId: c.accountId,
      market: rm,
      side: c.side,
      orderType: c.orderType,
      timeInForce: c.timeInForce,
      price: c.price,
      stopPrice: c.stopPrice,
      quantity: c.quantity,
      filledQuantity: 0,
      filledNotional: 0n,
      quoteQuantity: big(c.quoteQuantity),
      walkCost: checked.walkCost,
      hold: 0n,
      status: isStopType(c.orderType) ? "untriggered" : "open",
      postOnly: c.postOnly,
      expireTime: c.expireTime,
      clientOrderId: c.clientOrderId,
      selfTradePrevention: c.selfTradePrevention,
      createdAt: step.time,
    };
    if (c.clientOrderId !== "") {
      account.clientOrderIds.set(c.clientOrderId, o.orderId);
      if (account.clientOrderIds.size > limits.clientOrderIdsPerAccountMax) {
        const oldest = account.clientOrderIds.keys().next().value!;
        account.clientOrderIds.delete(oldest);
      }
    }
    this.addOpen(o);
    this.lock(step, o, checked.hold);
    this.orderEvent(step, o, "placed");
    if (isStopType(o.orderType)) {
      rm.stops.push(o);
      step.touched.add(rm);
      return;
    }
    this.match(step, o);
  }

  /** Steps 4-12 of placement: a rejection code, or the hold to lock. */
  private checkPlace(
    step: Step,
    c: PlaceOrderCommand,
    rm: RefMarket,
    account: RefAccount,
  ): EngineCode | { hold: bigint; walkCost: bigint } {
    const m = rm.m;
    const quoteQuantity = big(c.quoteQuantity);
    const marketType = isMarketType(c.orderType);
    // 4. shape
    switch (c.orderType) {
      case "limit":
      case "stop_limit":
        if (!(c.price > 0)) return "INVALID_PRICE";
        if (c.orderType === "limit" ? c.stopPrice !== 0 : !(c.stopPrice > 0)) return "INVALID_STOP_PRICE";
        if (quoteQuantity !== 0n) return "INVALID_ORDER_TYPE";
        break;
      case "market":
      case "stop_market":
        if (c.price !== 0) return "INVALID_PRICE";
        if (c.orderType === "market" ? c.stopPrice !== 0 : !(c.stopPrice > 0)) return "INVALID_STOP_PRICE";
        if (c.postOnly) return "INVALID_ORDER_TYPE";
        break;
      default:
        return "INVALID_ORDER_TYPE";
    }
    if (c.postOnly && c.orderType !== "limit") return "INVALID_ORDER_TYPE";
    if (marketType) {
      if (c.side === "sell" && quoteQuantity !== 0n) return "INVALID_ORDER_TYPE";
      if (c.quantity !== 0 && quoteQuantity !== 0n) return "INVALID_ORDER_TYPE";
      if (c.quantity === 0 && quoteQuantity === 0n) return "INVALID_QUANTITY";
    } else if (!(c.quantity > 0)) {
      return "INVALID_QUANTITY";
    }
    // 5. price bounds
    if (c.price > limits.priceTicksMax) return "INVALID_PRICE";
    if (c.stopPrice > limits.priceTicksMax) return "INVALID_STOP_PRICE";
    // 6. time in force
    const tif = c.timeInForce;
    if (marketType && tif !== "GTC" && tif !== "IOC" && tif !== "FOK") return "INVALID_TIME_IN_FORCE";
    if (marketType && tif === "FOK" && quoteQuantity !== 0n) return "INVALID_TIME_IN_FORCE";
    if (c.postOnly && tif !== "GTC" && tif !== "GTD") return "INVALID_TIME_IN_FORCE";
    if (tif === "GTD" ? !(c.expireTime > step.time) : c.expireTime !== 0) return "INVALID_EXPIRE_TIME";
    // 7. quantity bounds
    if (c.quantity !== 0 && !(c.quantity >= m.minQuantityLots && c.quantity <= m.maxQuantityLots)) {
      return "INVALID_QUANTITY";
    }
    if (quoteQuantity > int64Max) return "AMOUNT_OVERFLOW";
    // 8. notional
    if (!marketType) {
      const n = this.notional(m, c.price, c.quantity);
      if (n > int64Max) return "AMOUNT_OVERFLOW";
      if (n < big(m.minNotional)) return "MIN_NOTIONAL";
    }
    if (quoteQuantity !== 0n && quoteQuantity < big(m.minNotional)) return "MIN_NOTIONAL";
    // 9. counts
    if (account.openOrders >= limits.openOrdersPerAccountMax) return "TOO_MANY_OPEN_ORDERS";
    if (isStopType(c.orderType) && rm.stops.length >= limits.stopOrdersPerMarketMax) {
      return "TOO_MANY_STOP_ORDERS";
    }
    // 10. hold
    let hold: bigint;
    let walkCost = 0n;
    if (c.side === "sell") {
      hold = this.base(m, c.quantity);
    } else if (!marketType) {
      hold = this.limitHold(m, "buy", c.price, c.quantity);
    } else if (quoteQuantity !== 0n) {
      hold = quoteQuantity + feeOf(quoteQuantity, m.takerFeeBps);
    } else if (c.orderType === "stop_market") {
      hold = 0n;
    } else {
      const cost = this.walk(rm, "buy", c.accountId, c.selfTradePrevention, 0, c.quantity).cost;
      if (cost > int64Max) return "AMOUNT_OVERFLOW";
      hold = cost + feeOf(cost, m.takerFeeBps);
      walkCost = cost;
    }
    const heldAsset = c.side === "buy" ? m.quote.index : m.base.index;
    if (account.available[heldAsset]! < hold) return "INSUFFICIENT_FUNDS";
    // 11. post-only
    if (c.orderType === "limit" && c.postOnly && this.wouldTake(rm, c.side, c.price)) {
      return "POST_ONLY_WOULD_TAKE";
    }
    // 12. level bounds of an order that may rest
    if (c.orderType === "limit" && (tif === "GTC" || tif === "GTD")) {
      const code = this.levelBoundsCode(rm, c.side, c.price);
      if (code !== null) return code;
    }
    return { hold, walkCost };
  }

  private wouldTake(rm: RefMarket, side: Side, price: number): boolean {
    const best = bestLevel(side === "buy" ? rm.asks : rm.bids, side === "buy" ? "asks" : "bids");
    if (best === undefined) return false;
    return side === "buy" ? best[0] <= price : best[0] >= price;
  }

  private levelBoundsCode(rm: RefMarket, side: Side, price: number): EngineCode | null {
    const levels = side === "buy" ? rm.bids : rm.asks;
    const level = levels.get(price);
    if (level === undefined) return levels.size >= limits.priceLevelsPerSideMax ? "BOOK_LEVELS_FULL" : null;
    return level.length >= limits.ordersPerLevelMax ? "PRICE_LEVEL_FULL" : null;
  }

  // ---------------------------------------------------------------- walking and matching

  /** What a taker would get from the book now (docs/engine.md, Walking). limitPrice 0: none. */
  private walk(
    rm: RefMarket,
    side: Side,
    accountId: number,
    stp: SelfTradePrevention,
    limitPrice: number,
    wanted: number,
  ): { quantity: number; cost: bigint } {
    const levels = side === "buy" ? sortedLevels(rm.asks, "asks") : sortedLevels(rm.bids, "bids");
    let quantity = 0;
    let cost = 0n;
    let orders = 0;
    walking: for (const [price, level] of levels) {
      if (limitPrice !== 0 && (side === "buy" ? price > limitPrice : price < limitPrice)) break;
      for (const maker of level) {
        if (quantity >= wanted || orders >= limits.fillsPerOrderMax) break walking;
        if (maker.accountId === accountId) {
          if (stp === "cancel_maker") continue;
          break walking;
        }
        const take = Math.min(maker.quantity - maker.filledQuantity, wanted - quantity);
        quantity += take;
        cost += this.notional(rm.m, price, take);
        orders += 1;
      }
    }
    return { quantity, cost };
  }

  private match(step: Step, t: RefOrder): void {
    const rm = t.market;
    const m = rm.m;
    const byBudget = t.side === "buy" && isMarketType(t.orderType) && t.quoteQuantity !== 0n;
    const limitPrice = isMarketType(t.orderType) ? 0 : t.price;
    if (t.timeInForce === "FOK") {
      const wanted = t.quantity - t.filledQuantity;
      const reach = this.walk(rm, t.side, t.accountId, t.selfTradePrevention, limitPrice, wanted).quantity;
      if (reach < wanted) {
        this.close(step, t, "expired", "expired_fok");
        return;
      }
    }
    const opposite = t.side === "buy" ? rm.asks : rm.bids;
    const oppositeName = t.side === "buy" ? "asks" : "bids";
    const mayRest = !isMarketType(t.orderType) && (t.timeInForce === "GTC" || t.timeInForce === "GTD");
    let traded = false;
    let fills = 0;
    let ended: { status: OrderStatus; reason: OrderReason } | null = null;
    for (;;) {
      const budgetLeft = t.quoteQuantity - t.filledNotional;
      if (byBudget ? budgetLeft <= 0n : t.filledQuantity >= t.quantity) break;
      const best = bestLevel(opposite, oppositeName);
      if (best === undefined) break;
      const [price, level] = best;
      if (limitPrice !== 0 && (t.side === "buy" ? price > limitPrice : price < limitPrice)) break;
      const maker = level[0]!;
      if (maker.accountId === t.accountId) {
        const mode = t.selfTradePrevention;
        this.cover(`self-trade ${mode}`);
        if (mode === "cancel_maker" || mode === "cancel_both")
          this.close(step, maker, "cancelled", "self_trade");
        if (mode === "cancel_taker" || mode === "cancel_both") {
          ended = { status: "cancelled", reason: "self_trade" };
          break;
        }
        continue;
      }
      if (fills >= limits.fillsPerOrderMax) {
        if (!mayRest) ended = { status: "expired", reason: "fill_limit" };
        break;
      }
      let q = maker.quantity - maker.filledQuantity;
      if (byBudget) {
        const affordable = budgetLeft / this.notional(m, price, 1);
        if (affordable === 0n) {
          this.cover(traded ? "budget spent: filled" : "budget too small: expired");
          ended = traded
            ? { status: "filled", reason: "traded" }
            : { status: "expired", reason: "expired_ioc" };
          break;
        }
        q = Number(minBig(BigInt(q), affordable));
      } else {
        q = Math.min(q, t.quantity - t.filledQuantity);
      }
      this.trade(step, t, maker, price, q);
      traded = true;
      fills += 1;
    }
    if (ended === null) {
      const done = byBudget ? t.filledNotional >= t.quoteQuantity : t.filledQuantity >= t.quantity;
      if (done) ended = { status: "filled", reason: "traded" };
      else if (!mayRest) ended = { status: "expired", reason: "expired_ioc" };
    }
    if (ended !== null) {
      this.close(step, t, ended.status, ended.reason);
      return;
    }
    // rests at the tail of its level
    t.status = t.filledQuantity > 0 ? "partially_filled" : "open";
    const own = t.side === "buy" ? rm.bids : rm.asks;
    const level = own.get(t.price);
    if (level === undefined) own.set(t.price, [t]);
    else level.push(t);
    if (traded) this.orderEvent(step, t, "traded");
  }

  private trade(step: Step, taker: RefOrder, maker: RefOrder, price: number, q: number): void {
    const rm = taker.market;
    const m = rm.m;
    const n = this.notional(m, price, q);
    let takerFee = feeOf(n, m.takerFeeBps);
    let makerFee = feeOf(n, m.makerFeeBps);
    const buyer = taker.side === "buy" ? taker : maker;
    const seller = taker.side === "buy" ? maker : taker;
    const baseAmount = this.base(m, q);
    // seller
    seller.hold -= baseAmount;
    this.move(step, seller.accountId, m.base.index, 0n, -baseAmount);
    const sellerFee = seller === taker ? takerFee : makerFee;
    this.move(step, seller.accountId, m.quote.index, n - sellerFee, 0n);
    // buyer
    this.move(step, buyer.accountId, m.base.index, baseAmount, 0n);
    let buyerFee = buyer === taker ? takerFee : makerFee;
    // The hold keeps covering the notional the buyer may still pay after this fill (its reserve);
    // the fee comes from what the hold has beyond that, then from available, else it is reduced.
    const left = buyer.quantity - buyer.filledQuantity - q;
    const reserve = !isMarketType(buyer.orderType)
      ? this.notional(m, buyer.price, left)
      : (buyer.quoteQuantity !== 0n ? buyer.quoteQuantity : buyer.walkCost) - (buyer.filledNotional + n);
    const spare = buyer.hold - n - reserve;
    if (spare < 0n) throw new Error(`reference: order ${buyer.orderId} holds less than its notionals`);
    const feeFromHold = minBig(buyerFee, spare);
    buyer.hold -= n + feeFromHold;
    this.move(step, buyer.accountId, m.quote.index, 0n, -(n + feeFromHold));
    if (feeFromHold < buyerFee) {
      this.cover("buyer fee beyond the hold's spare");
      const fromAvailable = minBig(
        buyerFee - feeFromHold,
        this.accounts[buyer.accountId]!.available[m.quote.index]!,
      );
      this.move(step, buyer.accountId, m.quote.index, -fromAvailable, 0n);
      if (feeFromHold + fromAvailable < buyerFee) this.cover("buyer fee reduced");
      buyerFee = feeFromHold + fromAvailable;
      if (buyer === taker) takerFee = buyerFee;
      else makerFee = buyerFee;
    }
    // fee account
    this.move(step, 0, m.quote.index, takerFee + makerFee, 0n);
    rm.lastPrice = price;
    step.touched.add(rm);
    for (const o of [taker, maker]) {
      o.filledQuantity += q;
      o.filledNotional += n;
    }
    step.out.push({
      type: "trade",
      seq: step.seq,
      time: step.time,
      tradeId: this.nextTradeId++,
      symbol: m.symbol,
      price,
      quantity: q,
      notional: normalize(n),
      takerSide: taker.side,
      takerOrderId: taker.orderId,
      takerAccountId: taker.accountId,
      makerOrderId: maker.orderId,
      makerAccountId: maker.accountId,
      takerFee: normalize(takerFee),
      makerFee: normalize(makerFee),
    });
    if (maker.filledQuantity >= maker.quantity) {
      this.close(step, maker, "filled", "traded");
    } else {
      maker.status = "partially_filled";
      this.orderEvent(step, maker, "traded");
    }
  }

  private trigger(step: Step, o: RefOrder): void {
    const rm = o.market;
    rm.stops.splice(rm.stops.indexOf(o), 1);
    o.status = "open";
    this.orderEvent(step, o, "triggered");
    if (o.orderType === "stop_market" && o.side === "buy" && o.quoteQuantity === 0n) {
      this.cover("triggered market buy walks");
      const cost = this.walk(rm, "buy", o.accountId, o.selfTradePrevention, 0, o.quantity).cost;
      const hold = cost + feeOf(cost, rm.m.takerFeeBps);
      if (this.accounts[o.accountId]!.available[rm.m.quote.index]! < hold) {
        this.close(step, o, "cancelled", "insufficient_funds");
        return;
      }
      o.walkCost = cost;
      this.lock(step, o, hold);
    }
    this.match(step, o);
  }

  // ---------------------------------------------------------------- order lifecycle

  private addOpen(o: RefOrder): void {
    this.orders.set(o.orderId, o);
    this.accounts[o.accountId]!.openOrders += 1;
    if (o.timeInForce === "GTD") this.gtd.add(o);
  }

  /** Takes a resting order out of its book level, dropping the level when it empties. */
  private unrest(o: RefOrder): boolean {
    const levels = o.side === "buy" ? o.market.bids : o.market.asks;
    const level = levels.get(o.price);
    const index = level === undefined ? -1 : level.indexOf(o);
    if (level === undefined || index < 0) return false;
    level.splice(index, 1);
    if (level.length === 0) levels.delete(o.price);
    return true;
  }

  /** Ends an order: out of the book or stops, hold released, event. */
  private close(step: Step, o: RefOrder, status: OrderStatus, reason: OrderReason): void {
    if (o.status === "untriggered") {
      const stops = o.market.stops;
      stops.splice(stops.indexOf(o), 1);
    } else {
      this.unrest(o);
    }
    this.orders.delete(o.orderId);
    this.gtd.delete(o);
    this.accounts[o.accountId]!.openOrders -= 1;
    this.release(step, o);
    o.status = status;
    this.orderEvent(step, o, reason);
  }

  private orderEvent(step: Step, o: RefOrder, reason: OrderReason): void {
    step.out.push({
      type: "order",
      seq: step.seq,
      time: step.time,
      reason,
      orderId: o.orderId,
      accountId: o.accountId,
      symbol: o.market.m.symbol,
      side: o.side,
      orderType: o.orderType,
      timeInForce: o.timeInForce,
      price: o.price,
      stopPrice: o.stopPrice,
      quantity: o.quantity,
      filledQuantity: o.filledQuantity,
      filledNotional: normalize(o.filledNotional),
      quoteQuantity: normalize(o.quoteQuantity),
      status: o.status,
      postOnly: o.postOnly,
      expireTime: o.expireTime,
      clientOrderId: o.clientOrderId,
      selfTradePrevention: o.selfTradePrevention,
      createdAt: o.createdAt,
    });
  }

  // ---------------------------------------------------------------- cancel, cancel_all, amend

  private ownOrder(accountId: number, orderId: number): RefOrder | undefined {
    const o = this.orders.get(orderId);
    return o !== undefined && o.accountId === accountId ? o : undefined;
  }

  private cancel(step: Step, c: CancelOrderCommand): void {
    if (!this.accountExists(c.accountId)) return this.reject(step, c, "UNKNOWN_ACCOUNT");
    const o = this.ownOrder(c.accountId, c.orderId);
    if (o === undefined) return this.reject(step, c, "ORDER_NOT_FOUND");
    this.close(step, o, "cancelled", "cancelled");
  }

  private cancelAll(step: Step, c: CancelAllCommand): void {
    if (!this.accountExists(c.accountId)) return this.reject(step, c, "UNKNOWN_ACCOUNT");
    if (c.symbol !== "" && !this.marketBySymbol.has(c.symbol)) return this.reject(step, c, "UNKNOWN_SYMBOL");
    const mine = [...this.orders.values()].filter(
      (o) => o.accountId === c.accountId && (c.symbol === "" || o.market.m.symbol === c.symbol),
    );
    mine.sort((a, b) => a.orderId - b.orderId);
    for (const o of mine) this.close(step, o, "cancelled", "cancelled");
  }

  private amend(step: Step, c: AmendOrderCommand): void {
    if (!this.accountExists(c.accountId)) return this.reject(step, c, "UNKNOWN_ACCOUNT");
    const o = this.ownOrder(c.accountId, c.orderId);
    if (o === undefined) return this.reject(step, c, "ORDER_NOT_FOUND");
    if (o.orderType !== "limit" && o.orderType !== "stop_limit")
      return this.reject(step, c, "INVALID_ORDER_TYPE");
    if (c.quantity === 0 && c.price === 0) return this.reject(step, c, "INVALID_QUANTITY");
    if (c.price > limits.priceTicksMax) return this.reject(step, c, "INVALID_PRICE");
    const rm = o.market;
    const m = rm.m;
    const quantity = c.quantity !== 0 ? c.quantity : o.quantity;
    const price = c.price !== 0 ? c.price : o.price;
    if (!(quantity > o.filledQuantity && quantity >= m.minQuantityLots && quantity <= m.maxQuantityLots)) {
      return this.reject(step, c, "INVALID_QUANTITY");
    }
    const n = this.notional(m, price, quantity);
    if (n > int64Max) return this.reject(step, c, "AMOUNT_OVERFLOW");
    if (n < big(m.minNotional)) return this.reject(step, c, "MIN_NOTIONAL");
    const hold = this.limitHold(m, o.side, price, quantity - o.filledQuantity);
    const available = this.accounts[o.accountId]!.available[this.heldAsset(o)]!;
    if (hold > available + o.hold) return this.reject(step, c, "INSUFFICIENT_FUNDS");
    if (o.postOnly && this.wouldTake(rm, o.side, price)) return this.reject(step, c, "POST_ONLY_WOULD_TAKE");
    const resting = o.status !== "untriggered";
    if (resting && price !== o.price) {
      const code = this.levelBoundsCode(rm, o.side, price);
      if (code !== null) return this.reject(step, c, code);
    }
    const keepsPlace = price === o.price && quantity <= o.quantity;
    this.cover(!resting ? "amend untriggered stop" : keepsPlace ? "amend keeps place" : "amend requeues");
    this.release(step, o);
    this.lock(step, o, hold);
    if (resting && !keepsPlace) this.unrest(o);
    o.quantity = quantity;
    o.price = price;
    this.orderEvent(step, o, "amended");
    if (!resting) {
      step.touched.add(rm);
      return;
    }
    if (!keepsPlace) this.match(step, o);
  }

  // ---------------------------------------------------------------- dump

  dump(): EngineDump {
    const orders = [...this.orders.values()].sort((a, b) => a.orderId - b.orderId);
    return {
      lastSeq: this.lastSeq,
      time: this.time,
      nextAccountId: this.accounts.length,
      nextOrderId: this.nextOrderId,
      nextTradeId: this.nextTradeId,
      accounts: this.accounts.map((a) => ({
        accountId: a.accountId,
        balances: a.available.map((available, i): [string, string] => [
          available.toString(),
          a.locked[i]!.toString(),
        ]),
      })),
      orders: orders.map((o) => this.orderDump(o)),
      markets: this.markets.map((rm) => this.marketDump(rm)),
    };
  }

  private orderDump(o: RefOrder): OrderDump {
    return {
      orderId: o.orderId,
      accountId: o.accountId,
      symbol: o.market.m.symbol,
      side: o.side,
      orderType: o.orderType,
      timeInForce: o.timeInForce,
      price: o.price,
      stopPrice: o.stopPrice,
      quantity: o.quantity,
      filledQuantity: o.filledQuantity,
      filledNotional: o.filledNotional.toString(),
      quoteQuantity: o.quoteQuantity.toString(),
      hold: o.hold.toString(),
      status: o.status,
      postOnly: o.postOnly,
      expireTime: o.expireTime,
      clientOrderId: o.clientOrderId,
      selfTradePrevention: o.selfTradePrevention,
      createdAt: o.createdAt,
    };
  }

  private marketDump(rm: RefMarket): MarketDump {
    const ids = (levels: [number, RefOrder[]][]): [number, number[]][] =>
      levels.map(([price, level]) => [price, level.map((o) => o.orderId)]);
    return {
      symbol: rm.m.symbol,
      lastPrice: rm.lastPrice,
      bids: ids(sortedLevels(rm.bids, "bids")),
      asks: ids(sortedLevels(rm.asks, "asks")),
      stops: rm.stops.map((o) => o.orderId).sort((a, b) => a - b),
    };
  }
}

/** For tests that want a plain Int from a dump string. */
export function intOf(text: string): Int {
  return normalize(BigInt(text));
}
