/**
 * The matching engine: a pure, deterministic state machine. `apply(command, out)` appends the
 * command's events to `out`; docs/engine.md is its specification, rule by rule.
 *
 * Fail-fast policy (NautilusTrader's): expected failures are `rejected` events with a code; a broken
 * invariant (a hold that cannot pay a notional, a sequence going backwards) throws, because the state
 * can no longer be trusted and the process must stop rather than journal a lie.
 */
import { limits } from "../limits.js";
import { Account } from "./account.js";
import type { Level } from "./book.js";
import type { EngineCode } from "./codes.js";
import { type EngineConfig, type Market, type SettledConfig, settleConfig } from "./config.js";
import type { EngineDump, EngineModel, OrderDump } from "./dump.js";
import { GtdQueue } from "./gtd-queue.js";
import { add, big, feeCeil, type Int, inInt64, min, mul, sub } from "./int.js";
import { MarketState } from "./market-state.js";
import {
  nil,
  type OrderExtra,
  OrderStore,
  packFlags,
  Status,
  sideNames,
  statusNames,
  stpNames,
  Tif,
  Type,
  tifNames,
  typeNames,
} from "./order-store.js";
import { readSnapshot, writeSnapshot } from "./snapshot.js";
import { sha256Hex } from "./state-hash.js";
import type {
  AmendOrderCommand,
  CancelAllCommand,
  CancelOrderCommand,
  Command,
  CreateAccountCommand,
  EngineEvent,
  OrderReason,
  PlaceOrderCommand,
  Side,
  TransferCommand,
} from "./types.js";

export const feeAccountId = 0;

const clientOrderIdPattern = /^[A-Za-z0-9_-]{1,36}$/;
const transferIdPattern = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Why matching stopped. */
enum End {
  /** Quantity filled, or no acceptable liquidity left. */
  Book = 0,
  SelfTrade = 1,
  FillLimit = 2,
  /** A market buy by quoteQuantity cannot pay for one more lot. */
  Budget = 3,
}

export interface TransferRecord {
  kind: "deposit" | "withdraw";
  accountId: number;
  asset: number;
  amount: Int;
}

function isCount(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

function isAmount(x: unknown): x is Int {
  return (typeof x === "number" && Number.isSafeInteger(x)) || typeof x === "bigint";
}

export class Engine implements EngineModel {
  readonly config: SettledConfig;
  /** Index = accountId; account 0 is the fee account. */
  readonly accounts: Account[] = [];
  readonly store = new OrderStore();
  readonly markets: MarketState[];
  readonly marketBySymbol = new Map<string, MarketState>();
  /** Per asset index: deposits minus withdrawals, i.e. the sum of every balance of that asset. */
  readonly supply: Int[];
  readonly transfers = new Map<string, TransferRecord>();
  readonly gtd = new GtdQueue();
  readonly accountByApiKey = new Map<string, Account>();
  nextOrderId = 1;
  nextTradeId = 1;
  lastSeq = 0;
  time = 0;

  // Scratch state of the command being applied.
  private stamp = 0;
  private seq = 0;
  private out: EngineEvent[] = [];
  // Balances saved before their first change in this command: parallel arrays used as a stack of
  // `dirtyCount` entries, overwritten rather than truncated (truncating an array is a runtime call).
  private dirtyCount = 0;
  private readonly dirtyAccounts: Account[] = [];
  private readonly dirtyAssets: number[] = [];
  private readonly dirtyAvailable: Int[] = [];
  private readonly dirtyLocked: Int[] = [];
  private readonly dirtyChanged: number[] = [];
  /** Markets touched by this command (a stack of `touchedCount`, overwritten, never truncated). */
  private readonly touchedMarkets: MarketState[] = [];
  private touchedCount = 0;
  private walkCost: Int = 0;
  /** False while replaying: state changes only, no events built (recovery, followers, verify). */
  private emitting = true;
  private readonly discarded: EngineEvent[] = [];
  /** Notional a market buy by quantity may still spend: the walk cost it was held for (see payFromHold). */
  private takerWalkCost: Int = 0;

  constructor(config: EngineConfig | SettledConfig) {
    this.config = "assetByName" in config ? config : settleConfig(config);
    this.markets = this.config.markets.map((m) => new MarketState(m, this.store));
    for (const ms of this.markets) this.marketBySymbol.set(ms.market.symbol, ms);
    this.supply = this.config.assets.map(() => 0);
    this.accounts.push(new Account(feeAccountId, this.config.assets.length));
  }

  // ───────────────────────────── the command loop ─────────────────────────────

  /**
   * Applies a command for its effect on the state only, building no events: replaying a journal
   * needs the state, not the events, and skipping them makes replay several times faster.
   */
  replay(cmd: Command): void {
    this.emitting = false;
    try {
      this.apply(cmd, this.discarded);
    } finally {
      this.emitting = true;
    }
  }

  apply(cmd: Command, out: EngineEvent[]): void {
    if (!(cmd.seq > this.lastSeq) || !(cmd.time >= this.time)) {
      throw new Error(
        `engine: command seq ${cmd.seq} time ${cmd.time} after seq ${this.lastSeq} time ${this.time}: the sequencer must never go backwards`,
      );
    }
    this.out = out;
    this.seq = cmd.seq;
    this.time = cmd.time;
    this.lastSeq = cmd.seq;
    this.stamp++;
    if (this.gtd.size > 0) this.expireDue();
    switch (cmd.type) {
      case "place":
        this.place(cmd);
        break;
      case "amend":
        this.amend(cmd);
        break;
      case "cancel":
        this.cancel(cmd);
        break;
      case "cancel_all":
        this.cancelAll(cmd);
        break;
      case "deposit":
      case "withdraw":
        this.transfer(cmd);
        break;
      case "create_account":
        this.createAccount(cmd);
        break;
      case "tick":
        break;
      default:
        throw new Error(`engine: unknown command type ${(cmd as { type: unknown }).type}`);
    }
    if (this.touchedCount > 0) this.runStops();
    if (this.dirtyCount > 0) this.flushBalances();
  }

  private reject(
    command: Command["type"],
    code: EngineCode,
    accountId: number,
    orderId = 0,
    clientOrderId = "",
  ): void {
    if (!this.emitting) return;
    this.out.push({
      type: "rejected",
      seq: this.seq,
      time: this.time,
      command,
      code,
      accountId,
      orderId,
      clientOrderId,
    });
  }

  private accountOf(id: number): Account | undefined {
    return isCount(id) && id < this.accounts.length ? this.accounts[id] : undefined;
  }

  // ───────────────────────────── balances ─────────────────────────────

  /** Saves the balance before its first change in this command, for the balance events. */
  private touch(account: Account, asset: number): void {
    if (account.touchedStamp[asset] === this.stamp || !this.emitting) return;
    account.touchedStamp[asset] = this.stamp;
    const i = this.dirtyCount++;
    this.dirtyAccounts[i] = account;
    this.dirtyAssets[i] = asset;
    this.dirtyAvailable[i] = account.available[asset]!;
    this.dirtyLocked[i] = account.locked[asset]!;
  }

  private lock(account: Account, asset: number, amount: Int): void {
    if (amount === 0) return;
    this.touch(account, asset);
    account.available[asset] = sub(account.available[asset]!, amount);
    account.locked[asset] = add(account.locked[asset]!, amount);
  }

  private unlock(account: Account, asset: number, amount: Int): void {
    if (amount === 0) return;
    this.touch(account, asset);
    account.locked[asset] = sub(account.locked[asset]!, amount);
    account.available[asset] = add(account.available[asset]!, amount);
  }

  private credit(account: Account, asset: number, amount: Int): void {
    if (amount === 0) return;
    this.touch(account, asset);
    account.available[asset] = add(account.available[asset]!, amount);
  }

  private debitAvailable(account: Account, asset: number, amount: Int): void {
    if (amount === 0) return;
    this.touch(account, asset);
    account.available[asset] = sub(account.available[asset]!, amount);
  }

  private debitLocked(account: Account, asset: number, amount: Int): void {
    if (amount === 0) return;
    this.touch(account, asset);
    account.locked[asset] = sub(account.locked[asset]!, amount);
  }

  /** One balance event per (account, asset) that changed in this command, by (accountId, asset). */
  private flushBalances(): void {
    const accounts = this.dirtyAccounts;
    const assets = this.dirtyAssets;
    const n = this.dirtyCount;
    this.dirtyCount = 0;
    const changed = this.dirtyChanged;
    let count = 0;
    for (let i = 0; i < n; i++) {
      const a = accounts[i]!;
      const asset = assets[i]!;
      if (a.available[asset] !== this.dirtyAvailable[i] || a.locked[asset] !== this.dirtyLocked[i]) {
        changed[count++] = i;
      }
    }
    // Insertion sort: a command touches a handful of balances.
    for (let i = 1; i < count; i++) {
      const x = changed[i]!;
      let j = i - 1;
      while (j >= 0 && this.balanceAfter(changed[j]!, x)) {
        changed[j + 1] = changed[j]!;
        j--;
      }
      changed[j + 1] = x;
    }
    for (let k = 0; k < count; k++) {
      const i = changed[k]!;
      const a = accounts[i]!;
      const asset = assets[i]!;
      this.out.push({
        type: "balance",
        seq: this.seq,
        time: this.time,
        accountId: a.id,
        asset: this.config.assets[asset]!.asset,
        available: a.available[asset]!,
        locked: a.locked[asset]!,
      });
    }
  }

  /** Dirty entry x sorts after y by (accountId, asset). */
  private balanceAfter(x: number, y: number): boolean {
    const dx = this.dirtyAccounts[x]!.id - this.dirtyAccounts[y]!.id;
    return dx > 0 || (dx === 0 && this.dirtyAssets[x]! > this.dirtyAssets[y]!);
  }

  // ───────────────────────────── accounts and transfers ─────────────────────────────

  private createAccount(cmd: CreateAccountCommand): void {
    if (this.accounts.length > limits.accountsMax) {
      this.reject("create_account", "TOO_MANY_ACCOUNTS", 0);
      return;
    }
    const account = new Account(this.accounts.length, this.config.assets.length);
    account.name = cmd.name ?? "";
    account.apiKey = cmd.apiKey ?? "";
    account.sealedSecret = cmd.sealedSecret ?? "";
    this.accounts.push(account);
    if (account.apiKey !== "") this.accountByApiKey.set(account.apiKey, account);
    if (this.emitting)
      this.out.push({ type: "account_created", seq: this.seq, time: this.time, accountId: account.id });
  }

  private transfer(cmd: TransferCommand): void {
    const account = this.accountOf(cmd.accountId);
    if (account === undefined) return this.reject(cmd.type, "UNKNOWN_ACCOUNT", cmd.accountId);
    const asset = this.config.assetByName.get(cmd.asset);
    if (asset === undefined) return this.reject(cmd.type, "UNKNOWN_ASSET", account.id);
    if (typeof cmd.transferId !== "string" || !transferIdPattern.test(cmd.transferId)) {
      return this.reject(cmd.type, "INVALID_TRANSFER_ID", account.id);
    }
    const amount = cmd.amount;
    if (!isAmount(amount) || !(amount > 0)) return this.reject(cmd.type, "INVALID_AMOUNT", account.id);
    if (!inInt64(amount)) return this.reject(cmd.type, "AMOUNT_OVERFLOW", account.id);
    const previous = this.transfers.get(cmd.transferId);
    if (previous !== undefined) {
      if (
        previous.kind !== cmd.type ||
        previous.accountId !== account.id ||
        previous.asset !== asset.index ||
        previous.amount !== amount
      ) {
        return this.reject(cmd.type, "TRANSFER_ID_CONFLICT", account.id);
      }
      this.transferEvent(cmd, account.id, true);
      return;
    }
    if (this.transfers.size >= limits.transfersMax)
      return this.reject(cmd.type, "TOO_MANY_TRANSFERS", account.id);
    if (cmd.type === "deposit") {
      const supply = add(this.supply[asset.index]!, amount);
      if (!inInt64(supply)) return this.reject(cmd.type, "AMOUNT_OVERFLOW", account.id);
      this.supply[asset.index] = supply;
      this.credit(account, asset.index, amount);
    } else {
      if (account.available[asset.index]! < amount)
        return this.reject(cmd.type, "INSUFFICIENT_FUNDS", account.id);
      this.supply[asset.index] = sub(this.supply[asset.index]!, amount);
      this.debitAvailable(account, asset.index, amount);
    }
    this.transfers.set(cmd.transferId, { kind: cmd.type, accountId: account.id, asset: asset.index, amount });
    this.transferEvent(cmd, account.id, false);
  }

  private transferEvent(cmd: TransferCommand, accountId: number, duplicate: boolean): void {
    if (!this.emitting) return;
    this.out.push({
      type: "transfer",
      seq: this.seq,
      time: this.time,
      kind: cmd.type,
      accountId,
      asset: cmd.asset,
      amount: cmd.amount,
      transferId: cmd.transferId,
      duplicate,
    });
  }

  // ───────────────────────────── placing orders ─────────────────────────────

  private notional(market: Market, price: number, quantity: number): Int {
    return mul(mul(price, quantity), market.quoteUnitsPerTickLot);
  }

  /** docs/engine.md "place" step 4-8: the shape of the order alone, without the book or balances. */
  private shapeError(cmd: PlaceOrderCommand, market: Market): EngineCode | null {
    const { orderType, side } = cmd;
    const isLimit = orderType === "limit" || orderType === "stop_limit";
    const isStop = orderType === "stop_limit" || orderType === "stop_market";
    if (!isLimit && orderType !== "market" && orderType !== "stop_market") return "INVALID_ORDER_TYPE";
    if (side !== "buy" && side !== "sell") return "INVALID_ORDER_TYPE";
    // A gateway only sends whole numbers; anything else is refused under the code of its field.
    if (!isAmount(cmd.quoteQuantity)) return "INVALID_QUANTITY";
    if (isLimit ? cmd.price === 0 : cmd.price !== 0) return "INVALID_PRICE";
    if (isStop ? cmd.stopPrice === 0 : cmd.stopPrice !== 0) return "INVALID_STOP_PRICE";
    if (cmd.postOnly !== false && (cmd.postOnly !== true || orderType !== "limit"))
      return "INVALID_ORDER_TYPE";
    const byQuote = cmd.quoteQuantity !== 0;
    if (cmd.quoteQuantity < 0) return "INVALID_QUANTITY";
    if (isLimit) {
      if (byQuote) return "INVALID_ORDER_TYPE";
      if (cmd.quantity === 0) return "INVALID_QUANTITY";
    } else {
      if (byQuote && (side === "sell" || cmd.quantity !== 0)) return "INVALID_ORDER_TYPE";
      if (!byQuote && cmd.quantity === 0) return "INVALID_QUANTITY";
    }
    if (!isCount(cmd.price) || cmd.price > limits.priceTicksMax) return "INVALID_PRICE";
    if (!isCount(cmd.stopPrice) || cmd.stopPrice > limits.priceTicksMax) return "INVALID_STOP_PRICE";
    const tif = cmd.timeInForce;
    if (tif !== "GTC" && tif !== "IOC" && tif !== "FOK" && tif !== "GTD") return "INVALID_TIME_IN_FORCE";
    if (!isLimit && (tif === "GTD" || (tif === "FOK" && byQuote))) return "INVALID_TIME_IN_FORCE";
    if (cmd.postOnly && tif !== "GTC" && tif !== "GTD") return "INVALID_TIME_IN_FORCE";
    if (!isCount(cmd.expireTime)) return "INVALID_EXPIRE_TIME";
    if (tif === "GTD" ? !(cmd.expireTime > cmd.time) : cmd.expireTime !== 0) return "INVALID_EXPIRE_TIME";
    const validSelfTrade =
      cmd.selfTradePrevention === "cancel_taker" ||
      cmd.selfTradePrevention === "cancel_maker" ||
      cmd.selfTradePrevention === "cancel_both";
    if (!validSelfTrade) return "INVALID_ORDER_TYPE";
    if (
      cmd.quantity !== 0 &&
      (!isCount(cmd.quantity) ||
        cmd.quantity < market.minQuantityLots ||
        cmd.quantity > market.maxQuantityLots)
    ) {
      return "INVALID_QUANTITY";
    }
    if (byQuote && !inInt64(cmd.quoteQuantity)) return "AMOUNT_OVERFLOW";
    if (isLimit) {
      const notional = this.notional(market, cmd.price, cmd.quantity);
      if (!inInt64(notional)) return "AMOUNT_OVERFLOW";
      if (notional < market.minNotional) return "MIN_NOTIONAL";
    }
    if (byQuote && cmd.quoteQuantity < market.minNotional) return "MIN_NOTIONAL";
    return null;
  }

  private place(cmd: PlaceOrderCommand): void {
    const account = this.accountOf(cmd.accountId);
    if (account === undefined)
      return this.reject("place", "UNKNOWN_ACCOUNT", cmd.accountId, 0, cmd.clientOrderId);
    const ms = this.marketBySymbol.get(cmd.symbol);
    if (ms === undefined) return this.reject("place", "UNKNOWN_SYMBOL", account.id, 0, cmd.clientOrderId);
    const clientOrderId = cmd.clientOrderId;
    if (clientOrderId !== "") {
      if (typeof clientOrderId !== "string" || !clientOrderIdPattern.test(clientOrderId)) {
        return this.reject("place", "INVALID_CLIENT_ORDER_ID", account.id, 0, "");
      }
      const original = account.clientOrderIds?.get(clientOrderId);
      if (original !== undefined) {
        if (this.emitting)
          this.out.push({
            type: "duplicate_order",
            seq: this.seq,
            time: this.time,
            accountId: account.id,
            orderId: original,
            clientOrderId,
          });
        return;
      }
    }
    const market = ms.market;
    const shape = this.shapeError(cmd, market);
    if (shape !== null) return this.reject("place", shape, account.id, 0, clientOrderId);
    const isStop = cmd.orderType === "stop_limit" || cmd.orderType === "stop_market";
    if (account.openOrderCount >= limits.openOrdersPerAccountMax) {
      return this.reject("place", "TOO_MANY_OPEN_ORDERS", account.id, 0, clientOrderId);
    }
    if (isStop && ms.stops.length >= limits.stopOrdersPerMarketMax) {
      return this.reject("place", "TOO_MANY_STOP_ORDERS", account.id, 0, clientOrderId);
    }
    const isBuy = cmd.side === "buy";
    const heldAsset = isBuy ? market.quote.index : market.base.index;
    let hold: Int;
    if (!isBuy) {
      hold = mul(cmd.quantity, market.baseUnitsPerLot);
    } else if (cmd.orderType === "limit" || cmd.orderType === "stop_limit") {
      const notional = this.notional(market, cmd.price, cmd.quantity);
      hold = add(notional, feeCeil(notional, market.holdFeeBps));
    } else if (cmd.quoteQuantity !== 0) {
      hold = add(cmd.quoteQuantity, feeCeil(cmd.quoteQuantity, market.takerFeeBps));
    } else if (cmd.orderType === "market") {
      this.walk(ms, true, account.id, 0, cmd.selfTradePrevention === "cancel_maker", cmd.quantity);
      if (!inInt64(this.walkCost))
        return this.reject("place", "AMOUNT_OVERFLOW", account.id, 0, clientOrderId);
      hold = add(this.walkCost, feeCeil(this.walkCost, market.takerFeeBps));
    } else {
      hold = 0; // a stop_market buy by quantity prices its hold when it triggers
    }
    // No balance exceeds 2^63-1 (deposits are capped by supply), so a larger hold is simply unaffordable.
    if (account.available[heldAsset]! < hold) {
      return this.reject("place", "INSUFFICIENT_FUNDS", account.id, 0, clientOrderId);
    }
    if (cmd.postOnly && this.wouldTake(ms, isBuy, cmd.price)) {
      return this.reject("place", "POST_ONLY_WOULD_TAKE", account.id, 0, clientOrderId);
    }
    if (cmd.orderType === "limit" && (cmd.timeInForce === "GTC" || cmd.timeInForce === "GTD")) {
      const code = this.levelBoundError(ms, isBuy, cmd.price);
      if (code !== null) return this.reject("place", code, account.id, 0, clientOrderId);
    }

    const orderId = this.nextOrderId++;
    const extra: OrderExtra | null =
      cmd.stopPrice !== 0 || cmd.expireTime !== 0 || cmd.quoteQuantity !== 0 || clientOrderId !== ""
        ? {
            stopPrice: cmd.stopPrice,
            expireTime: cmd.expireTime,
            quoteQuantity: cmd.quoteQuantity,
            clientOrderId,
          }
        : null;
    const flags = packFlags(
      isBuy ? 0 : 1,
      typeNames.indexOf(cmd.orderType),
      tifNames.indexOf(cmd.timeInForce),
      stpNames.indexOf(cmd.selfTradePrevention),
      cmd.postOnly,
      isStop ? Status.Untriggered : Status.Open,
      market.index,
    );
    const store = this.store;
    const slot = store.allocate(orderId, account.id, flags, cmd.price, cmd.quantity, this.time, extra);
    if (clientOrderId !== "") this.rememberClientOrderId(account, clientOrderId, orderId);
    this.lock(account, heldAsset, hold);
    store.setHold(slot, hold);
    account.linkOrder(store, slot);
    if (cmd.timeInForce === "GTD") this.gtd.push(cmd.expireTime, orderId);
    this.orderEvent(slot, "placed");
    if (isStop) {
      ms.stops.push(slot);
      this.touchMarket(ms);
      return;
    }
    if (isBuy && cmd.orderType === "market") this.takerWalkCost = this.walkCost;
    this.execute(slot);
  }

  private rememberClientOrderId(account: Account, clientOrderId: string, orderId: number): void {
    let ids = account.clientOrderIds;
    if (ids === null) ids = account.clientOrderIds = new Map();
    if (ids.size >= limits.clientOrderIdsPerAccountMax) ids.delete(ids.keys().next().value!);
    ids.set(clientOrderId, orderId);
  }

  private wouldTake(ms: MarketState, isBuy: boolean, price: number): boolean {
    const best = ms.oppositeOf(isBuy).best();
    return best !== null && (isBuy ? best.price <= price : best.price >= price);
  }

  private levelBoundError(ms: MarketState, isBuy: boolean, price: number): EngineCode | null {
    const side = ms.sideOf(isBuy);
    const count = side.countAt(price);
    if (count === 0) return side.liveLevels >= limits.priceLevelsPerSideMax ? "BOOK_LEVELS_FULL" : null;
    return count >= limits.ordersPerLevelMax ? "PRICE_LEVEL_FULL" : null;
  }

  /**
   * Walks the opposite side as a taker would (docs/engine.md "Walking"): returns the lots it would get
   * and leaves their notional in `walkCost`. Changes nothing.
   */
  private walk(
    ms: MarketState,
    isBuy: boolean,
    accountId: number,
    limitPrice: number,
    cancelMaker: boolean,
    want: number,
  ): number {
    const market = ms.market;
    const store = this.store;
    const chunks = ms.oppositeOf(isBuy).chunks;
    let got = 0;
    let cost: Int = 0;
    let fills = 0;
    outer: for (let c = chunks.length - 1; c >= 0; c--) {
      const chunk = chunks[c]!;
      for (let i = chunk.length - 1; i >= 0; i--) {
        if (got >= want) break outer;
        const level = chunk[i]!;
        if (limitPrice !== 0 && (isBuy ? level.price > limitPrice : level.price < limitPrice)) break outer;
        for (let o = level.head; o !== nil && got < want; o = store.next[o]!) {
          if (store.account[o] === accountId) {
            if (cancelMaker) continue;
            break outer;
          }
          if (fills === limits.fillsPerOrderMax) break outer;
          fills++;
          const take = Math.min(store.remaining(o), want - got);
          got += take;
          cost = add(cost, this.notional(market, level.price, take));
        }
      }
    }
    this.walkCost = cost;
    return got;
  }

  // ───────────────────────────── matching ─────────────────────────────

  /** A taker (new, triggered or amended order) matches, then rests, fills or ends. */
  private execute(slot: number): void {
    const store = this.store;
    const filledBefore = store.filled[slot]!;
    const isBuy = store.isBuy(slot);
    const ms = this.markets[store.market(slot)]!;
    const tif = store.tif(slot);
    if (tif === Tif.FOK) {
      const want = store.remaining(slot);
      const cancelMaker = store.stp(slot) === 1;
      if (this.walk(ms, isBuy, store.account[slot]!, store.price[slot]!, cancelMaker, want) < want) {
        this.close(slot, Status.Expired, "expired_fok");
        return;
      }
    }
    const end = this.match(slot, ms, isBuy);
    const type = store.type(slot);
    const rests = (type === Type.Limit || type === Type.StopLimit) && (tif === Tif.GTC || tif === Tif.GTD);
    if (end === End.SelfTrade) {
      this.close(slot, Status.Cancelled, "self_trade");
    } else if (store.filled[slot] === store.quantity[slot] && store.quoteQuantity(slot) === 0) {
      this.close(slot, Status.Filled, "traded");
    } else if (end === End.Budget) {
      if (store.filled[slot]! > 0) this.close(slot, Status.Filled, "traded");
      else this.close(slot, Status.Expired, "expired_ioc");
    } else if (rests) {
      store.setStatus(slot, store.filled[slot]! > 0 ? Status.PartiallyFilled : Status.Open);
      ms.sideOf(isBuy).append(slot);
      if (store.filled[slot]! > filledBefore) this.orderEvent(slot, "traded");
    } else {
      this.close(slot, Status.Expired, end === End.FillLimit ? "fill_limit" : "expired_ioc");
    }
  }

  private match(taker: number, ms: MarketState, isBuy: boolean): End {
    const store = this.store;
    const opposite = ms.oppositeOf(isBuy);
    const limitPrice = store.price[taker]!;
    const quoteQuantity = store.quoteQuantity(taker);
    const byBudget = quoteQuantity !== 0;
    const perLotScale = ms.market.quoteUnitsPerTickLot;
    const takerAccount = store.account[taker]!;
    let fills = 0;
    for (;;) {
      const remaining = store.quantity[taker]! - store.filled[taker]!;
      if (byBudget) {
        if (!(store.filledNotional(taker) < quoteQuantity)) return End.Budget;
      } else if (remaining === 0) return End.Book;
      const level = opposite.best();
      if (level === null) return End.Book;
      const price = level.price;
      if (limitPrice !== 0 && (isBuy ? price > limitPrice : price < limitPrice)) return End.Book;
      const maker = level.head;
      if (store.account[maker] === takerAccount) {
        const mode = store.stp(taker);
        if (mode === 0) return End.SelfTrade; // cancel_taker
        this.close(maker, Status.Cancelled, "self_trade");
        if (mode === 2) return End.SelfTrade; // cancel_both
        continue;
      }
      if (fills === limits.fillsPerOrderMax) return End.FillLimit;
      let quantity = store.quantity[maker]! - store.filled[maker]!;
      if (byBudget) {
        const budgetLeft = sub(quoteQuantity, store.filledNotional(taker));
        const perLot = mul(price, perLotScale);
        const affordable = budgetLeft < perLot ? 0 : Number(big(budgetLeft) / big(perLot));
        if (affordable === 0) return End.Budget;
        if (affordable < quantity) quantity = affordable;
      } else if (remaining < quantity) {
        quantity = remaining;
      }
      this.trade(taker, maker, ms, level, isBuy, quantity);
      fills++;
    }
  }

  private trade(
    taker: number,
    maker: number,
    ms: MarketState,
    level: Level,
    takerBuys: boolean,
    quantity: number,
  ): void {
    const store = this.store;
    const market = ms.market;
    const price = level.price;
    const quote = market.quote.index;
    const base = market.base.index;
    const notional = this.notional(market, price, quantity);
    let takerFee = feeCeil(notional, market.takerFeeBps);
    let makerFee = feeCeil(notional, market.makerFeeBps);
    const baseAmount = mul(quantity, market.baseUnitsPerLot);
    const buyer = takerBuys ? taker : maker;
    const seller = takerBuys ? maker : taker;
    const accounts = this.accounts;
    const sellerAccount = accounts[store.account[seller]!]!;
    const buyerAccount = accounts[store.account[buyer]!]!;

    store.setHold(seller, sub(store.hold(seller), baseAmount));
    this.debitLocked(sellerAccount, base, baseAmount);
    this.credit(sellerAccount, quote, sub(notional, takerBuys ? makerFee : takerFee));
    this.credit(buyerAccount, base, baseAmount);
    const reserve = this.reserveAfter(buyer, buyer === taker, market, price, quantity, notional);
    if (takerBuys) takerFee = this.payFromHold(buyer, buyerAccount, quote, notional, takerFee, reserve);
    else makerFee = this.payFromHold(buyer, buyerAccount, quote, notional, makerFee, reserve);
    this.credit(accounts[feeAccountId]!, quote, add(takerFee, makerFee));

    store.filled[maker] = store.filled[maker]! + quantity;
    store.setFilledNotional(maker, add(store.filledNotional(maker), notional));
    store.filled[taker] = store.filled[taker]! + quantity;
    store.setFilledNotional(taker, add(store.filledNotional(taker), notional));
    level.total -= quantity;
    ms.lastPrice = price;
    this.touchMarket(ms);
    const tradeId = this.nextTradeId++;
    if (this.emitting)
      this.out.push({
        type: "trade",
        seq: this.seq,
        time: this.time,
        tradeId,
        symbol: market.symbol,
        price,
        quantity,
        notional,
        takerSide: sideNames[store.side(taker)]!,
        takerOrderId: store.id[taker]!,
        takerAccountId: store.account[taker]!,
        makerOrderId: store.id[maker]!,
        makerAccountId: store.account[maker]!,
        takerFee,
        makerFee,
      });
    if (store.filled[maker] === store.quantity[maker]) {
      this.close(maker, Status.Filled, "traded");
    } else {
      store.setStatus(maker, Status.PartiallyFilled);
      this.orderEvent(maker, "traded");
    }
  }

  /**
   * The notional a buy order may still have to pay after this fill, which its hold must keep
   * covering: at its limit price for the rest of its quantity; for a market buy, the rest of its
   * quote budget or of the walk cost it was held for.
   */
  private reserveAfter(
    buyer: number,
    isTaker: boolean,
    market: Market,
    price: number,
    quantity: number,
    notional: Int,
  ): Int {
    const store = this.store;
    const type = store.type(buyer);
    if (type === Type.Limit || type === Type.StopLimit) {
      const limitPrice = isTaker ? store.price[buyer]! : price;
      return this.notional(market, limitPrice, store.quantity[buyer]! - store.filled[buyer]! - quantity);
    }
    const budget = store.quoteQuantity(buyer);
    const spent = add(store.filledNotional(buyer), notional);
    return sub(budget !== 0 ? budget : this.takerWalkCost, spent);
  }

  /**
   * The buyer pays notional + fee. The hold always covers the notional and the reserve for the rest
   * of the order; the fee comes from what the hold has beyond that. Per-trade rounding of fees can
   * exceed the hold's single rounding by one unit per fill: the rest of the fee then comes from the
   * available balance, and if that is short too, the fee is reduced (docs/engine.md). Returns the fee
   * actually charged.
   */
  private payFromHold(
    buyer: number,
    account: Account,
    quote: number,
    notional: Int,
    fee: Int,
    reserve: Int,
  ): Int {
    const store = this.store;
    const hold = store.hold(buyer);
    const spare = sub(sub(hold, notional), reserve);
    if (spare < 0) {
      throw new Error(`engine: order ${store.id[buyer]} holds less than its notionals: holds are broken`);
    }
    if (!(spare < fee)) {
      const pay = add(notional, fee);
      store.setHold(buyer, sub(hold, pay));
      this.debitLocked(account, quote, pay);
      return fee;
    }
    const pay = add(notional, spare);
    store.setHold(buyer, sub(hold, pay));
    this.debitLocked(account, quote, pay);
    const rest = sub(fee, spare);
    const available = account.available[quote]!;
    const fromAvailable = min(available, rest);
    this.debitAvailable(account, quote, fromAvailable);
    return add(spare, fromAvailable);
  }

  /** Ends an order: out of the book or the stops, hold released, event emitted, forgotten. */
  private close(slot: number, status: Status, reason: OrderReason): void {
    const store = this.store;
    const ms = this.markets[store.market(slot)]!;
    const isBuy = store.isBuy(slot);
    const previous = store.status(slot);
    if (previous === Status.Untriggered) ms.stops.splice(ms.stops.indexOf(slot), 1);
    else if (store.isResting(slot)) ms.sideOf(isBuy).remove(slot);
    const hold = store.hold(slot);
    const account = this.accounts[store.account[slot]!]!;
    if (hold !== 0) {
      const market = ms.market;
      this.unlock(account, isBuy ? market.quote.index : market.base.index, hold);
      store.setHold(slot, 0);
    }
    store.setStatus(slot, status);
    account.unlinkOrder(store, slot);
    this.orderEvent(slot, reason);
    store.release(slot);
  }

  private orderEvent(slot: number, reason: OrderReason): void {
    if (!this.emitting) return;
    const s = this.store;
    const extra = s.extra(slot);
    this.out.push({
      type: "order",
      seq: this.seq,
      time: this.time,
      reason,
      orderId: s.id[slot]!,
      accountId: s.account[slot]!,
      symbol: this.markets[s.market(slot)]!.market.symbol,
      side: sideNames[s.side(slot)]!,
      orderType: typeNames[s.type(slot)]!,
      timeInForce: tifNames[s.tif(slot)]!,
      price: s.price[slot]!,
      stopPrice: extra.stopPrice,
      quantity: s.quantity[slot]!,
      filledQuantity: s.filled[slot]!,
      filledNotional: s.filledNotional(slot),
      quoteQuantity: extra.quoteQuantity,
      status: statusNames[s.status(slot)]!,
      postOnly: s.postOnly(slot),
      expireTime: extra.expireTime,
      clientOrderId: extra.clientOrderId,
      selfTradePrevention: stpNames[s.stp(slot)]!,
      createdAt: s.createdAt[slot]!,
    });
  }

  // ───────────────────────────── stops and expiry ─────────────────────────────

  private touchMarket(ms: MarketState): void {
    if (ms.touchedStamp === this.stamp) return;
    ms.touchedStamp = this.stamp;
    this.touchedMarkets[this.touchedCount++] = ms;
  }

  private runStops(): void {
    const touched = this.touchedMarkets;
    const count = this.touchedCount;
    // Insertion sort by market index: a command touches one market, rarely more.
    for (let i = 1; i < count; i++) {
      const x = touched[i]!;
      let j = i - 1;
      while (j >= 0 && touched[j]!.market.index > x.market.index) {
        touched[j + 1] = touched[j]!;
        j--;
      }
      touched[j + 1] = x;
    }
    const store = this.store;
    let triggers = 0;
    // Triggering trades only in the stop's own market, which is already in the list.
    for (let m = 0; m < count; m++) {
      const ms = touched[m]!;
      while (ms.lastPrice !== 0 && ms.stops.length > 0 && triggers < limits.stopTriggersPerCommandMax) {
        const stops = ms.stops;
        const last = ms.lastPrice;
        let index = -1;
        for (let i = 0; i < stops.length; i++) {
          const s = stops[i]!;
          const stopPrice = store.stopPrice(s);
          if (store.isBuy(s) ? last >= stopPrice : last <= stopPrice) {
            index = i;
            break;
          }
        }
        if (index < 0) break;
        const slot = stops[index]!;
        stops.splice(index, 1);
        triggers++;
        this.trigger(slot, ms);
      }
    }
    this.touchedCount = 0;
  }

  private trigger(slot: number, ms: MarketState): void {
    const store = this.store;
    const market = ms.market;
    store.setStatus(slot, Status.Open);
    this.orderEvent(slot, "triggered");
    if (store.isBuy(slot) && store.type(slot) === Type.StopMarket && store.quoteQuantity(slot) === 0) {
      const account = this.accounts[store.account[slot]!]!;
      this.walk(ms, true, account.id, 0, store.stp(slot) === 1, store.quantity[slot]!);
      const hold = add(this.walkCost, feeCeil(this.walkCost, market.takerFeeBps));
      if (account.available[market.quote.index]! < hold || !inInt64(hold)) {
        this.close(slot, Status.Cancelled, "insufficient_funds");
        return;
      }
      this.lock(account, market.quote.index, hold);
      store.setHold(slot, hold);
      this.takerWalkCost = this.walkCost;
    }
    this.execute(slot);
  }

  private expireDue(): void {
    const gtd = this.gtd;
    while (gtd.peekTime() <= this.time) {
      const slot = this.store.slotOf.get(gtd.pop());
      if (slot !== nil) this.close(slot, Status.Expired, "expired_gtd");
    }
  }

  // ───────────────────────────── cancel and amend ─────────────────────────────

  /** The slot of an order the account holds, or undefined. */
  private slotFor(account: Account, orderId: number): number | undefined {
    const slot = this.store.slotOf.get(orderId);
    return slot !== nil && this.store.account[slot] === account.id ? slot : undefined;
  }

  private cancel(cmd: CancelOrderCommand): void {
    const account = this.accountOf(cmd.accountId);
    if (account === undefined) return this.reject("cancel", "UNKNOWN_ACCOUNT", cmd.accountId, cmd.orderId);
    const slot = this.slotFor(account, cmd.orderId);
    if (slot === undefined) return this.reject("cancel", "ORDER_NOT_FOUND", account.id, cmd.orderId);
    this.close(slot, Status.Cancelled, "cancelled");
  }

  private cancelAll(cmd: CancelAllCommand): void {
    const account = this.accountOf(cmd.accountId);
    if (account === undefined) return this.reject("cancel_all", "UNKNOWN_ACCOUNT", cmd.accountId);
    let marketIndex = -1;
    if (cmd.symbol !== "") {
      const ms = this.marketBySymbol.get(cmd.symbol);
      if (ms === undefined) return this.reject("cancel_all", "UNKNOWN_SYMBOL", account.id);
      marketIndex = ms.market.index;
    }
    const store = this.store;
    for (let slot = account.firstOrder; slot !== nil; ) {
      const next = store.accountNext[slot]!;
      if (marketIndex < 0 || store.market(slot) === marketIndex)
        this.close(slot, Status.Cancelled, "cancelled");
      slot = next;
    }
  }

  private amend(cmd: AmendOrderCommand): void {
    const account = this.accountOf(cmd.accountId);
    if (account === undefined) return this.reject("amend", "UNKNOWN_ACCOUNT", cmd.accountId, cmd.orderId);
    const slot = this.slotFor(account, cmd.orderId);
    if (slot === undefined) return this.reject("amend", "ORDER_NOT_FOUND", account.id, cmd.orderId);
    const store = this.store;
    const type = store.type(slot);
    if (type !== Type.Limit && type !== Type.StopLimit) return this.rejectAmend(slot, "INVALID_ORDER_TYPE");
    if (cmd.quantity === 0 && cmd.price === 0) return this.rejectAmend(slot, "INVALID_QUANTITY");
    if (!isCount(cmd.price) || cmd.price > limits.priceTicksMax)
      return this.rejectAmend(slot, "INVALID_PRICE");
    if (!isCount(cmd.quantity)) return this.rejectAmend(slot, "INVALID_QUANTITY");
    const ms = this.markets[store.market(slot)]!;
    const market = ms.market;
    const oldPrice = store.price[slot]!;
    const oldQuantity = store.quantity[slot]!;
    const filled = store.filled[slot]!;
    const price = cmd.price === 0 ? oldPrice : cmd.price;
    const quantity = cmd.quantity === 0 ? oldQuantity : cmd.quantity;
    if (quantity <= filled || quantity < market.minQuantityLots || quantity > market.maxQuantityLots) {
      return this.rejectAmend(slot, "INVALID_QUANTITY");
    }
    const notional = this.notional(market, price, quantity);
    if (!inInt64(notional)) return this.rejectAmend(slot, "AMOUNT_OVERFLOW");
    if (notional < market.minNotional) return this.rejectAmend(slot, "MIN_NOTIONAL");
    const isBuy = store.isBuy(slot);
    const heldAsset = isBuy ? market.quote.index : market.base.index;
    const remaining = quantity - filled;
    let hold: Int;
    if (isBuy) {
      const remainingNotional = this.notional(market, price, remaining);
      hold = add(remainingNotional, feeCeil(remainingNotional, market.holdFeeBps));
    } else {
      hold = mul(remaining, market.baseUnitsPerLot);
    }
    const oldHold = store.hold(slot);
    if (add(account.available[heldAsset]!, oldHold) < hold)
      return this.rejectAmend(slot, "INSUFFICIENT_FUNDS");
    if (store.postOnly(slot) && this.wouldTake(ms, isBuy, price))
      return this.rejectAmend(slot, "POST_ONLY_WOULD_TAKE");
    const resting = store.isResting(slot);
    if (resting && price !== oldPrice) {
      const code = this.levelBoundError(ms, isBuy, price);
      if (code !== null) return this.rejectAmend(slot, code);
    }

    // Move only the difference: the balance events show the net change either way.
    if (oldHold < hold) this.lock(account, heldAsset, sub(hold, oldHold));
    else this.unlock(account, heldAsset, sub(oldHold, hold));
    store.setHold(slot, hold);
    if (!resting) {
      // An untriggered stop_limit: new terms, no book position to keep or lose.
      store.price[slot] = price;
      store.quantity[slot] = quantity;
      this.touchMarket(ms);
      this.orderEvent(slot, "amended");
      return;
    }
    if (price === oldPrice && quantity <= oldQuantity) {
      ms.sideOf(isBuy).levelOf(slot).total -= oldQuantity - quantity;
      store.quantity[slot] = quantity;
      this.orderEvent(slot, "amended");
      return;
    }
    ms.sideOf(isBuy).remove(slot);
    store.price[slot] = price;
    store.quantity[slot] = quantity;
    this.orderEvent(slot, "amended");
    this.execute(slot);
  }

  private rejectAmend(slot: number, code: EngineCode): void {
    const store = this.store;
    this.reject("amend", code, store.account[slot]!, store.id[slot]!, store.clientOrderId(slot));
  }

  // ───────────────────────────── state: dump, hash, snapshot, queries ─────────────────────────────

  /** An order the engine holds, as a plain object (the shape of `dump().orders`). */
  orderView(slot: number): OrderDump {
    const s = this.store;
    const extra = s.extra(slot);
    return {
      orderId: s.id[slot]!,
      accountId: s.account[slot]!,
      symbol: this.markets[s.market(slot)]!.market.symbol,
      side: sideNames[s.side(slot)]!,
      orderType: typeNames[s.type(slot)]!,
      timeInForce: tifNames[s.tif(slot)]!,
      price: s.price[slot]!,
      stopPrice: extra.stopPrice,
      quantity: s.quantity[slot]!,
      filledQuantity: s.filled[slot]!,
      filledNotional: String(s.filledNotional(slot)),
      quoteQuantity: String(extra.quoteQuantity),
      hold: String(s.hold(slot)),
      status: statusNames[s.status(slot)]!,
      postOnly: s.postOnly(slot),
      expireTime: extra.expireTime,
      clientOrderId: extra.clientOrderId,
      selfTradePrevention: stpNames[s.stp(slot)]!,
      createdAt: s.createdAt[slot]!,
    };
  }

  /** Every order the engine holds, by orderId. */
  openOrders(): OrderDump[] {
    const slots = this.store.slotOf.allValues();
    slots.sort((a, b) => this.store.id[a]! - this.store.id[b]!);
    return slots.map((slot) => this.orderView(slot));
  }

  dump(): EngineDump {
    const store = this.store;
    const sideDump = (levels: readonly Level[]): [number, number[]][] =>
      levels.map((level) => {
        const ids: number[] = [];
        for (let o = level.head; o !== nil; o = store.next[o]!) ids.push(store.id[o]!);
        return [level.price, ids];
      });
    return {
      lastSeq: this.lastSeq,
      time: this.time,
      nextAccountId: this.accounts.length,
      nextOrderId: this.nextOrderId,
      nextTradeId: this.nextTradeId,
      accounts: this.accounts.map((a) => ({
        accountId: a.id,
        balances: a.available.map((v, i) => [String(v), String(a.locked[i])] as [string, string]),
      })),
      orders: this.openOrders(),
      markets: this.markets.map((ms) => ({
        symbol: ms.market.symbol,
        lastPrice: ms.lastPrice,
        bids: sideDump(ms.bids.fromBest()),
        asks: sideDump(ms.asks.fromBest()),
        stops: ms.stops.map((slot) => store.id[slot]!),
      })),
    };
  }

  snapshot(): Uint8Array {
    return writeSnapshot(this);
  }

  static restore(config: EngineConfig, bytes: Uint8Array): Engine {
    return readSnapshot(new Engine(config), bytes);
  }

  stateHash(): string {
    return sha256Hex(this.snapshot());
  }

  /** Balances of an account by asset name, for the API; undefined for an unknown account. */
  balances(accountId: number): { asset: string; available: Int; locked: Int }[] | undefined {
    const account = this.accountOf(accountId);
    if (account === undefined) return undefined;
    return this.config.assets.map((a) => ({
      asset: a.asset,
      available: account.available[a.index]!,
      locked: account.locked[a.index]!,
    }));
  }

  /** The account an API key belongs to. */
  accountForApiKey(apiKey: string): Account | undefined {
    return this.accountByApiKey.get(apiKey);
  }

  /** An order the engine holds (open, partially filled, untriggered), or undefined. */
  order(orderId: number): OrderDump | undefined {
    const slot = this.store.slotOf.get(orderId);
    return slot === nil ? undefined : this.orderView(slot);
  }

  /** L2 view: [priceTicks, lots] best first, at most `depth` levels a side. */
  book(symbol: string, depth: number): { bids: [number, number][]; asks: [number, number][] } | undefined {
    const ms = this.marketBySymbol.get(symbol);
    if (ms === undefined) return undefined;
    const levelsOf = (levels: readonly Level[]): [number, number][] => levels.map((l) => [l.price, l.total]);
    return { bids: levelsOf(ms.bids.fromBest(depth)), asks: levelsOf(ms.asks.fromBest(depth)) };
  }
}

export type { Side };
