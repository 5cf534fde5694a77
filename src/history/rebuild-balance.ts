/**
 * The auditor's rebuild: an account's balances at any seq, from nothing but its ledger. Every entry
 * up to the seq is summed from zero, oldest first, and at each entry the running sum must equal the
 * balance the engine reported after that command (availableAfter / lockedAfter): two independent
 * records, movements and balances, that must agree everywhere, or the rebuild fails loudly.
 */
import { add, type Int } from "../engine/int.js";
import { historyLimits } from "./history-limits.js";
import type { HistoryStore } from "./history-store.js";
import { applyEntry, HistoryIntegrityError } from "./projector.js";

export interface RebuiltBalance {
  asset: string;
  available: Int;
  locked: Int;
  /** Seq of the last movement at or before the asked seq (0: none). */
  lastSeq: number;
  /** Ledger entries summed. */
  entries: number;
  /** Sum of each kind of movement, for the auditor's report. */
  totals: {
    deposit: Int;
    withdrawal: Int;
    settlementIn: Int;
    settlementOut: Int;
    feeIn: Int;
    feeOut: Int;
    hold: Int;
    release: Int;
  };
}

export async function rebuildBalance(
  store: HistoryStore,
  accountId: number,
  atSeq: number,
): Promise<RebuiltBalance[]> {
  const byAsset = new Map<string, RebuiltBalance>();
  // Periods archived out of the store leave an opening balance per asset: the sum starts there.
  const openings = new Map((await store.openingBalances(accountId)).map((o) => [o.asset, o]));
  for (const o of openings.values()) {
    if (atSeq < o.seq) {
      throw new HistoryIntegrityError(
        `rebuild: account ${accountId} ${o.asset}: the ledger up to seq ${o.seq} is archived; ` +
          "restore the archived periods (bourse history restore) to rebuild a balance before it",
      );
    }
    byAsset.set(o.asset, {
      asset: o.asset,
      available: o.available,
      locked: o.locked,
      lastSeq: o.seq,
      entries: 0,
      totals: {
        deposit: 0,
        withdrawal: 0,
        settlementIn: 0,
        settlementOut: 0,
        feeIn: 0,
        feeOut: 0,
        hold: 0,
        release: 0,
      },
    });
  }
  let cursor: string | undefined;
  let summed = 0;
  for (;;) {
    const page = await store.ledger({
      accountId,
      ascending: true,
      limit: historyLimits.pageSizeMax,
      ...(cursor !== undefined ? { cursor } : {}),
    });
    for (const e of page.items) {
      if (e.seq > atSeq) return sorted(byAsset);
      if (++summed > historyLimits.rebuildEntriesMax) {
        throw new Error(
          `rebuild: more than ${historyLimits.rebuildEntriesMax} ledger entries (rebuildEntriesMax)`,
        );
      }
      let b = byAsset.get(e.asset);
      if (b === undefined) {
        b = {
          asset: e.asset,
          available: 0,
          locked: 0,
          lastSeq: 0,
          entries: 0,
          totals: {
            deposit: 0,
            withdrawal: 0,
            settlementIn: 0,
            settlementOut: 0,
            feeIn: 0,
            feeOut: 0,
            hold: 0,
            release: 0,
          },
        };
        byAsset.set(e.asset, b);
      }
      if (e.seq <= b.lastSeq) {
        throw new HistoryIntegrityError(
          `rebuild: account ${accountId} ${e.asset} has two entries at or after seq ${e.seq}`,
        );
      }
      applyEntry(b, e);
      b.lastSeq = e.seq;
      b.entries++;
      const t = b.totals;
      t.deposit = add(t.deposit, e.deposit);
      t.withdrawal = add(t.withdrawal, e.withdrawal);
      t.settlementIn = add(t.settlementIn, e.settlementIn);
      t.settlementOut = add(t.settlementOut, e.settlementOut);
      t.feeIn = add(t.feeIn, e.feeIn);
      t.feeOut = add(t.feeOut, e.feeOut);
      t.hold = add(t.hold, e.hold);
      t.release = add(t.release, e.release);
      if (b.available !== e.availableAfter || b.locked !== e.lockedAfter) {
        throw new HistoryIntegrityError(
          `rebuild: account ${accountId} ${e.asset} at seq ${e.seq}: the movements sum to ` +
            `${String(b.available)} available / ${String(b.locked)} locked, the engine reported ` +
            `${String(e.availableAfter)} / ${String(e.lockedAfter)}`,
        );
      }
    }
    if (page.nextCursor === undefined) return sorted(byAsset);
    cursor = page.nextCursor;
  }
}

function sorted(byAsset: Map<string, RebuiltBalance>): RebuiltBalance[] {
  return [...byAsset.values()].sort((a, b) => (a.asset < b.asset ? -1 : a.asset > b.asset ? 1 : 0));
}
