/**
 * What the history keeps, backend-neutral. Units are the engine's: prices in ticks, quantities in
 * lots, amounts (notional, fees, balances, ledger movements) exact integers (`Int`) in the asset's
 * smallest unit. The API turns them into decimal strings with the market configuration.
 */
import type { Int } from "../engine/int.js";
import type { EngineEvent, OrderEvent, Side } from "../engine/types.js";

/** One trade, both sides and both fees. Key: tradeId (a function of the journal: replays give the same). */
export interface TradeRecord {
  tradeId: number;
  seq: number;
  time: number;
  symbol: string;
  price: number;
  quantity: number;
  notional: Int;
  takerSide: Side;
  takerOrderId: number;
  takerAccountId: number;
  makerOrderId: number;
  makerAccountId: number;
  takerFee: Int;
  makerFee: Int;
  /** The market's quote asset: notional and both fees are in it. */
  quoteAsset: string;
}

/** One side of a trade as its account sees it (GET /v1/fills). */
export interface FillRecord {
  tradeId: number;
  seq: number;
  time: number;
  accountId: number;
  orderId: number;
  symbol: string;
  side: Side;
  liquidity: "maker" | "taker";
  price: number;
  quantity: number;
  fee: Int;
  /** Fees are charged in the market's quote asset. */
  feeAsset: string;
}

/** One side of a trade, as its account sees it. */
export function fillOf(t: TradeRecord, taker: boolean): FillRecord {
  const buyerIsTaker = t.takerSide === "buy";
  return {
    tradeId: t.tradeId,
    seq: t.seq,
    time: t.time,
    accountId: taker ? t.takerAccountId : t.makerAccountId,
    orderId: taker ? t.takerOrderId : t.makerOrderId,
    symbol: t.symbol,
    side: taker === buyerIsTaker ? "buy" : "sell",
    liquidity: taker ? "taker" : "maker",
    price: t.price,
    quantity: t.quantity,
    fee: taker ? t.takerFee : t.makerFee,
    feeAsset: t.quoteAsset,
  };
}

/**
 * An order's state after one command that changed it, with the reasons in the order the engine gave
 * them ("placed,traded"): an order's rows by seq are its lifecycle, the last one its final state.
 * Key: (orderId, seq).
 */
export type OrderRecord = Omit<OrderEvent, "type" | "reason"> & {
  /** The reasons of the command's order events for this order, comma-separated, in engine order. */
  reasons: string;
};

/**
 * Every movement of one (account, asset) balance in one command, by kind, plus the balance after it
 * as the engine reported it. Key: (accountId, seq, asset). Each kind moves one bucket:
 *
 *   available += deposit − withdrawal + settlementIn + feeIn − feeOut − hold + release
 *   locked    += hold − release − settlementOut
 *
 * settlementIn: what a trade delivered (base to the buyer, quote to the seller), into available.
 * settlementOut: what a trade took, out of the order's hold (quote from the buyer, base from the seller).
 * feeIn: fees credited to the exchange's fee account. feeOut: a trade's fee, out of available (a buy
 * order holds its fee reserve: that part of the hold is released and then paid).
 * hold / release: the net change of locked funds that is not a settlement: orders placed, amended,
 * ended (only one of the two is non-zero in a row).
 * All amounts ≥ 0. An auditor rebuilds a balance at any seq by summing these from zero, and checks
 * the running sum against availableAfter / lockedAfter.
 */
export interface LedgerEntry {
  accountId: number;
  seq: number;
  time: number;
  asset: string;
  deposit: Int;
  withdrawal: Int;
  settlementIn: Int;
  settlementOut: Int;
  feeIn: Int;
  feeOut: Int;
  hold: Int;
  release: Int;
  availableAfter: Int;
  lockedAfter: Int;
  /** The deposit's or withdrawal's transferId; "" otherwise. */
  transferId: string;
}

/** The balance of one (account, asset) as of `seq` (the last command that changed it). */
export interface BalanceRecord {
  accountId: number;
  asset: string;
  seq: number;
  available: Int;
  locked: Int;
}

/** Everything one writer batch adds: commands firstSeq..lastSeq, all of them, rows or not. */
export interface HistoryBatch {
  firstSeq: number;
  lastSeq: number;
  /** Exchange time of lastSeq. */
  lastTime: number;
  trades: TradeRecord[];
  orders: OrderRecord[];
  ledger: LedgerEntry[];
  /**
   * Per (account, asset) changed in the batch: the balance after the batch, and the one before it
   * (what the store had at firstSeq − 1), so that a store written non-atomically (DynamoDB) can still
   * answer "the balance as of the checkpoint" after a crash in the middle of a batch.
   */
  balances: { after: BalanceRecord; before: BalanceRecord }[];
}

/** A page of results, newest first, and the cursor of the next page when there may be more. */
export interface Page<T> {
  items: T[];
  nextCursor?: string;
}

export interface FillQuery {
  accountId: number;
  symbol?: string;
  /** Inclusive bounds on time, ms. */
  fromTime?: number;
  toTime?: number;
  limit?: number;
  cursor?: string;
}

export interface TradeQuery {
  symbol: string;
  fromTime?: number;
  toTime?: number;
  limit?: number;
  cursor?: string;
}

export interface LedgerQuery {
  accountId: number;
  fromTime?: number;
  toTime?: number;
  limit?: number;
  cursor?: string;
  /** Oldest first (an auditor's replay) instead of newest first. */
  ascending?: boolean;
}

export interface OrderEventsQuery {
  orderId: number;
  limit?: number;
  cursor?: string;
}

/** Events a command left behind, as the writer is given them. */
export interface CommandEvents {
  seq: number;
  time: number;
  events: readonly EngineEvent[];
}
