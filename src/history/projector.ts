/**
 * Turns the engine's events into history rows: trades, order lifecycles, and the ledger of every
 * balance movement. Pure but for its balance memory: the same commands and the same starting balances
 * always give the same rows, so a replay after a crash rewrites exactly what it wrote before.
 *
 * Ledger derivation. The engine reports, per command, the final balance of every (account, asset) it
 * changed. Deposits, withdrawals, settlements and fees are read from the `transfer` and `trade` events
 * exactly; whatever else moved between available and locked is a hold (placement, amendment) or a
 * release (an order ending, the fee reserve of a buy being spent): the residual, which must move
 * funds between the two buckets without creating any (asserted: a broken sum stops the writer, since
 * the history would no longer explain the balances).
 */
import type { SettledConfig } from "../engine/config.js";
import { feeAccountId } from "../engine/engine.js";
import { add, type Int, mul, sub } from "../engine/int.js";
import type { EngineEvent, OrderEvent, TradeEvent } from "../engine/types.js";
import type {
  BalanceRecord,
  CommandEvents,
  HistoryBatch,
  LedgerEntry,
  OrderRecord,
  TradeRecord,
} from "./records.js";

export interface BalanceKey {
  accountId: number;
  asset: string;
}

interface Balance {
  available: Int;
  locked: Int;
  /** Seq of the command that last changed it (0: never). */
  seq: number;
}

/** The movements of one (account, asset) within one command. */
class Movement {
  deposit: Int = 0;
  withdrawal: Int = 0;
  settlementIn: Int = 0;
  settlementOut: Int = 0;
  feeIn: Int = 0;
  feeOut: Int = 0;
  transferId = "";
  after: Balance | null = null;
  constructor(
    readonly accountId: number,
    readonly asset: string,
  ) {}
}

export class HistoryIntegrityError extends Error {
  override name = "HistoryIntegrityError";
}

/** Assets per engine are bounded by limits.assetsMax (1,000): an (account, asset) pair packs into one safe integer. */
const assetSlots = 1_024;

const zeroBalance: Balance = { available: 0, locked: 0, seq: 0 };

export class Projector {
  /** Balances as of the store's checkpoint (bounded; a miss is read from the store). */
  private readonly cache = new Map<number, Balance>();
  /** Balances changed by the batch being projected, until the store confirms it. */
  private staged = new Map<number, Balance>();
  private stagedBefore = new Map<number, Balance>();
  /** The movements of the command being projected (reused: cleared per command). */
  private readonly movements = new Map<number, Movement>();
  private readonly assetIndex = new Map<string, number>();

  constructor(
    private readonly config: SettledConfig,
    private readonly cacheEntriesMax: number,
  ) {
    if (config.assets.length > assetSlots) throw new Error(`projector: more than ${assetSlots} assets`);
    for (const a of config.assets) this.assetIndex.set(a.asset, a.index);
  }

  private key(accountId: number, asset: string): number {
    const index = this.assetIndex.get(asset);
    if (index === undefined) throw new HistoryIntegrityError(`projector: unknown asset ${asset}`);
    return accountId * assetSlots + index;
  }

  /** Balances the next projection needs that are not in memory: the caller loads them from the store. */
  missingKeys(commands: readonly CommandEvents[]): BalanceKey[] {
    const missing = new Map<number, BalanceKey>();
    const need = (accountId: number, asset: string): void => {
      const key = this.key(accountId, asset);
      if (!this.cache.has(key) && !missing.has(key)) missing.set(key, { accountId, asset });
    };
    for (const c of commands) {
      for (const e of c.events) {
        if (e.type === "balance") need(e.accountId, e.asset);
        else if (e.type === "transfer") need(e.accountId, e.asset);
        else if (e.type === "trade") {
          const market = this.market(e.symbol);
          need(e.takerAccountId, market.base.asset);
          need(e.takerAccountId, market.quote.asset);
          need(e.makerAccountId, market.base.asset);
          need(e.makerAccountId, market.quote.asset);
          need(feeAccountId, market.quote.asset);
        }
      }
    }
    return [...missing.values()];
  }

  /** Balances read from the store (as of its checkpoint); absent keys are zero. */
  seed(keys: readonly BalanceKey[], loaded: readonly BalanceRecord[]): void {
    for (const k of keys) this.cache.set(this.key(k.accountId, k.asset), zeroBalance);
    for (const b of loaded) {
      this.cache.set(this.key(b.accountId, b.asset), {
        available: b.available,
        locked: b.locked,
        seq: b.seq,
      });
    }
  }

  /** The rows of commands (consecutive seqs, all balances they touch seeded). Call commit() or discard() next. */
  project(commands: readonly CommandEvents[]): HistoryBatch {
    if (commands.length === 0) throw new Error("projector: an empty batch");
    this.staged = new Map();
    this.stagedBefore = new Map();
    const batch: HistoryBatch = {
      firstSeq: commands[0]!.seq,
      lastSeq: commands[commands.length - 1]!.seq,
      lastTime: commands[commands.length - 1]!.time,
      trades: [],
      orders: [],
      ledger: [],
      balances: [],
    };
    let previousSeq = batch.firstSeq - 1;
    for (const c of commands) {
      if (c.seq !== previousSeq + 1) {
        throw new HistoryIntegrityError(
          `projector: seq ${c.seq} follows ${previousSeq}: commands must be consecutive`,
        );
      }
      previousSeq = c.seq;
      this.projectCommand(c, batch);
    }
    for (const [key, after] of this.staged) {
      const before = this.stagedBefore.get(key)!;
      const accountId = Math.floor(key / assetSlots);
      const asset = this.config.assets[key % assetSlots]!.asset;
      batch.balances.push({
        after: { accountId, asset, seq: after.seq, available: after.available, locked: after.locked },
        before: { accountId, asset, seq: before.seq, available: before.available, locked: before.locked },
      });
    }
    return batch;
  }

  /** The store has the batch: its balances become the memory (oldest entries forgotten past the bound). */
  commit(): void {
    for (const [key, value] of this.staged) {
      this.cache.delete(key); // re-inserted last: the Map's order is then least recently changed first
      this.cache.set(key, value);
    }
    this.staged = new Map();
    this.stagedBefore = new Map();
    if (this.cache.size > this.cacheEntriesMax) {
      let excess = this.cache.size - this.cacheEntriesMax;
      for (const key of this.cache.keys()) {
        if (excess-- <= 0) break;
        this.cache.delete(key);
      }
    }
  }

  /** The store refused the batch (or may hold part of it): forget everything, reload from the store. */
  discard(): void {
    this.staged = new Map();
    this.stagedBefore = new Map();
    this.cache.clear();
  }

  get cachedBalances(): number {
    return this.cache.size;
  }

  private market(symbol: string) {
    const market = this.config.marketBySymbol.get(symbol);
    if (market === undefined)
      throw new HistoryIntegrityError(`projector: unknown market ${symbol} in a trade`);
    return market;
  }

  private current(key: number): Balance {
    const staged = this.staged.get(key);
    if (staged !== undefined) return staged;
    const cached = this.cache.get(key);
    if (cached === undefined) throw new Error(`projector: balance ${key} was not seeded`);
    return cached;
  }

  private projectCommand(c: CommandEvents, batch: HistoryBatch): void {
    const events = c.events;
    if (events.length === 0) return;
    const movements = this.movements;
    movements.clear();
    const move = (accountId: number, asset: string): Movement => {
      const key = this.key(accountId, asset);
      let m = movements.get(key);
      if (m === undefined) movements.set(key, (m = new Movement(accountId, asset)));
      return m;
    };
    let orders: Map<number, OrderRecord> | null = null;
    for (let i = 0; i < events.length; i++) {
      const e: EngineEvent = events[i]!;
      if (e.seq !== c.seq) {
        throw new HistoryIntegrityError(`projector: an event of seq ${e.seq} among those of seq ${c.seq}`);
      }
      switch (e.type) {
        case "trade":
          batch.trades.push(tradeRecord(e, this.market(e.symbol).quote.asset));
          this.settle(e, move);
          break;
        case "order": {
          orders ??= new Map();
          const previous = orders.get(e.orderId);
          const record = orderRecord(
            e,
            previous === undefined ? e.reason : `${previous.reasons},${e.reason}`,
          );
          orders.set(e.orderId, record);
          break;
        }
        case "transfer":
          if (!e.duplicate) {
            const m = move(e.accountId, e.asset);
            if (e.kind === "deposit") m.deposit = add(m.deposit, e.amount);
            else m.withdrawal = add(m.withdrawal, e.amount);
            m.transferId = e.transferId;
          }
          break;
        case "balance":
          move(e.accountId, e.asset).after = { available: e.available, locked: e.locked, seq: c.seq };
          break;
        default:
          break; // account_created, rejected, duplicate_order: nothing moved, nothing to keep
      }
    }
    if (orders !== null) for (const o of orders.values()) batch.orders.push(o);
    for (const [key, m] of movements) batch.ledger.push(this.ledgerEntry(key, m, c));
  }

  /** A trade's movements: settlement of both legs, and fees. */
  private settle(e: TradeEvent, move: (accountId: number, asset: string) => Movement): void {
    const market = this.market(e.symbol);
    const base = market.base.asset;
    const quote = market.quote.asset;
    const baseAmount = mul(e.quantity, market.baseUnitsPerLot);
    const takerBuys = e.takerSide === "buy";
    const buyer = takerBuys ? e.takerAccountId : e.makerAccountId;
    const seller = takerBuys ? e.makerAccountId : e.takerAccountId;
    const buyerFee = takerBuys ? e.takerFee : e.makerFee;
    const sellerFee = takerBuys ? e.makerFee : e.takerFee;
    const buyerBase = move(buyer, base);
    buyerBase.settlementIn = add(buyerBase.settlementIn, baseAmount);
    const buyerQuote = move(buyer, quote);
    buyerQuote.settlementOut = add(buyerQuote.settlementOut, e.notional);
    buyerQuote.feeOut = add(buyerQuote.feeOut, buyerFee);
    const sellerBase = move(seller, base);
    sellerBase.settlementOut = add(sellerBase.settlementOut, baseAmount);
    const sellerQuote = move(seller, quote);
    sellerQuote.settlementIn = add(sellerQuote.settlementIn, e.notional);
    sellerQuote.feeOut = add(sellerQuote.feeOut, sellerFee);
    const fees = add(e.takerFee, e.makerFee);
    if (fees !== 0) {
      const feeQuote = move(feeAccountId, quote);
      feeQuote.feeIn = add(feeQuote.feeIn, fees);
    }
  }

  private ledgerEntry(key: number, m: Movement, c: CommandEvents): LedgerEntry {
    const before = this.current(key);
    const after = m.after ?? before;
    // What transfers, trades and fees explain, bucket by bucket.
    const explainedAvailable = sub(add(add(sub(m.deposit, m.withdrawal), m.settlementIn), m.feeIn), m.feeOut);
    const explainedLocked = sub(0, m.settlementOut);
    const residualAvailable = sub(sub(after.available, before.available), explainedAvailable);
    const residualLocked = sub(sub(after.locked, before.locked), explainedLocked);
    if (add(residualAvailable, residualLocked) !== 0) {
      throw new HistoryIntegrityError(
        `ledger: account ${m.accountId} ${m.asset} at seq ${c.seq}: the balance moved by ` +
          `${String(residualAvailable)} available and ${String(residualLocked)} locked beyond what ` +
          "its transfers, trades and fees explain",
      );
    }
    const positive = residualLocked > 0;
    if (!this.stagedBefore.has(key)) this.stagedBefore.set(key, before);
    this.staged.set(key, { available: after.available, locked: after.locked, seq: c.seq });
    return {
      accountId: m.accountId,
      seq: c.seq,
      time: c.time,
      asset: m.asset,
      deposit: m.deposit,
      withdrawal: m.withdrawal,
      settlementIn: m.settlementIn,
      settlementOut: m.settlementOut,
      feeIn: m.feeIn,
      feeOut: m.feeOut,
      hold: positive ? residualLocked : 0,
      release: positive ? 0 : sub(0, residualLocked),
      availableAfter: after.available,
      lockedAfter: after.locked,
      transferId: m.transferId,
    };
  }
}

function tradeRecord(e: TradeEvent, quoteAsset: string): TradeRecord {
  return {
    tradeId: e.tradeId,
    seq: e.seq,
    time: e.time,
    symbol: e.symbol,
    price: e.price,
    quantity: e.quantity,
    notional: e.notional,
    takerSide: e.takerSide,
    takerOrderId: e.takerOrderId,
    takerAccountId: e.takerAccountId,
    makerOrderId: e.makerOrderId,
    makerAccountId: e.makerAccountId,
    takerFee: e.takerFee,
    makerFee: e.makerFee,
    quoteAsset,
  };
}

function orderRecord(e: OrderEvent, reasons: string): OrderRecord {
  return {
    orderId: e.orderId,
    seq: e.seq,
    time: e.time,
    reasons,
    accountId: e.accountId,
    symbol: e.symbol,
    side: e.side,
    orderType: e.orderType,
    timeInForce: e.timeInForce,
    price: e.price,
    stopPrice: e.stopPrice,
    quantity: e.quantity,
    filledQuantity: e.filledQuantity,
    filledNotional: e.filledNotional,
    quoteQuantity: e.quoteQuantity,
    status: e.status,
    postOnly: e.postOnly,
    expireTime: e.expireTime,
    clientOrderId: e.clientOrderId,
    selfTradePrevention: e.selfTradePrevention,
    createdAt: e.createdAt,
  };
}

/** Sums ledger entries (oldest first) from zero: the auditor's rebuild of one balance. */
export function applyEntry(balance: { available: Int; locked: Int }, e: LedgerEntry): void {
  balance.available = sub(
    add(add(add(sub(add(balance.available, e.deposit), e.withdrawal), e.settlementIn), e.feeIn), e.release),
    add(e.feeOut, e.hold),
  );
  balance.locked = sub(add(balance.locked, e.hold), add(e.release, e.settlementOut));
}
