/**
 * nodejs-order-book (the comparison baseline) driven by the same logical streams as the engine.
 *
 * The package ships CommonJS without ESM named exports for its enums, so it is imported as a
 * default export. Its operations are pre-built (ids as strings, option objects) before timing, as
 * the engine's commands are; neither side of the comparison builds anything while timed.
 */

import type { LimitOrderOptions, OrderBook, OrderUpdatePrice } from "nodejs-order-book";
import nob from "nodejs-order-book";

export const NobOrderBook = nob.OrderBook;
export type NobBook = OrderBook;

export const nobPlace = 0;
export const nobCancel = 1;
export const nobMove = 2;

/** One logical operation in nodejs-order-book's vocabulary (monomorphic: every field always set). */
export class NobOp {
  constructor(
    readonly kind: number,
    readonly id: string,
    readonly limit: LimitOrderOptions | null,
    readonly update: OrderUpdatePrice | null,
  ) {}
}

export function nobLimitOp(
  orderId: number,
  isBuy: boolean,
  price: number,
  size: number,
  ioc: boolean,
): NobOp {
  const id = String(orderId);
  return new NobOp(
    nobPlace,
    id,
    {
      id,
      side: isBuy ? nob.Side.BUY : nob.Side.SELL,
      size,
      price,
      // The TimeInForce enum is not exported by the package; its values are these strings.
      timeInForce: (ioc ? "IOC" : "GTC") as LimitOrderOptions["timeInForce"],
    },
    null,
  );
}

export function nobCancelOp(orderId: number): NobOp {
  return new NobOp(nobCancel, String(orderId), null, null);
}

export function nobMoveOp(orderId: number, price: number): NobOp {
  return new NobOp(nobMove, String(orderId), null, { price });
}

export function newNobBook(): NobBook {
  return new NobOrderBook();
}

/** Applies ops[from, to). The timed loop of the baseline: nothing but the library's own calls. */
export function runNob(ob: NobBook, ops: readonly NobOp[], from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const op = ops[i]!;
    const kind = op.kind;
    if (kind === nobMove) ob.modify(op.id, op.update!);
    else if (kind === nobPlace) ob.limit(op.limit!);
    else ob.cancel(op.id);
  }
}

/** Book as [price, lots] per side, sorted by price ascending, for comparing with the engine. */
export function nobDepth(ob: NobBook): { bids: [number, number][]; asks: [number, number][] } {
  const [asks, bids] = ob.depth();
  const sort = (levels: [number, number][]) => [...levels].sort((a, b) => a[0] - b[0]);
  return { bids: sort(bids), asks: sort(asks) };
}
