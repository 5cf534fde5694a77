/**
 * The HistoryStore port: the long-term history (the DynamoDB role of the reference design). Two
 * backends pass one shared suite (test/history/): SQLite in the data directory (the default) and
 * DynamoDB (AWS, DynamoDB Local, compatible endpoints), chosen by a URL (see open-store.ts).
 *
 * Exactly once. `write(batch)` stores the rows of commands firstSeq..lastSeq and moves the checkpoint
 * to lastSeq. The writer only ever writes checkpoint+1 onwards, in order, one batch at a time. SQLite
 * does it in one transaction (rows and checkpoint together, or neither). DynamoDB cannot: every item
 * key is a function of the journal (tradeId, orderId+seq, accountId+seq+asset: the same commands
 * always give the same keys and the same values), so writing a batch again after a crash overwrites
 * items with themselves, and the checkpoint is written last.
 */

import type { BalanceKey } from "./projector.js";
import type {
  BalanceRecord,
  FillQuery,
  FillRecord,
  HistoryBatch,
  LedgerEntry,
  LedgerQuery,
  OrderEventsQuery,
  OrderRecord,
  Page,
  TradeQuery,
  TradeRecord,
} from "./records.js";

export interface HistoryStore {
  /** "sqlite" or "dynamodb", for logs and metrics labels. */
  readonly backend: string;
  /** Creates tables when absent; idempotent. */
  open(): Promise<void>;
  /** Seq of the last command whose rows are all stored (0: none). */
  checkpoint(): Promise<number>;
  /** Stores a batch and moves the checkpoint to batch.lastSeq (batch.firstSeq must be checkpoint+1). */
  write(batch: HistoryBatch): Promise<void>;
  /** Balances as of the checkpoint (absent: never changed, zero). */
  loadBalances(keys: readonly BalanceKey[]): Promise<BalanceRecord[]>;

  /** An account's fills, newest first. */
  fills(query: FillQuery): Promise<Page<FillRecord>>;
  /** A symbol's trades, newest first. */
  trades(query: TradeQuery): Promise<Page<TradeRecord>>;
  /** An order's final state (its newest row), or null when the history has none. */
  order(orderId: number): Promise<OrderRecord | null>;
  /** An order's lifecycle, oldest first, one row per command that changed it. */
  orderEvents(query: OrderEventsQuery): Promise<Page<OrderRecord>>;
  /** An account's ledger, newest first unless `ascending`. */
  ledger(query: LedgerQuery): Promise<Page<LedgerEntry>>;
  /** Every balance of an account as the store has it at its checkpoint. */
  balances(accountId: number): Promise<BalanceRecord[]>;

  /**
   * Balances at the end of archived periods (none when nothing is archived): an account's ledger in
   * this store starts after them, and a rebuild starts from them.
   */
  openingBalances(accountId: number): Promise<BalanceRecord[]>;
  /** Accounts with any ledger entry (verify); a bounded page at a time. */
  accounts(afterAccountId: number, limit: number): Promise<number[]>;
  /** Removes everything (rebuild starts from an empty store). */
  reset(): Promise<void>;
  close(): Promise<void>;
}
