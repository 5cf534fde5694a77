/**
 * Command factories for the benchmarks. Every command of a type is built with the same fields in
 * the same order (optional fields as 0 / ""), as the gateway does, so the engine sees one object
 * shape per command type.
 */
import type {
  AmendOrderCommand,
  CancelOrderCommand,
  CreateAccountCommand,
  PlaceOrderCommand,
  TransferCommand,
} from "../../src/engine/types.js";

/** 2026-01-01T00:00:00Z: exchange time of the first benchmark command. */
export const timeZero = 1_767_225_600_000;
/** Exchange time advances 1 ms every this many commands (about 1M commands per second of exchange time). */
export const commandsPerMs = 1000;

export function timeOf(seq: number): number {
  return timeZero + Math.floor(seq / commandsPerMs);
}

export function createAccount(seq: number): CreateAccountCommand {
  return { type: "create_account", seq, time: timeOf(seq) };
}

export function deposit(
  seq: number,
  accountId: number,
  asset: string,
  amount: number,
  transferId: string,
): TransferCommand {
  return { type: "deposit", seq, time: timeOf(seq), accountId, asset, amount, transferId };
}

export function limitOrder(
  seq: number,
  accountId: number,
  symbol: string,
  isBuy: boolean,
  price: number,
  quantity: number,
  timeInForce: "GTC" | "IOC",
): PlaceOrderCommand {
  return {
    type: "place",
    seq,
    time: timeOf(seq),
    accountId,
    symbol,
    side: isBuy ? "buy" : "sell",
    orderType: "limit",
    price,
    stopPrice: 0,
    quantity,
    quoteQuantity: 0,
    timeInForce,
    expireTime: 0,
    postOnly: false,
    clientOrderId: "",
    selfTradePrevention: "cancel_taker",
  };
}

export function cancelOrder(seq: number, accountId: number, orderId: number): CancelOrderCommand {
  return { type: "cancel", seq, time: timeOf(seq), accountId, orderId };
}

/** exchange-core's "move": a new price, the same quantity (0 keeps it). */
export function movePrice(seq: number, accountId: number, orderId: number, price: number): AmendOrderCommand {
  return { type: "amend", seq, time: timeOf(seq), accountId, orderId, quantity: 0, price };
}
