/**
 * The abstract engine suite (exchange-core's habit): hand-written cases with concrete numbers for
 * every rule of docs/engine.md, run on any EngineModel. reference.test.ts runs it on the naive
 * reference model, engine.test.ts on the fast engine; both must pass the same cases.
 *
 * Numbers: market XYZ-USD has 1 tick = 1 cent and 1 lot = 1 XYZ, so notional = price × quantity
 * cents, base = quantity; fees are 10 bps (maker) and 20 bps (taker), rounded up, and a resting buy
 * holds notional + fee at 20 bps. Market ABC-USD has 1 lot = 100 ABC units and the maker rate above
 * the taker rate (30 / 10 bps), so its buys hold at the maker rate.
 */
import { deepStrictEqual, equal, ok } from "node:assert/strict";
import { describe, it } from "node:test";
import type { EngineConfig } from "../../src/engine/config.js";
import type { EngineDump, EngineModel, OrderDump } from "../../src/engine/dump.js";
import type { Int } from "../../src/engine/int.js";
import type { Command, EngineEvent, PlaceOrderCommand } from "../../src/engine/types.js";
import { int64Max, limits } from "../../src/limits.js";

export const suiteConfig: EngineConfig = {
  assets: [
    { asset: "USD", precision: 2 },
    { asset: "XYZ", precision: 0 },
    { asset: "ABC", precision: 3 },
  ],
  markets: [
    {
      symbol: "XYZ-USD",
      base: "XYZ",
      quote: "USD",
      tickSize: "0.01",
      lotSize: "1",
      minQuantity: "1",
      maxQuantity: "1000000",
      minNotional: "0.50",
      makerFeeBps: 10,
      takerFeeBps: 20,
    },
    {
      symbol: "ABC-USD",
      base: "ABC",
      quote: "USD",
      tickSize: "0.10",
      lotSize: "0.1",
      minQuantity: "0.2",
      maxQuantity: "1000",
      minNotional: "0",
      makerFeeBps: 30,
      takerFeeBps: 10,
    },
  ],
};

type PlaceFields = Partial<Omit<PlaceOrderCommand, "type" | "seq" | "time">> & { accountId: number };
type Body<C> = C extends Command ? Omit<C, "seq" | "time"> : never;

/** One line per event: enough to assert a whole command's output at a glance. */
export function summarize(e: EngineEvent): string {
  switch (e.type) {
    case "order":
      return `order ${e.orderId} ${e.reason} ${e.status} ${e.filledQuantity}/${e.quantity}`;
    case "trade":
      return `trade ${e.tradeId} ${e.price}x${e.quantity} taker ${e.takerOrderId} maker ${e.makerOrderId} fees ${e.takerFee}/${e.makerFee}`;
    case "balance":
      return `balance ${e.accountId} ${e.asset} ${e.available}/${e.locked}`;
    case "rejected":
      return `rejected ${e.code}`;
    case "transfer":
      return `transfer ${e.kind} ${e.accountId} ${e.asset} ${e.amount}${e.duplicate ? " duplicate" : ""}`;
    case "account_created":
      return `account ${e.accountId}`;
    case "duplicate_order":
      return `duplicate ${e.accountId} ${e.clientOrderId} -> ${e.orderId}`;
  }
}

/** Drives one engine with stamped commands and reads its state back from dumps. */
export class Harness {
  readonly engine: EngineModel;
  seq = 0;
  time = 1_000_000;
  /** Every event so far (unless `recording` is off, for the long bound tests). */
  readonly all: EngineEvent[] = [];
  recording = true;

  constructor(factory: (config: EngineConfig) => EngineModel, config: EngineConfig = suiteConfig) {
    this.engine = factory(config);
  }

  run(body: Body<Command>): EngineEvent[] {
    this.seq += 1;
    const out: EngineEvent[] = [];
    this.engine.apply({ ...body, seq: this.seq, time: this.time } as Command, out);
    if (this.recording) this.all.push(...out);
    return out;
  }

  /** The command's events, summarized. */
  lines(body: Body<Command>): string[] {
    return this.run(body).map(summarize);
  }

  account(): number {
    const e = this.run({ type: "create_account" });
    const created = e.find((x) => x.type === "account_created");
    if (created === undefined || created.type !== "account_created") throw new Error("no account created");
    return created.accountId;
  }

  private transfers = 0;

  deposit(accountId: number, asset: string, amount: Int): EngineEvent[] {
    this.transfers += 1;
    return this.run({ type: "deposit", accountId, asset, amount, transferId: `suite-${this.transfers}` });
  }

  /** A new account holding these amounts. */
  funded(amounts: Record<string, Int>): number {
    const id = this.account();
    for (const [asset, amount] of Object.entries(amounts)) this.deposit(id, asset, amount);
    return id;
  }

  placeBody(fields: PlaceFields): Body<PlaceOrderCommand> {
    return {
      type: "place",
      symbol: "XYZ-USD",
      side: "buy",
      orderType: "limit",
      price: 0,
      stopPrice: 0,
      quantity: 0,
      quoteQuantity: 0,
      timeInForce: "GTC",
      expireTime: 0,
      postOnly: false,
      clientOrderId: "",
      selfTradePrevention: "cancel_taker",
      ...fields,
    };
  }

  place(fields: PlaceFields): EngineEvent[] {
    return this.run(this.placeBody(fields));
  }

  placeLines(fields: PlaceFields): string[] {
    return this.place(fields).map(summarize);
  }

  /** Places an order that must be accepted; returns its orderId. */
  order(fields: PlaceFields): number {
    const e = this.place(fields);
    const placed = e.find((x) => x.type === "order" && x.reason === "placed");
    if (placed === undefined || placed.type !== "order")
      throw new Error(`not placed: ${e.map(summarize).join("; ")}`);
    return placed.orderId;
  }

  /** The code of the command's rejection (it must be the only non-expiry event). */
  code(body: Body<Command>): string {
    const e = this.run(body).filter((x) => !(x.type === "order" && x.reason === "expired_gtd"));
    const rejected = e.filter((x) => x.type === "rejected");
    if (rejected.length !== 1 || rejected[0]!.type !== "rejected")
      return `not rejected: ${e.map(summarize).join("; ")}`;
    return rejected[0]!.code;
  }

  placeCode(fields: PlaceFields): string {
    return this.code(this.placeBody(fields));
  }

  dump(): EngineDump {
    return this.engine.dump();
  }

  /** "available/locked" of an account's asset. */
  balance(accountId: number, asset: string): string {
    const d = this.dump();
    const index = suiteAssetIndex(asset);
    const [available, locked] = d.accounts[accountId]!.balances[index]!;
    return `${available}/${locked}`;
  }

  held(orderId: number): OrderDump | undefined {
    return this.dump().orders.find((o) => o.orderId === orderId);
  }

  book(symbol = "XYZ-USD"): { bids: [number, number[]][]; asks: [number, number[]][]; stops: number[] } {
    const m = this.dump().markets.find((x) => x.symbol === symbol)!;
    return { bids: m.bids, asks: m.asks, stops: m.stops };
  }
}

function suiteAssetIndex(asset: string): number {
  return suiteConfig.assets.findIndex((a) => a.asset === asset);
}

/** The dump without the fields every command moves (lastSeq, time). */
function state(d: EngineDump): Omit<EngineDump, "lastSeq" | "time"> {
  const { lastSeq: _seq, time: _time, ...rest } = d;
  return rest;
}

export interface SuiteOptions {
  /**
   * Also run the bounds that need millions of commands (PRICE_LEVEL_FULL, TOO_MANY_ACCOUNTS,
   * TOO_MANY_TRANSFERS) when BOURSE_HEAVY_TESTS=1. Only sensible for the fast engine.
   */
  heavyBounds?: boolean;
}

export function defineEngineSuite(
  name: string,
  factory: (config: EngineConfig) => EngineModel,
  options: SuiteOptions = {},
): void {
  const h = () => new Harness(factory);
  const heavy = options.heavyBounds === true && process.env.BOURSE_HEAVY_TESTS === "1";

  describe(`${name}: accounts and transfers`, () => {
    it("creates accounts 1, 2, 3 after the fee account 0", () => {
      const t = h();
      deepStrictEqual(t.lines({ type: "create_account" }), ["account 1"]);
      deepStrictEqual(t.lines({ type: "create_account" }), ["account 2"]);
      const d = t.dump();
      equal(d.nextAccountId, 3);
      deepStrictEqual(
        d.accounts.map((a) => a.accountId),
        [0, 1, 2],
      );
      deepStrictEqual(d.accounts[0]!.balances, [
        ["0", "0"],
        ["0", "0"],
        ["0", "0"],
      ]);
      equal(d.lastSeq, 2);
      equal(d.time, t.time);
      equal(d.nextOrderId, 1);
      equal(d.nextTradeId, 1);
    });

    it("deposits and withdraws, each with its transfer and balance events", () => {
      const t = h();
      const a = t.account();
      deepStrictEqual(
        t.lines({ type: "deposit", accountId: a, asset: "USD", amount: 5000, transferId: "d-1" }),
        ["transfer deposit 1 USD 5000", "balance 1 USD 5000/0"],
      );
      deepStrictEqual(
        t.lines({ type: "withdraw", accountId: a, asset: "USD", amount: 1200, transferId: "w.1:x_y" }),
        ["transfer withdraw 1 USD 1200", "balance 1 USD 3800/0"],
      );
      equal(
        t.code({ type: "withdraw", accountId: a, asset: "USD", amount: 3801, transferId: "w-2" }),
        "INSUFFICIENT_FUNDS",
      );
      deepStrictEqual(
        t.lines({ type: "withdraw", accountId: a, asset: "USD", amount: 3800, transferId: "w-3" }),
        ["transfer withdraw 1 USD 3800", "balance 1 USD 0/0"],
      );
    });

    it("makes transfers idempotent per transferId, conflicts otherwise", () => {
      const t = h();
      const a = t.account();
      const b = t.account();
      const d = { type: "deposit", accountId: a, asset: "USD", amount: 700, transferId: "same" } as const;
      deepStrictEqual(t.lines(d), ["transfer deposit 1 USD 700", "balance 1 USD 700/0"]);
      deepStrictEqual(t.lines(d), ["transfer deposit 1 USD 700 duplicate"]);
      equal(t.code({ ...d, amount: 701 }), "TRANSFER_ID_CONFLICT");
      equal(t.code({ ...d, accountId: b }), "TRANSFER_ID_CONFLICT");
      equal(t.code({ ...d, asset: "XYZ" }), "TRANSFER_ID_CONFLICT");
      equal(t.code({ ...d, type: "withdraw" }), "TRANSFER_ID_CONFLICT");
      equal(t.balance(a, "USD"), "700/0");
      // A duplicate is answered even when the transfer could not be made again.
      const w = { type: "withdraw", accountId: a, asset: "USD", amount: 700, transferId: "w" } as const;
      deepStrictEqual(t.lines(w), ["transfer withdraw 1 USD 700", "balance 1 USD 0/0"]);
      deepStrictEqual(t.lines(w), ["transfer withdraw 1 USD 700 duplicate"]);
      // A rejected transfer does not take its id.
      equal(t.code({ ...w, transferId: "later" }), "INSUFFICIENT_FUNDS");
      deepStrictEqual(t.lines({ ...d, transferId: "later" }), [
        "transfer deposit 1 USD 700",
        "balance 1 USD 700/0",
      ]);
    });

    it("rejects bad transfers in the documented order", () => {
      const t = h();
      const a = t.account();
      const ok = { type: "deposit", accountId: a, asset: "USD", amount: 1, transferId: "ok" } as const;
      equal(t.code({ ...ok, accountId: 9 }), "UNKNOWN_ACCOUNT");
      equal(t.code({ ...ok, accountId: 9, asset: "NOPE" }), "UNKNOWN_ACCOUNT");
      equal(t.code({ ...ok, asset: "NOPE" }), "UNKNOWN_ASSET");
      equal(t.code({ ...ok, asset: "NOPE", transferId: "" }), "UNKNOWN_ASSET");
      equal(t.code({ ...ok, transferId: "" }), "INVALID_TRANSFER_ID");
      equal(t.code({ ...ok, transferId: "has space" }), "INVALID_TRANSFER_ID");
      equal(t.code({ ...ok, transferId: "x".repeat(65) }), "INVALID_TRANSFER_ID");
      equal(t.code({ ...ok, transferId: "x".repeat(65), amount: 0 }), "INVALID_TRANSFER_ID");
      equal(t.code({ ...ok, amount: 0 }), "INVALID_AMOUNT");
      equal(t.code({ ...ok, amount: int64Max + 1n }), "AMOUNT_OVERFLOW");
      equal(t.code({ ...ok, type: "withdraw", amount: int64Max + 1n }), "AMOUNT_OVERFLOW");
      deepStrictEqual(t.lines({ ...ok, transferId: "x".repeat(64) }), [
        "transfer deposit 1 USD 1",
        "balance 1 USD 1/0",
      ]);
      equal(t.dump().accounts[a]!.balances[0]![0], "1");
    });

    it("bounds an asset's supply at 2^63-1 and keeps amounts exact beyond 2^53", () => {
      const t = h();
      const a = t.account();
      const b = t.account();
      const e = t.deposit(a, "USD", 2n ** 53n);
      const transfer = e.find((x) => x.type === "transfer");
      ok(transfer !== undefined && transfer.type === "transfer");
      equal(transfer.amount, 2n ** 53n);
      const small = t.deposit(b, "USD", 2 ** 53 - 1);
      const balance = small.find((x) => x.type === "balance");
      ok(balance !== undefined && balance.type === "balance");
      equal(balance.available, 2 ** 53 - 1, "a value below 2^53 is a number");
      const room = int64Max - 2n ** 54n + 1n;
      deepStrictEqual(
        t.lines({ type: "deposit", accountId: b, asset: "USD", amount: room, transferId: "full" }),
        [`transfer deposit 2 USD ${room}`, `balance 2 USD ${room + 2n ** 53n - 1n}/0`],
      );
      equal(
        t.code({ type: "deposit", accountId: a, asset: "USD", amount: 1, transferId: "over" }),
        "AMOUNT_OVERFLOW",
      );
      // Another asset has its own bound; a withdrawal makes room again.
      deepStrictEqual(t.lines({ type: "deposit", accountId: a, asset: "XYZ", amount: 1, transferId: "x" }), [
        "transfer deposit 1 XYZ 1",
        "balance 1 XYZ 1/0",
      ]);
      t.run({ type: "withdraw", accountId: a, asset: "USD", amount: 1, transferId: "w" });
      deepStrictEqual(
        t.lines({ type: "deposit", accountId: b, asset: "USD", amount: 1, transferId: "again" }),
        ["transfer deposit 2 USD 1", `balance 2 USD ${int64Max - 2n ** 53n + 1n}/0`],
      );
    });

    it("holds the fee account 0 from the start, which takes deposits and withdrawals", () => {
      const t = h();
      deepStrictEqual(t.lines({ type: "deposit", accountId: 0, asset: "USD", amount: 10, transferId: "f" }), [
        "transfer deposit 0 USD 10",
        "balance 0 USD 10/0",
      ]);
      deepStrictEqual(t.lines({ type: "withdraw", accountId: 0, asset: "USD", amount: 4, transferId: "g" }), [
        "transfer withdraw 0 USD 4",
        "balance 0 USD 6/0",
      ]);
    });
  });

  describe(`${name}: limit orders, holds and fees`, () => {
    it("rests a buy holding notional plus the fee at the higher rate", () => {
      const t = h();
      const a = t.funded({ USD: 100_000 });
      deepStrictEqual(t.placeLines({ accountId: a, side: "buy", price: 100, quantity: 10 }), [
        "order 1 placed open 0/10",
        "balance 1 USD 98998/1002",
      ]);
      const o = t.held(1)!;
      equal(o.hold, "1002");
      equal(o.status, "open");
      equal(o.createdAt, t.time);
      deepStrictEqual(t.book().bids, [[100, [1]]]);
      // ABC-USD holds at its maker rate, 30 bps: 250 ticks × 4 lots = 1000 units, fee 3.
      deepStrictEqual(
        t.placeLines({ accountId: a, symbol: "ABC-USD", side: "buy", price: 250, quantity: 4 }),
        ["order 2 placed open 0/4", "balance 1 USD 97995/2005"],
      );
    });

    it("rests a sell holding base(quantity)", () => {
      const t = h();
      const a = t.funded({ XYZ: 50, ABC: 1000 });
      deepStrictEqual(t.placeLines({ accountId: a, side: "sell", price: 120, quantity: 10 }), [
        "order 1 placed open 0/10",
        "balance 1 XYZ 40/10",
      ]);
      // 3 lots of ABC are 300 units.
      deepStrictEqual(
        t.placeLines({ accountId: a, symbol: "ABC-USD", side: "sell", price: 120, quantity: 3 }),
        ["order 2 placed open 0/3", "balance 1 ABC 700/300"],
      );
      equal(t.held(2)!.hold, "300");
    });

    it("trades at the maker's price, settles both sides and credits fees to account 0", () => {
      const t = h();
      const a = t.funded({ XYZ: 10 });
      const b = t.funded({ USD: 10_000 });
      t.order({ accountId: a, side: "sell", price: 100, quantity: 10 });
      // b's hold: 105 × 4 = 420 + fee 1 = 421. Trade 4 @ 100 = 400: taker fee ceil(0.8) = 1,
      // maker fee ceil(0.4) = 1. b pays 401 and gets its leftover 20 back.
      deepStrictEqual(t.placeLines({ accountId: b, side: "buy", price: 105, quantity: 4 }), [
        "order 2 placed open 0/4",
        "trade 1 100x4 taker 2 maker 1 fees 1/1",
        "order 1 traded partially_filled 4/10",
        "order 2 traded filled 4/4",
        "balance 0 USD 2/0",
        "balance 1 USD 399/0",
        "balance 1 XYZ 0/6",
        "balance 2 USD 9599/0",
        "balance 2 XYZ 4/0",
      ]);
      const trade = t.all.find((e) => e.type === "trade");
      ok(trade !== undefined && trade.type === "trade");
      deepStrictEqual(
        {
          symbol: trade.symbol,
          notional: trade.notional,
          takerSide: trade.takerSide,
          takerAccountId: trade.takerAccountId,
          makerAccountId: trade.makerAccountId,
        },
        { symbol: "XYZ-USD", notional: 400, takerSide: "buy", takerAccountId: b, makerAccountId: a },
      );
      const filled = t.all.filter((e) => e.type === "order" && e.orderId === 2).at(-1);
      ok(filled !== undefined && filled.type === "order");
      equal(filled.filledNotional, 400);
      equal(t.held(1)!.hold, "6");
      equal(t.dump().nextTradeId, 2);
      equal(t.dump().markets[0]!.lastPrice, 100);
    });

    it("rests the remainder of a partly filled limit order with what is left of its hold", () => {
      const t = h();
      const a = t.funded({ XYZ: 10 });
      const b = t.funded({ USD: 10_000 });
      t.order({ accountId: a, side: "sell", price: 100, quantity: 10 });
      // Hold 1500 + 3 = 1503; pays 1000 + 2: 501 stays held for the 5 left.
      deepStrictEqual(t.placeLines({ accountId: b, side: "buy", price: 100, quantity: 15 }), [
        "order 2 placed open 0/15",
        "trade 1 100x10 taker 2 maker 1 fees 2/1",
        "order 1 traded filled 10/10",
        "order 2 traded partially_filled 10/15",
        "balance 0 USD 3/0",
        "balance 1 USD 999/0",
        "balance 1 XYZ 0/0",
        "balance 2 USD 8497/501",
        "balance 2 XYZ 10/0",
      ]);
      const o = t.held(2)!;
      deepStrictEqual(
        [o.hold, o.status, o.filledQuantity, o.filledNotional],
        ["501", "partially_filled", 10, "1000"],
      );
      deepStrictEqual(t.book(), { bids: [[100, [2]]], asks: [], stops: [] });
    });

    it("matches in price-time priority", () => {
      const t = h();
      const a = t.funded({ XYZ: 10 });
      const b = t.funded({ XYZ: 10 });
      const c = t.funded({ XYZ: 10 });
      const d = t.funded({ USD: 10_000 });
      t.order({ accountId: a, side: "sell", price: 100, quantity: 1 });
      t.order({ accountId: b, side: "sell", price: 100, quantity: 1 });
      t.order({ accountId: c, side: "sell", price: 99, quantity: 1 });
      deepStrictEqual(t.book().asks, [
        [99, [3]],
        [100, [1, 2]],
      ]);
      const makers = t
        .place({ accountId: d, side: "buy", price: 100, quantity: 3 })
        .flatMap((e) => (e.type === "trade" ? [`${e.makerOrderId}@${e.price}`] : []));
      deepStrictEqual(makers, ["3@99", "1@100", "2@100"]);
    });

    it("expires an IOC remainder and releases its hold", () => {
      const t = h();
      const a = t.funded({ XYZ: 10 });
      const b = t.funded({ USD: 10_000 });
      t.order({ accountId: a, side: "sell", price: 100, quantity: 2 });
      deepStrictEqual(
        t.placeLines({ accountId: b, side: "buy", price: 100, quantity: 5, timeInForce: "IOC" }),
        [
          "order 2 placed open 0/5",
          "trade 1 100x2 taker 2 maker 1 fees 1/1",
          "order 1 traded filled 2/2",
          "order 2 expired_ioc expired 2/5",
          "balance 0 USD 2/0",
          "balance 1 USD 199/0",
          "balance 1 XYZ 8/0",
          "balance 2 USD 9799/0",
          "balance 2 XYZ 2/0",
        ],
      );
      // Nothing to match: placed then expired, and no balance moved in the end.
      deepStrictEqual(
        t.placeLines({ accountId: b, side: "buy", price: 100, quantity: 5, timeInForce: "IOC" }),
        ["order 3 placed open 0/5", "order 3 expired_ioc expired 0/5"],
      );
      deepStrictEqual(t.book(), { bids: [], asks: [], stops: [] });
    });

    it("fills a FOK whole or not at all", () => {
      const t = h();
      const a = t.funded({ XYZ: 10 });
      const b = t.funded({ USD: 10_000 });
      t.order({ accountId: a, side: "sell", price: 100, quantity: 2 });
      t.order({ accountId: a, side: "sell", price: 101, quantity: 2 });
      deepStrictEqual(
        t.placeLines({ accountId: b, side: "buy", price: 100, quantity: 3, timeInForce: "FOK" }),
        ["order 3 placed open 0/3", "order 3 expired_fok expired 0/3"],
      );
      deepStrictEqual(
        t.placeLines({ accountId: b, side: "buy", price: 101, quantity: 3, timeInForce: "FOK" }),
        [
          "order 4 placed open 0/3",
          "trade 1 100x2 taker 4 maker 1 fees 1/1",
          "order 1 traded filled 2/2",
          "trade 2 101x1 taker 4 maker 2 fees 1/1",
          "order 2 traded partially_filled 1/2",
          "order 4 traded filled 3/3",
          "balance 0 USD 4/0",
          "balance 1 USD 299/0",
          "balance 1 XYZ 6/1",
          "balance 2 USD 9697/0",
          "balance 2 XYZ 3/0",
        ],
      );
      // A FOK market sell that the bids cannot fill.
      t.order({ accountId: b, side: "buy", price: 90, quantity: 1 });
      deepStrictEqual(
        t.placeLines({ accountId: a, side: "sell", orderType: "market", quantity: 2, timeInForce: "FOK" }),
        ["order 6 placed open 0/2", "order 6 expired_fok expired 0/2"],
      );
    });

    it("walks a FOK past its own orders with cancel_maker, and stops at them otherwise", () => {
      const t = h();
      const a = t.funded({ XYZ: 10, USD: 10_000 });
      const b = t.funded({ XYZ: 10 });
      t.order({ accountId: a, side: "sell", price: 100, quantity: 5 });
      t.order({ accountId: b, side: "sell", price: 101, quantity: 5 });
      for (const stp of ["cancel_taker", "cancel_both"] as const) {
        deepStrictEqual(
          t
            .place({
              accountId: a,
              side: "buy",
              price: 101,
              quantity: 5,
              timeInForce: "FOK",
              selfTradePrevention: stp,
            })
            .map(summarize)
            .slice(1),
          [`order ${t.dump().nextOrderId - 1} expired_fok expired 0/5`],
        );
      }
      deepStrictEqual(
        t
          .placeLines({
            accountId: a,
            side: "buy",
            price: 101,
            quantity: 5,
            timeInForce: "FOK",
            selfTradePrevention: "cancel_maker",
          })
          .slice(0, 5),
        [
          "order 5 placed open 0/5",
          "order 1 self_trade cancelled 0/5",
          "trade 1 101x5 taker 5 maker 2 fees 2/1",
          "order 2 traded filled 5/5",
          "order 5 traded filled 5/5",
        ],
      );
    });
  });

  describe(`${name}: market orders`, () => {
    it("buys by quoteQuantity: whole lots within the budget, filled when the budget is spent", () => {
      const t = h();
      const a = t.funded({ XYZ: 10 });
      const b = t.funded({ USD: 10_000 });
      t.order({ accountId: a, side: "sell", price: 100, quantity: 5 });
      t.order({ accountId: a, side: "sell", price: 110, quantity: 5 });
      // Hold 1000 + fee 2. 5 @ 100 = 500 (fees 1/1), then floor(500 / 110) = 4 lots = 440 (fees 1/1);
      // 60 left buys no lot: filled. Paid 942, 60 released.
      deepStrictEqual(
        t.placeLines({
          accountId: b,
          side: "buy",
          orderType: "market",
          quoteQuantity: 1000,
          timeInForce: "IOC",
        }),
        [
          "order 3 placed open 0/0",
          "trade 1 100x5 taker 3 maker 1 fees 1/1",
          "order 1 traded filled 5/5",
          "trade 2 110x4 taker 3 maker 2 fees 1/1",
          "order 2 traded partially_filled 4/5",
          "order 3 traded filled 9/0",
          "balance 0 USD 4/0",
          "balance 1 USD 938/0",
          "balance 1 XYZ 0/1",
          "balance 2 USD 9058/0",
          "balance 2 XYZ 9/0",
        ],
      );
      const last = t.all.at(-6);
      ok(last !== undefined && last.type === "order");
      deepStrictEqual([last.quoteQuantity, last.filledNotional, last.price], [1000, 940, 0]);
    });

    it("ends a quoteQuantity buy filled when its budget is spent exactly on the last ask", () => {
      const t = h();
      const a = t.funded({ XYZ: 10 });
      const b = t.funded({ USD: 10_000 });
      t.order({ accountId: a, side: "sell", price: 100, quantity: 5 });
      deepStrictEqual(
        t.placeLines({ accountId: b, side: "buy", orderType: "market", quoteQuantity: 500 }).slice(0, 4),
        [
          "order 2 placed open 0/0",
          "trade 1 100x5 taker 2 maker 1 fees 1/1",
          "order 1 traded filled 5/5",
          "order 2 traded filled 5/0",
        ],
      );
    });

    it("expires a quoteQuantity buy that cannot afford one lot, or finds no ask", () => {
      const t = h();
      const a = t.funded({ XYZ: 10 });
      const b = t.funded({ USD: 10_000 });
      deepStrictEqual(t.placeLines({ accountId: b, side: "buy", orderType: "market", quoteQuantity: 100 }), [
        "order 1 placed open 0/0",
        "order 1 expired_ioc expired 0/0",
      ]);
      t.order({ accountId: a, side: "sell", price: 110, quantity: 5 });
      deepStrictEqual(t.placeLines({ accountId: b, side: "buy", orderType: "market", quoteQuantity: 109 }), [
        "order 3 placed open 0/0",
        "order 3 expired_ioc expired 0/0",
      ]);
      // 150 buys one lot at 110, the 40 left no other: filled.
      deepStrictEqual(
        t.placeLines({ accountId: b, side: "buy", orderType: "market", quoteQuantity: 150 }).slice(0, 4),
        [
          "order 4 placed open 0/0",
          "trade 1 110x1 taker 4 maker 2 fees 1/1",
          "order 2 traded partially_filled 1/5",
          "order 4 traded filled 1/0",
        ],
      );
    });

    it("holds a quantity buy at the cost of walking the book plus the taker fee", () => {
      const t = h();
      const a = t.funded({ XYZ: 10 });
      const poor = t.funded({ USD: 521 });
      const b = t.funded({ USD: 522 });
      t.order({ accountId: a, side: "sell", price: 100, quantity: 3 });
      t.order({ accountId: a, side: "sell", price: 110, quantity: 4 });
      // Walk: 3 @ 100 + 2 @ 110 = 520, fee ceil(1.04) = 2: hold 522.
      equal(
        t.placeCode({ accountId: poor, side: "buy", orderType: "market", quantity: 5 }),
        "INSUFFICIENT_FUNDS",
      );
      deepStrictEqual(t.placeLines({ accountId: b, side: "buy", orderType: "market", quantity: 5 }), [
        "order 3 placed open 0/5",
        "trade 1 100x3 taker 3 maker 1 fees 1/1",
        "order 1 traded filled 3/3",
        "trade 2 110x2 taker 3 maker 2 fees 1/1",
        "order 2 traded partially_filled 2/4",
        "order 3 traded filled 5/5",
        "balance 0 USD 4/0",
        "balance 1 USD 518/0",
        "balance 1 XYZ 3/2",
        "balance 3 USD 0/0",
        "balance 3 XYZ 5/0",
      ]);
    });

    it("holds a quantity buy only for what the book holds, and expires the rest", () => {
      const t = h();
      const a = t.funded({ XYZ: 10 });
      const b = t.funded({ USD: 1000 });
      t.order({ accountId: a, side: "sell", price: 100, quantity: 3 });
      t.order({ accountId: a, side: "sell", price: 110, quantity: 4 });
      // Walk: 300 + 440 = 740, fee ceil(1.48) = 2: hold 742, all of it paid (301 + 441).
      deepStrictEqual(
        t.placeLines({ accountId: b, side: "buy", orderType: "market", quantity: 10 }).slice(-6),
        [
          "order 3 expired_ioc expired 7/10",
          "balance 0 USD 4/0",
          "balance 1 USD 738/0",
          "balance 1 XYZ 3/0",
          "balance 2 USD 258/0",
          "balance 2 XYZ 7/0",
        ],
      );
    });

    it("sells at market down the bids and expires the rest", () => {
      const t = h();
      const a = t.funded({ USD: 1000 });
      const b = t.funded({ XYZ: 8 });
      t.order({ accountId: a, side: "buy", price: 100, quantity: 5 });
      deepStrictEqual(
        t.placeLines({ accountId: b, side: "sell", orderType: "market", quantity: 8, timeInForce: "GTC" }),
        [
          "order 2 placed open 0/8",
          "trade 1 100x5 taker 2 maker 1 fees 1/1",
          "order 1 traded filled 5/5",
          "order 2 expired_ioc expired 5/8",
          "balance 0 USD 2/0",
          "balance 1 USD 499/0",
          "balance 1 XYZ 5/0",
          "balance 2 USD 499/0",
          "balance 2 XYZ 3/0",
        ],
      );
    });
  });

  describe(`${name}: stop orders`, () => {
    it("triggers a buy stop_limit when the last price reaches its stop, in the same command", () => {
      const t = h();
      const a = t.funded({ XYZ: 10 });
      const b = t.funded({ USD: 1000 });
      const c = t.funded({ USD: 1000 });
      t.order({ accountId: a, side: "sell", price: 100, quantity: 1 });
      t.order({ accountId: a, side: "sell", price: 105, quantity: 5 });
      // Held at placement: 105 × 2 = 210 + 1.
      deepStrictEqual(
        t.placeLines({
          accountId: c,
          side: "buy",
          orderType: "stop_limit",
          stopPrice: 100,
          price: 105,
          quantity: 2,
        }),
        ["order 3 placed untriggered 0/2", "balance 3 USD 789/211"],
      );
      deepStrictEqual(t.book().stops, [3]);
      deepStrictEqual(t.placeLines({ accountId: b, side: "buy", price: 100, quantity: 1 }), [
        "order 4 placed open 0/1",
        "trade 1 100x1 taker 4 maker 1 fees 1/1",
        "order 1 traded filled 1/1",
        "order 4 traded filled 1/1",
        "order 3 triggered open 0/2",
        "trade 2 105x2 taker 3 maker 2 fees 1/1",
        "order 2 traded partially_filled 2/5",
        "order 3 traded filled 2/2",
        "balance 0 USD 4/0",
        "balance 1 USD 308/0",
        "balance 1 XYZ 4/3",
        "balance 2 USD 899/0",
        "balance 2 XYZ 1/0",
        "balance 3 USD 789/0",
        "balance 3 XYZ 2/0",
      ]);
      deepStrictEqual(t.book().stops, []);
    });

    it("never triggers while the market has not traded", () => {
      const t = h();
      const a = t.funded({ XYZ: 10, USD: 1000 });
      t.order({ accountId: a, side: "sell", orderType: "stop_market", stopPrice: 1_000_000, quantity: 1 });
      t.order({ accountId: a, side: "buy", orderType: "stop_limit", stopPrice: 1, price: 100, quantity: 1 });
      t.run({ type: "tick" });
      deepStrictEqual(t.book().stops, [1, 2]);
      equal(t.held(1)!.status, "untriggered");
    });

    it("triggers a stop placed when already due, and runs a sell stop_market as a market order", () => {
      const t = h();
      const a = t.funded({ XYZ: 10, USD: 1000 });
      const b = t.funded({ XYZ: 10, USD: 1000 });
      t.order({ accountId: a, side: "buy", price: 100, quantity: 1 });
      t.order({ accountId: a, side: "buy", price: 90, quantity: 3 });
      t.place({ accountId: b, side: "sell", price: 100, quantity: 1 });
      equal(t.dump().markets[0]!.lastPrice, 100);
      deepStrictEqual(
        t.placeLines({
          accountId: b,
          side: "sell",
          orderType: "stop_market",
          stopPrice: 100,
          quantity: 5,
          timeInForce: "IOC",
        }),
        [
          "order 4 placed untriggered 0/5",
          "order 4 triggered open 0/5",
          "trade 2 90x3 taker 4 maker 2 fees 1/1",
          "order 2 traded filled 3/3",
          "order 4 expired_ioc expired 3/5",
          "balance 0 USD 4/0",
          "balance 1 USD 628/0",
          "balance 1 XYZ 14/0",
          "balance 2 USD 1368/0",
          "balance 2 XYZ 6/0",
        ],
      );
    });

    it("prices a stop_market buy by quantity at trigger time, cancelling it when funds are short", () => {
      const t = h();
      const a = t.funded({ XYZ: 20 });
      const b = t.funded({ USD: 1000 });
      const c = t.funded({ USD: 300 });
      t.order({ accountId: a, side: "sell", price: 100, quantity: 1 });
      t.order({ accountId: a, side: "sell", price: 101, quantity: 10 });
      // Nothing held until it triggers.
      deepStrictEqual(
        t.placeLines({ accountId: c, side: "buy", orderType: "stop_market", stopPrice: 100, quantity: 3 }),
        ["order 3 placed untriggered 0/3"],
      );
      equal(t.held(3)!.hold, "0");
      deepStrictEqual(
        t.placeLines({ accountId: c, side: "buy", orderType: "stop_market", stopPrice: 100, quantity: 2 }),
        ["order 4 placed untriggered 0/2"],
      );
      // The trade at 100 triggers both, smallest orderId first: 3 lots at 101 cost 303 + 1 > 300;
      // 2 lots cost 202 + 1.
      deepStrictEqual(t.placeLines({ accountId: b, side: "buy", price: 100, quantity: 1 }), [
        "order 5 placed open 0/1",
        "trade 1 100x1 taker 5 maker 1 fees 1/1",
        "order 1 traded filled 1/1",
        "order 5 traded filled 1/1",
        "order 3 triggered open 0/3",
        "order 3 insufficient_funds cancelled 0/3",
        "order 4 triggered open 0/2",
        "trade 2 101x2 taker 4 maker 2 fees 1/1",
        "order 2 traded partially_filled 2/10",
        "order 4 traded filled 2/2",
        "balance 0 USD 4/0",
        "balance 1 USD 300/0",
        "balance 1 XYZ 9/8",
        "balance 2 USD 899/0",
        "balance 2 XYZ 1/0",
        "balance 3 USD 97/0",
        "balance 3 XYZ 2/0",
      ]);
    });

    it("cascades: a triggered stop's trade triggers the next stop", () => {
      const t = h();
      const a = t.funded({ XYZ: 20 });
      const b = t.funded({ USD: 10_000 });
      t.order({ accountId: a, side: "sell", price: 100, quantity: 1 });
      t.order({ accountId: a, side: "sell", price: 102, quantity: 1 });
      t.order({ accountId: a, side: "sell", price: 104, quantity: 1 });
      t.order({ accountId: b, side: "buy", orderType: "stop_market", stopPrice: 102, quantity: 1 });
      t.order({ accountId: b, side: "buy", orderType: "stop_market", stopPrice: 100, quantity: 1 });
      const triggered = t
        .place({ accountId: b, side: "buy", price: 100, quantity: 1, selfTradePrevention: "cancel_maker" })
        .flatMap((e) => (e.type === "trade" ? [`${e.takerOrderId}@${e.price}`] : []));
      // Order 5 (stop 100) is due after the first trade; its trade at 102 makes order 4 due.
      deepStrictEqual(triggered, ["6@100", "5@102", "4@104"]);
    });
  });

  describe(`${name}: self-trade prevention`, () => {
    it("cancel_taker ends the taker, with what it filled before meeting its own order", () => {
      const t = h();
      const a = t.funded({ XYZ: 10, USD: 10_000 });
      const b = t.funded({ XYZ: 10 });
      t.order({ accountId: b, side: "sell", price: 99, quantity: 1 });
      t.order({ accountId: a, side: "sell", price: 100, quantity: 5 });
      deepStrictEqual(t.placeLines({ accountId: a, side: "buy", price: 100, quantity: 4 }).slice(0, 4), [
        "order 3 placed open 0/4",
        "trade 1 99x1 taker 3 maker 1 fees 1/1",
        "order 1 traded filled 1/1",
        "order 3 self_trade cancelled 1/4",
      ]);
      deepStrictEqual(t.book().asks, [[100, [2]]]);
      equal(t.balance(a, "USD"), `${10_000 - 100}/0`);
    });

    it("cancel_maker cancels the resting order and goes on matching", () => {
      const t = h();
      const a = t.funded({ XYZ: 10, USD: 10_000 });
      const b = t.funded({ XYZ: 10 });
      t.order({ accountId: a, side: "sell", price: 100, quantity: 5 });
      t.order({ accountId: b, side: "sell", price: 100, quantity: 5 });
      deepStrictEqual(
        t.placeLines({
          accountId: a,
          side: "buy",
          price: 100,
          quantity: 4,
          selfTradePrevention: "cancel_maker",
        }),
        [
          "order 3 placed open 0/4",
          "order 1 self_trade cancelled 0/5",
          "trade 1 100x4 taker 3 maker 2 fees 1/1",
          "order 2 traded partially_filled 4/5",
          "order 3 traded filled 4/4",
          "balance 0 USD 2/0",
          "balance 1 USD 9599/0",
          "balance 1 XYZ 14/0",
          "balance 2 USD 399/0",
          "balance 2 XYZ 5/1",
        ],
      );
    });

    it("cancel_both cancels the resting order and ends the taker", () => {
      const t = h();
      const a = t.funded({ XYZ: 10, USD: 10_000 });
      const b = t.funded({ XYZ: 10 });
      t.order({ accountId: a, side: "sell", price: 100, quantity: 5 });
      t.order({ accountId: b, side: "sell", price: 100, quantity: 5 });
      deepStrictEqual(
        t.placeLines({
          accountId: a,
          side: "buy",
          price: 100,
          quantity: 4,
          selfTradePrevention: "cancel_both",
        }),
        [
          "order 3 placed open 0/4",
          "order 1 self_trade cancelled 0/5",
          "order 3 self_trade cancelled 0/4",
          "balance 1 XYZ 10/0",
        ],
      );
      deepStrictEqual(t.book().asks, [[100, [2]]]);
    });
  });

  describe(`${name}: post-only`, () => {
    it("rejects a post-only order that would take, own orders included, and rests one that would not", () => {
      const t = h();
      const a = t.funded({ XYZ: 10, USD: 10_000 });
      t.order({ accountId: a, side: "sell", price: 100, quantity: 5 });
      equal(
        t.placeCode({ accountId: a, side: "buy", price: 100, quantity: 1, postOnly: true }),
        "POST_ONLY_WOULD_TAKE",
      );
      equal(
        t.placeCode({ accountId: a, side: "buy", price: 101, quantity: 1, postOnly: true }),
        "POST_ONLY_WOULD_TAKE",
      );
      deepStrictEqual(
        t.placeLines({
          accountId: a,
          side: "buy",
          price: 99,
          quantity: 1,
          postOnly: true,
          timeInForce: "GTD",
          expireTime: t.time + 5,
        }),
        ["order 2 placed open 0/1", "balance 1 USD 9900/100"],
      );
      equal(
        t.placeCode({ accountId: a, side: "sell", price: 99, quantity: 1, postOnly: true }),
        "POST_ONLY_WOULD_TAKE",
      );
    });

    it("takes post-only only on GTC/GTD limit orders", () => {
      const t = h();
      const a = t.funded({ XYZ: 10, USD: 10_000 });
      const base = { accountId: a, side: "buy", price: 90, quantity: 1, postOnly: true } as const;
      equal(t.placeCode({ ...base, timeInForce: "IOC" }), "INVALID_TIME_IN_FORCE");
      equal(t.placeCode({ ...base, timeInForce: "FOK" }), "INVALID_TIME_IN_FORCE");
      equal(t.placeCode({ ...base, orderType: "stop_limit", stopPrice: 95 }), "INVALID_ORDER_TYPE");
      equal(
        t.placeCode({ ...base, orderType: "stop_market", price: 0, stopPrice: 95 }),
        "INVALID_ORDER_TYPE",
      );
      equal(t.placeCode({ ...base, orderType: "market", price: 0 }), "INVALID_ORDER_TYPE");
    });
  });

  describe(`${name}: amend`, () => {
    const setup = () => {
      const t = h();
      const a = t.funded({ USD: 100_000 });
      const b = t.funded({ USD: 100_000 });
      const s = t.funded({ XYZ: 100 });
      t.order({ accountId: a, side: "buy", price: 100, quantity: 10 }); // 1
      t.order({ accountId: b, side: "buy", price: 100, quantity: 10 }); // 2
      return { t, a, b, s };
    };
    const firstMaker = (t: Harness, s: number) => {
      const trade = t
        .place({ accountId: s, side: "sell", price: 100, quantity: 1 })
        .find((e) => e.type === "trade");
      return trade !== undefined && trade.type === "trade" ? trade.makerOrderId : 0;
    };

    it("keeps time priority when only the quantity shrinks, and adjusts the hold", () => {
      const { t, a, s } = setup();
      deepStrictEqual(t.lines({ type: "amend", accountId: a, orderId: 1, quantity: 6, price: 0 }), [
        "order 1 amended open 0/6",
        "balance 1 USD 99398/602",
      ]);
      deepStrictEqual(t.book().bids, [[100, [1, 2]]]);
      equal(firstMaker(t, s), 1);
    });

    it("loses time priority when the quantity grows", () => {
      const { t, a, s } = setup();
      deepStrictEqual(t.lines({ type: "amend", accountId: a, orderId: 1, quantity: 20, price: 0 }), [
        "order 1 amended open 0/20",
        "balance 1 USD 97996/2004",
      ]);
      deepStrictEqual(t.book().bids, [[100, [2, 1]]]);
      equal(firstMaker(t, s), 2);
    });

    it("loses time priority on a new price, even back to the old one", () => {
      const { t, a, s } = setup();
      t.run({ type: "amend", accountId: a, orderId: 1, quantity: 0, price: 99 });
      deepStrictEqual(t.book().bids, [
        [100, [2]],
        [99, [1]],
      ]);
      t.run({ type: "amend", accountId: a, orderId: 1, quantity: 0, price: 100 });
      deepStrictEqual(t.book().bids, [[100, [2, 1]]]);
      equal(firstMaker(t, s), 2);
    });

    it("trades when the new price crosses, then rests the rest at the tail", () => {
      const { t, a, s } = setup();
      t.order({ accountId: s, side: "sell", price: 103, quantity: 4 }); // 3
      // 1 → 103 × 10: hold 1030 + 3 = 1033 (was 1002). 4 @ 103 = 412, taker fee ceil(0.824) = 1.
      deepStrictEqual(t.lines({ type: "amend", accountId: a, orderId: 1, quantity: 0, price: 103 }), [
        "order 1 amended open 0/10",
        "trade 1 103x4 taker 1 maker 3 fees 1/1",
        "order 3 traded filled 4/4",
        "order 1 traded partially_filled 4/10",
        "balance 0 USD 2/0",
        "balance 1 USD 98967/620",
        "balance 1 XYZ 4/0",
        "balance 3 USD 411/0",
        "balance 3 XYZ 96/0",
      ]);
      deepStrictEqual(t.book().bids, [
        [103, [1]],
        [100, [2]],
      ]);
    });

    it("recomputes the hold of a partly filled order on its remaining quantity", () => {
      const { t, a, s } = setup();
      equal(firstMaker(t, s), 1); // 1 of 10 filled at 100: hold 1002 - 100 - 1 = 901
      equal(t.held(1)!.hold, "901");
      // New quantity 5, remaining 4 at 100: 400 + 1 = 401.
      deepStrictEqual(t.lines({ type: "amend", accountId: a, orderId: 1, quantity: 5, price: 0 }), [
        "order 1 amended partially_filled 1/5",
        "balance 1 USD 99498/401",
      ]);
    });

    it("refuses a quantity not above the filled quantity, or out of bounds", () => {
      const { t, a, s } = setup();
      firstMaker(t, s);
      firstMaker(t, s);
      equal(t.held(1)!.filledQuantity, 2);
      equal(t.code({ type: "amend", accountId: a, orderId: 1, quantity: 2, price: 0 }), "INVALID_QUANTITY");
      equal(t.code({ type: "amend", accountId: a, orderId: 1, quantity: 1, price: 0 }), "INVALID_QUANTITY");
      equal(
        t.code({ type: "amend", accountId: a, orderId: 1, quantity: 1_000_001, price: 0 }),
        "INVALID_QUANTITY",
      );
      equal(t.code({ type: "amend", accountId: a, orderId: 1, quantity: 0, price: 0 }), "INVALID_QUANTITY");
      deepStrictEqual(
        t.lines({ type: "amend", accountId: a, orderId: 1, quantity: 3, price: 0 }).slice(0, 1),
        ["order 1 amended partially_filled 2/3"],
      );
    });

    it("rejects amends in the documented order", () => {
      const { t, a, b } = setup();
      const amend = { type: "amend", accountId: a, orderId: 1, quantity: 0, price: 0 } as const;
      equal(t.code({ ...amend, accountId: 99, quantity: 5 }), "UNKNOWN_ACCOUNT");
      equal(t.code({ ...amend, orderId: 2, quantity: 5 }), "ORDER_NOT_FOUND");
      equal(t.code({ ...amend, orderId: 77, quantity: 5 }), "ORDER_NOT_FOUND");
      t.order({ accountId: b, side: "buy", orderType: "stop_market", stopPrice: 200, quantity: 1 }); // 3
      equal(t.code({ ...amend, accountId: b, orderId: 3, quantity: 5 }), "INVALID_ORDER_TYPE");
      equal(t.code({ ...amend, accountId: b, orderId: 3 }), "INVALID_ORDER_TYPE");
      equal(t.code(amend), "INVALID_QUANTITY");
      equal(t.code({ ...amend, price: limits.priceTicksMax + 1 }), "INVALID_PRICE");
      equal(t.code({ ...amend, price: limits.priceTicksMax + 1, quantity: 1_000_001 }), "INVALID_PRICE");
      equal(t.code({ ...amend, price: 2 ** 50, quantity: 1_000_000 }), "AMOUNT_OVERFLOW");
      equal(t.code({ ...amend, price: 4, quantity: 10 }), "MIN_NOTIONAL");
      equal(t.code({ ...amend, quantity: 1000 }), "INSUFFICIENT_FUNDS");
      // Exactly affordable: available 98,998 + hold 1,002 = 100,000 = 99,800 + 200.
      equal(t.lines({ ...amend, quantity: 998 })[0], "order 1 amended open 0/998");
    });

    it("rejects a post-only amend that would take", () => {
      const t = h();
      const a = t.funded({ USD: 10_000, XYZ: 10 });
      t.order({ accountId: a, side: "sell", price: 105, quantity: 1 });
      t.order({ accountId: a, side: "buy", price: 100, quantity: 1, postOnly: true });
      equal(
        t.code({ type: "amend", accountId: a, orderId: 2, quantity: 0, price: 105 }),
        "POST_ONLY_WOULD_TAKE",
      );
      equal(
        t.lines({ type: "amend", accountId: a, orderId: 2, quantity: 0, price: 104 })[0],
        "order 2 amended open 0/1",
      );
    });

    it("amends an untriggered stop_limit without matching it", () => {
      const t = h();
      const a = t.funded({ USD: 10_000, XYZ: 10 });
      t.order({ accountId: a, side: "sell", price: 100, quantity: 5 });
      t.order({ accountId: a, side: "buy", orderType: "stop_limit", stopPrice: 120, price: 90, quantity: 1 });
      // Price through the ask: a stop does not match before it triggers. Hold 110 × 3 + 1.
      deepStrictEqual(t.lines({ type: "amend", accountId: a, orderId: 2, quantity: 3, price: 110 }), [
        "order 2 amended untriggered 0/3",
        "balance 1 USD 9669/331",
      ]);
      deepStrictEqual(t.book().stops, [2]);
    });
  });

  describe(`${name}: cancel and cancel_all`, () => {
    it("cancels an open order and releases its hold", () => {
      const t = h();
      const a = t.funded({ USD: 10_000 });
      const b = t.account();
      t.order({ accountId: a, side: "buy", price: 100, quantity: 10 });
      equal(t.code({ type: "cancel", accountId: b, orderId: 1 }), "ORDER_NOT_FOUND");
      equal(t.code({ type: "cancel", accountId: 42, orderId: 1 }), "UNKNOWN_ACCOUNT");
      equal(t.code({ type: "cancel", accountId: a, orderId: 2 }), "ORDER_NOT_FOUND");
      deepStrictEqual(t.lines({ type: "cancel", accountId: a, orderId: 1 }), [
        "order 1 cancelled cancelled 0/10",
        "balance 1 USD 10000/0",
      ]);
      equal(t.code({ type: "cancel", accountId: a, orderId: 1 }), "ORDER_NOT_FOUND");
      deepStrictEqual(t.dump().orders, []);
    });

    it("cancels all of an account's open and untriggered orders, of one market or all, by orderId", () => {
      const t = h();
      const a = t.funded({ USD: 100_000, XYZ: 100, ABC: 100_000 });
      const b = t.funded({ USD: 100_000 });
      t.order({ accountId: a, side: "buy", price: 100, quantity: 1 }); // 1
      t.order({ accountId: a, symbol: "ABC-USD", side: "sell", price: 100, quantity: 2 }); // 2
      t.order({ accountId: b, side: "buy", price: 100, quantity: 1 }); // 3
      t.order({ accountId: a, side: "sell", orderType: "stop_market", stopPrice: 50, quantity: 1 }); // 4
      t.order({ accountId: a, side: "sell", price: 200, quantity: 1 }); // 5
      equal(t.code({ type: "cancel_all", accountId: a, symbol: "NOPE-USD" }), "UNKNOWN_SYMBOL");
      equal(t.code({ type: "cancel_all", accountId: 9, symbol: "" }), "UNKNOWN_ACCOUNT");
      deepStrictEqual(t.lines({ type: "cancel_all", accountId: a, symbol: "XYZ-USD" }), [
        "order 1 cancelled cancelled 0/1",
        "order 4 cancelled cancelled 0/1",
        "order 5 cancelled cancelled 0/1",
        "balance 1 USD 100000/0",
        "balance 1 XYZ 100/0",
      ]);
      deepStrictEqual(t.lines({ type: "cancel_all", accountId: a, symbol: "" }), [
        "order 2 cancelled cancelled 0/2",
        "balance 1 ABC 100000/0",
      ]);
      deepStrictEqual(t.lines({ type: "cancel_all", accountId: a, symbol: "" }), []);
      deepStrictEqual(
        t.dump().orders.map((o) => o.orderId),
        [3],
      );
    });
  });

  describe(`${name}: GTD`, () => {
    it("expires GTD orders by command time, first, in (expireTime, orderId) order", () => {
      const t = h();
      const a = t.funded({ USD: 10_000, XYZ: 10 });
      const b = t.funded({ USD: 10_000 });
      const now = t.time;
      equal(
        t.placeCode({
          accountId: a,
          side: "sell",
          price: 100,
          quantity: 1,
          timeInForce: "GTD",
          expireTime: now,
        }),
        "INVALID_EXPIRE_TIME",
      );
      t.order({
        accountId: a,
        side: "sell",
        price: 100,
        quantity: 1,
        timeInForce: "GTD",
        expireTime: now + 20,
      }); // 1
      t.order({
        accountId: a,
        side: "buy",
        price: 90,
        quantity: 1,
        timeInForce: "GTD",
        expireTime: now + 10,
      }); // 2
      t.order({
        accountId: a,
        side: "buy",
        orderType: "stop_limit",
        stopPrice: 95,
        price: 95,
        quantity: 1,
        timeInForce: "GTD",
        expireTime: now + 10,
      }); // 3
      t.time = now + 9;
      deepStrictEqual(t.lines({ type: "tick" }), []);
      t.time = now + 20;
      // The buy at 100 finds the ask already expired, and rests.
      deepStrictEqual(t.placeLines({ accountId: b, side: "buy", price: 100, quantity: 1 }), [
        "order 2 expired_gtd expired 0/1",
        "order 3 expired_gtd expired 0/1",
        "order 1 expired_gtd expired 0/1",
        "order 4 placed open 0/1",
        "balance 1 USD 10000/0",
        "balance 1 XYZ 10/0",
        "balance 2 USD 9899/101",
      ]);
      deepStrictEqual(
        t.dump().orders.map((o) => o.orderId),
        [4],
      );
    });

    it("expires on a tick alone", () => {
      const t = h();
      const a = t.funded({ USD: 10_000 });
      t.order({
        accountId: a,
        side: "buy",
        price: 90,
        quantity: 1,
        timeInForce: "GTD",
        expireTime: t.time + 1,
      });
      t.time += 1;
      deepStrictEqual(t.lines({ type: "tick" }), [
        "order 1 expired_gtd expired 0/1",
        "balance 1 USD 10000/0",
      ]);
    });

    it("runs the expiry before a rejection, its events first", () => {
      const t = h();
      const a = t.funded({ USD: 10_000 });
      t.order({
        accountId: a,
        side: "buy",
        price: 90,
        quantity: 1,
        timeInForce: "GTD",
        expireTime: t.time + 1,
      });
      t.time += 5;
      const lines = t.lines({ type: "cancel", accountId: a, orderId: 1 });
      deepStrictEqual(lines.slice(0, 2), ["order 1 expired_gtd expired 0/1", "rejected ORDER_NOT_FOUND"]);
      equal(t.balance(a, "USD"), "10000/0");
    });
  });

  describe(`${name}: clientOrderId`, () => {
    it("answers a repeated clientOrderId with the original order, per account", () => {
      const t = h();
      const a = t.funded({ USD: 10_000 });
      const b = t.funded({ USD: 10_000 });
      const id = "A-b_9".padEnd(36, "z");
      const first = t.placeLines({ accountId: a, side: "buy", price: 100, quantity: 1, clientOrderId: id });
      equal(first[0], "order 1 placed open 0/1");
      deepStrictEqual(
        t.placeLines({ accountId: a, side: "sell", price: 1, quantity: 9, clientOrderId: id }),
        [`duplicate 1 ${id} -> 1`],
      );
      t.run({ type: "cancel", accountId: a, orderId: 1 });
      deepStrictEqual(
        t.placeLines({ accountId: a, side: "buy", price: 100, quantity: 1, clientOrderId: id }),
        [`duplicate 1 ${id} -> 1`],
      );
      equal(
        t.placeLines({ accountId: b, side: "buy", price: 100, quantity: 1, clientOrderId: id })[0],
        "order 2 placed open 0/1",
      );
      // A rejected place does not take the id.
      equal(
        t.placeCode({ accountId: a, side: "buy", price: 100, quantity: 10_000, clientOrderId: "later" }),
        "INSUFFICIENT_FUNDS",
      );
      equal(
        t.placeLines({ accountId: a, side: "buy", price: 100, quantity: 1, clientOrderId: "later" })[0],
        "order 3 placed open 0/1",
      );
      const placed = t.all.at(-2);
      ok(placed !== undefined && placed.type === "order");
      equal(placed.clientOrderId, "later");
    });

    it("rejects a malformed clientOrderId before looking for a duplicate", () => {
      const t = h();
      const a = t.funded({ USD: 10_000 });
      for (const bad of ["x".repeat(37), "a.b", "a b", "é"]) {
        equal(
          t.placeCode({ accountId: a, side: "buy", price: 100, quantity: 1, clientOrderId: bad }),
          "INVALID_CLIENT_ORDER_ID",
        );
      }
      equal(t.placeCode({ accountId: 99, clientOrderId: "a.b" }), "UNKNOWN_ACCOUNT");
      equal(t.placeCode({ accountId: a, symbol: "NOPE-USD", clientOrderId: "a.b" }), "UNKNOWN_SYMBOL");
    });
  });

  describe(`${name}: placement checks`, () => {
    const setup = () => {
      const t = h();
      const a = t.funded({ USD: 10_000, XYZ: 100 });
      return { t, a };
    };
    const limit = (a: number) => ({ accountId: a, side: "buy", price: 100, quantity: 1 }) as const;

    it("checks prices and stop prices per order type", () => {
      const { t, a } = setup();
      equal(t.placeCode({ ...limit(a), price: 0 }), "INVALID_PRICE");
      equal(t.placeCode({ ...limit(a), price: 0, quantity: 0 }), "INVALID_PRICE");
      equal(t.placeCode({ ...limit(a), stopPrice: 5 }), "INVALID_STOP_PRICE");
      equal(t.placeCode({ ...limit(a), orderType: "market" }), "INVALID_PRICE");
      equal(t.placeCode({ ...limit(a), orderType: "market", price: 0, stopPrice: 5 }), "INVALID_STOP_PRICE");
      equal(t.placeCode({ ...limit(a), orderType: "stop_limit" }), "INVALID_STOP_PRICE");
      equal(t.placeCode({ ...limit(a), orderType: "stop_limit", price: 0, stopPrice: 5 }), "INVALID_PRICE");
      equal(t.placeCode({ ...limit(a), orderType: "stop_market", stopPrice: 5 }), "INVALID_PRICE");
      equal(t.placeCode({ ...limit(a), orderType: "stop_market", price: 0 }), "INVALID_STOP_PRICE");
      equal(t.placeCode({ ...limit(a), price: limits.priceTicksMax + 1 }), "INVALID_PRICE");
      equal(
        t.placeCode({ ...limit(a), orderType: "stop_limit", stopPrice: limits.priceTicksMax + 1 }),
        "INVALID_STOP_PRICE",
      );
    });

    it("checks the shape of market orders", () => {
      const { t, a } = setup();
      const market = { accountId: a, side: "buy", orderType: "market", price: 0 } as const;
      equal(t.placeCode({ ...market, quantity: 1, quoteQuantity: 500 }), "INVALID_ORDER_TYPE");
      equal(t.placeCode({ ...market, side: "sell", quoteQuantity: 500 }), "INVALID_ORDER_TYPE");
      equal(t.placeCode({ ...market, side: "sell", quantity: 1, quoteQuantity: 500 }), "INVALID_ORDER_TYPE");
      equal(t.placeCode(market), "INVALID_QUANTITY");
      equal(t.placeCode({ ...market, side: "sell" }), "INVALID_QUANTITY");
      equal(t.placeCode({ ...limit(a), quoteQuantity: 500 }), "INVALID_ORDER_TYPE");
      equal(
        t.placeCode({ ...limit(a), orderType: "stop_limit", stopPrice: 90, quoteQuantity: 500 }),
        "INVALID_ORDER_TYPE",
      );
      equal(t.placeCode({ ...limit(a), quantity: 0 }), "INVALID_QUANTITY");
      equal(
        t.placeCode({ ...market, orderType: "stop_market", stopPrice: 5, side: "sell", quoteQuantity: 5 }),
        "INVALID_ORDER_TYPE",
      );
    });

    it("checks time in force and expire time", () => {
      const { t, a } = setup();
      const market = { accountId: a, side: "buy", orderType: "market", price: 0, quantity: 1 } as const;
      equal(t.placeCode({ ...market, timeInForce: "GTD", expireTime: t.time + 10 }), "INVALID_TIME_IN_FORCE");
      equal(
        t.placeCode({ ...market, quantity: 0, quoteQuantity: 500, timeInForce: "FOK" }),
        "INVALID_TIME_IN_FORCE",
      );
      equal(t.placeCode({ ...limit(a), timeInForce: "GTD" }), "INVALID_EXPIRE_TIME");
      equal(t.placeCode({ ...limit(a), timeInForce: "GTD", expireTime: t.time }), "INVALID_EXPIRE_TIME");
      equal(t.placeCode({ ...limit(a), expireTime: t.time + 10 }), "INVALID_EXPIRE_TIME");
      equal(t.placeCode({ ...limit(a), timeInForce: "IOC", expireTime: t.time + 10 }), "INVALID_EXPIRE_TIME");
    });

    it("checks quantity bounds, amounts and minNotional", () => {
      const { t, a } = setup();
      equal(t.placeCode({ ...limit(a), quantity: 1_000_001 }), "INVALID_QUANTITY");
      // ABC-USD: minQuantity 0.2 = 2 lots.
      equal(t.placeCode({ ...limit(a), symbol: "ABC-USD", quantity: 1 }), "INVALID_QUANTITY");
      equal(
        t.placeCode({ accountId: a, side: "buy", orderType: "market", quoteQuantity: int64Max + 1n }),
        "AMOUNT_OVERFLOW",
      );
      equal(t.placeCode({ ...limit(a), price: 2 ** 50, quantity: 1_000_000 }), "AMOUNT_OVERFLOW");
      equal(t.placeCode({ ...limit(a), price: 49 }), "MIN_NOTIONAL");
      deepStrictEqual(t.placeLines({ ...limit(a), price: 25, quantity: 2 }), [
        "order 1 placed open 0/2",
        "balance 1 USD 9949/51",
      ]);
      equal(t.placeCode({ ...limit(a), orderType: "stop_limit", stopPrice: 90, price: 49 }), "MIN_NOTIONAL");
      equal(
        t.placeCode({ accountId: a, side: "buy", orderType: "market", quoteQuantity: 49 }),
        "MIN_NOTIONAL",
      );
      // A market order by quantity has no notional to check.
      equal(
        t.placeLines({ accountId: a, side: "sell", orderType: "market", quantity: 1 })[0],
        "order 2 placed open 0/1",
      );
      // ABC-USD has minNotional 0.
      equal(
        t.placeLines({ ...limit(a), symbol: "ABC-USD", price: 1, quantity: 2 })[0],
        "order 3 placed open 0/2",
      );
    });

    it("checks funds of the held asset", () => {
      const { t, a } = setup();
      // 10,000 cents hold 99 × 100 + 20 = 9,920; 100 lots hold 10,020.
      equal(t.placeLines({ ...limit(a), price: 99, quantity: 100 })[0], "order 1 placed open 0/100");
      equal(t.placeCode({ ...limit(a), quantity: 1 }), "INSUFFICIENT_FUNDS");
      equal(t.placeCode({ accountId: a, side: "sell", price: 200, quantity: 101 }), "INSUFFICIENT_FUNDS");
      equal(
        t.placeCode({ accountId: a, side: "buy", orderType: "market", quoteQuantity: 80 + 100 }),
        "INSUFFICIENT_FUNDS",
      );
      // quoteQuantity 79 + fee ceil(0.079) = 80: exactly what is left.
      equal(
        t.placeLines({
          accountId: a,
          symbol: "ABC-USD",
          side: "buy",
          orderType: "market",
          quoteQuantity: 79,
        })[0],
        "order 2 placed open 0/0",
      );
      equal(t.placeCode({ accountId: 99, side: "buy", price: 100, quantity: 1 }), "UNKNOWN_ACCOUNT");
      equal(t.placeCode({ accountId: a, symbol: "NOPE-USD" }), "UNKNOWN_SYMBOL");
    });

    it("names AMOUNT_OVERFLOW for a notional or a walk beyond 2^63-1, INSUFFICIENT_FUNDS for a hold beyond it", () => {
      const t = h();
      const a = t.funded({ USD: 1000 });
      const s = t.funded({ XYZ: 1_000_000 });
      // Notional 9,223,372,036,854 × 10^6 ≤ 2^63-1, its hold (+0.2%) beyond: no balance can cover it.
      const price = Number(int64Max / 1_000_000n);
      equal(t.placeCode({ accountId: a, side: "buy", price, quantity: 1_000_000 }), "INSUFFICIENT_FUNDS");
      equal(
        t.placeCode({ accountId: a, side: "buy", price: price + 1, quantity: 1_000_000 }),
        "AMOUNT_OVERFLOW",
      );
      t.order({ accountId: a, side: "buy", price: 100, quantity: 1 });
      equal(
        t.code({ type: "amend", accountId: a, orderId: 1, quantity: 1_000_000, price }),
        "INSUFFICIENT_FUNDS",
      );
      equal(
        t.code({ type: "amend", accountId: a, orderId: 1, quantity: 1_000_000, price: price + 1 }),
        "AMOUNT_OVERFLOW",
      );
      // Asks worth 10^19 in all: walking 1,000,000 lots costs more than 2^63-1; 921,000 lots cost
      // 9.21 × 10^18, within it, but not with the taker fee on top.
      t.order({ accountId: s, side: "sell", price: 10_000_000_000_000, quantity: 500_000 });
      t.order({ accountId: s, side: "sell", price: 10_000_000_000_000, quantity: 500_000 });
      equal(
        t.placeCode({ accountId: a, side: "buy", orderType: "market", quantity: 1_000_000 }),
        "AMOUNT_OVERFLOW",
      );
      equal(
        t.placeCode({ accountId: a, side: "buy", orderType: "market", quantity: 921_000 }),
        "INSUFFICIENT_FUNDS",
      );
    });

    it("rejects a command with exactly one event and no change", () => {
      const { t, a } = setup();
      t.order({ ...limit(a), price: 90 });
      const before = state(t.dump());
      deepStrictEqual(t.placeLines({ ...limit(a), quantity: 100_000 }), ["rejected INSUFFICIENT_FUNDS"]);
      deepStrictEqual(state(t.dump()), before);
      const e = t.all.at(-1);
      ok(e !== undefined && e.type === "rejected");
      deepStrictEqual(
        { command: e.command, accountId: e.accountId, orderId: e.orderId, seq: e.seq, time: e.time },
        { command: "place", accountId: a, orderId: 0, seq: t.seq, time: t.time },
      );
    });
  });

  describe(`${name}: fees and the hold shortfall`, () => {
    it("takes per-fill fee rounding beyond the hold from available, then reduces the fee", () => {
      const t = h();
      const s = t.funded({ XYZ: 10 });
      const b = t.funded({ USD: 1000 });
      const poor = t.funded({ USD: 305 });
      // Three asks of 1 lot at 101. A buy of 3 at 101 holds 303 + ceil(0.606) = 304 but pays
      // 101 + ceil(0.202) = 102 per fill: 306.
      for (let i = 0; i < 6; i++) t.order({ accountId: s, side: "sell", price: 101, quantity: 1 });
      deepStrictEqual(t.placeLines({ accountId: b, side: "buy", price: 101, quantity: 3 }).slice(-4), [
        "balance 1 USD 300/0",
        "balance 1 XYZ 4/3",
        "balance 2 USD 694/0",
        "balance 2 XYZ 3/0",
      ]);
      // The poor buyer has 1 beyond its hold: the third fill takes it, and its fee is reduced by 1.
      const trades = t
        .place({ accountId: poor, side: "buy", price: 101, quantity: 3 })
        .flatMap((e) => (e.type === "trade" ? [`${e.takerFee}/${e.makerFee}`] : []));
      deepStrictEqual(trades, ["1/1", "1/1", "0/1"]);
      equal(t.balance(poor, "USD"), "0/0");
      // Fee account: 6 fills × maker 1 + takers 3 + 2.
      equal(t.balance(0, "USD"), "11/0");
      equal(t.balance(s, "USD"), "600/0");
    });
  });

  describe(`${name}: the hold shortfall beyond a fill's fee`, () => {
    it("never charges a buyer more than its hold and available when per-fill rounding outgrows the last fee", () => {
      const t = h();
      // ABC-USD: a buy of 10 lots at 201 holds 2010 + ceil(6.03) = 2017 at the 30 bps maker rate. Filled
      // as a maker in 5 pieces of 2 lots, each 402 + ceil(1.206) = 404: 2020 in all. Before the last
      // fill only 401 is held, less than its notional; nothing else is available.
      const buyer = t.funded({ USD: 2017 });
      const seller = t.funded({ ABC: 1000 });
      t.order({ accountId: buyer, symbol: "ABC-USD", side: "buy", price: 201, quantity: 10 });
      equal(t.balance(buyer, "USD"), "0/2017");
      for (let i = 0; i < 5; i++) {
        t.place({
          accountId: seller,
          symbol: "ABC-USD",
          side: "sell",
          price: 201,
          quantity: 2,
          timeInForce: "IOC",
        });
      }
      equal(t.dump().orders.length, 0);
      equal(t.balance(buyer, "USD"), "0/0");
      equal(t.balance(buyer, "ABC"), "1000/0");
      // The seller paid 5 taker fees of ceil(0.402) = 1; the buyer's fees come to what it held beyond
      // the notional: 7. Nothing is created or lost.
      equal(t.balance(seller, "USD"), "2005/0");
      equal(t.balance(0, "USD"), "12/0");
    });
  });

  describe(`${name}: amounts beyond 2^53`, () => {
    it("trades and settles bigint notionals exactly", () => {
      const t = h();
      const a = t.funded({ XYZ: 1_000_000 });
      const b = t.funded({ USD: 2n ** 60n });
      t.order({ accountId: a, side: "sell", price: 10_000_000_000, quantity: 1_000_000 });
      // 10^10 × 10^6 = 10^16 > 2^53. Hold 10^16 + 2 × 10^13.
      const e = t.place({ accountId: b, side: "buy", price: 10_000_000_000, quantity: 1_000_000 });
      const trade = e.find((x) => x.type === "trade");
      ok(trade !== undefined && trade.type === "trade");
      deepStrictEqual(
        [trade.notional, trade.takerFee, trade.makerFee],
        [10_000_000_000_000_000n, 20_000_000_000_000, 10_000_000_000_000],
      );
      deepStrictEqual(e.map(summarize).slice(-5), [
        "balance 0 USD 30000000000000/0",
        "balance 1 USD 9990000000000000/0",
        "balance 1 XYZ 0/0",
        `balance 2 USD ${2n ** 60n - 10_020_000_000_000_000n}/0`,
        "balance 2 XYZ 1000000/0",
      ]);
      const balance = e.find((x) => x.type === "balance" && x.accountId === 1 && x.asset === "USD");
      ok(balance !== undefined && balance.type === "balance");
      equal(typeof balance.available, "bigint");
    });
  });

  describe(`${name}: bounds`, () => {
    it("refuses an account's order past openOrdersPerAccountMax, stops and market orders included", () => {
      const t = h();
      t.recording = false;
      const a = t.funded({ XYZ: limits.openOrdersPerAccountMax + 10, USD: 100_000 });
      for (let i = 0; i < limits.openOrdersPerAccountMax - 1; i++) {
        t.run(t.placeBody({ accountId: a, side: "sell", price: 1000 + i, quantity: 1 }));
      }
      t.order({ accountId: a, side: "sell", orderType: "stop_market", stopPrice: 5, quantity: 1 });
      equal(t.dump().orders.length, limits.openOrdersPerAccountMax);
      equal(t.placeCode({ accountId: a, side: "buy", price: 100, quantity: 1 }), "TOO_MANY_OPEN_ORDERS");
      equal(
        t.placeCode({ accountId: a, side: "buy", orderType: "market", quantity: 1 }),
        "TOO_MANY_OPEN_ORDERS",
      );
      t.run({ type: "cancel", accountId: a, orderId: 1 });
      equal(
        t.placeLines({ accountId: a, side: "buy", price: 100, quantity: 1 })[0],
        `order ${limits.openOrdersPerAccountMax + 1} placed open 0/1`,
      );
    });

    it("refuses a stop past stopOrdersPerMarketMax untriggered stops in the market", () => {
      const t = h();
      t.recording = false;
      const perAccount = limits.openOrdersPerAccountMax;
      const accounts = Math.ceil(limits.stopOrdersPerMarketMax / perAccount);
      let placed = 0;
      for (let k = 0; k < accounts; k++) {
        const a = t.funded({ XYZ: perAccount });
        for (let i = 0; i < perAccount && placed < limits.stopOrdersPerMarketMax; i++, placed++) {
          t.run(
            t.placeBody({
              accountId: a,
              side: "sell",
              orderType: "stop_market",
              stopPrice: 1 + (i % 50),
              quantity: 1,
            }),
          );
        }
      }
      equal(t.book().stops.length, limits.stopOrdersPerMarketMax);
      const b = t.funded({ XYZ: 10, USD: 10_000 });
      equal(
        t.placeCode({ accountId: b, side: "sell", orderType: "stop_market", stopPrice: 1, quantity: 1 }),
        "TOO_MANY_STOP_ORDERS",
      );
      equal(
        t.placeCode({
          accountId: b,
          side: "buy",
          orderType: "stop_limit",
          stopPrice: 1,
          price: 100,
          quantity: 1,
        }),
        "TOO_MANY_STOP_ORDERS",
      );
      // Other markets and other order types are not affected.
      equal(
        t.placeLines({ accountId: b, side: "sell", price: 100, quantity: 1 })[0],
        `order ${placed + 1} placed open 0/1`,
      );
    });

    it("refuses a new price level past priceLevelsPerSideMax, not an existing one", () => {
      const t = h();
      t.recording = false;
      const perAccount = limits.openOrdersPerAccountMax;
      let placed = 0;
      while (placed < limits.priceLevelsPerSideMax) {
        const a = t.funded({ XYZ: perAccount });
        for (let i = 0; i < perAccount && placed < limits.priceLevelsPerSideMax; i++, placed++) {
          t.run(t.placeBody({ accountId: a, side: "sell", price: 1000 + placed, quantity: 1 }));
        }
      }
      equal(t.book().asks.length, limits.priceLevelsPerSideMax);
      const b = t.funded({ XYZ: 10, USD: 100_000 });
      equal(t.placeCode({ accountId: b, side: "sell", price: 999, quantity: 1 }), "BOOK_LEVELS_FULL");
      equal(
        t.placeCode({
          accountId: b,
          side: "sell",
          price: 999,
          quantity: 1,
          timeInForce: "GTD",
          expireTime: t.time + 9,
        }),
        "BOOK_LEVELS_FULL",
      );
      equal(
        t.placeLines({ accountId: b, side: "sell", price: 1000, quantity: 1 })[0],
        `order ${placed + 1} placed open 0/1`,
      );
      // An order that cannot rest is not checked; the other side has its own bound.
      equal(
        t.placeLines({ accountId: b, side: "sell", price: 999, quantity: 1, timeInForce: "IOC" }).at(-1),
        `order ${placed + 2} expired_ioc expired 0/1`,
      );
      equal(
        t.placeLines({ accountId: b, side: "buy", price: 500, quantity: 1 })[0],
        `order ${placed + 3} placed open 0/1`,
      );
      // An amend to a new price level is refused too.
      equal(
        t.code({ type: "amend", accountId: b, orderId: placed + 1, quantity: 0, price: 998 }),
        "BOOK_LEVELS_FULL",
      );
    });

    it("refuses an order past ordersPerLevelMax at one price", {
      skip: !heavy && "BOURSE_HEAVY_TESTS=1",
    }, () => {
      const t = h();
      t.recording = false;
      const perAccount = limits.openOrdersPerAccountMax;
      let placed = 0;
      while (placed < limits.ordersPerLevelMax) {
        const a = t.funded({ XYZ: perAccount });
        for (let i = 0; i < perAccount && placed < limits.ordersPerLevelMax; i++, placed++) {
          t.run(t.placeBody({ accountId: a, side: "sell", price: 1000, quantity: 1 }));
        }
      }
      const b = t.funded({ XYZ: 10 });
      equal(t.placeCode({ accountId: b, side: "sell", price: 1000, quantity: 1 }), "PRICE_LEVEL_FULL");
    });

    it("refuses an account past accountsMax", { skip: !heavy && "BOURSE_HEAVY_TESTS=1" }, () => {
      const t = h();
      t.recording = false;
      for (let i = 0; i < limits.accountsMax; i++) t.run({ type: "create_account" });
      equal(t.code({ type: "create_account" }), "TOO_MANY_ACCOUNTS");
    });

    it("refuses a transfer past transfersMax", { skip: !heavy && "BOURSE_HEAVY_TESTS=1" }, () => {
      const t = h();
      t.recording = false;
      const a = t.account();
      for (let i = 0; i < limits.transfersMax; i++) {
        t.run({ type: "deposit", accountId: a, asset: "USD", amount: 1, transferId: `t${i}` });
      }
      equal(
        t.code({ type: "deposit", accountId: a, asset: "USD", amount: 1, transferId: "one-more" }),
        "TOO_MANY_TRANSFERS",
      );
      // A repeat is still answered.
      deepStrictEqual(t.lines({ type: "deposit", accountId: a, asset: "USD", amount: 1, transferId: "t0" }), [
        "transfer deposit 1 USD 1 duplicate",
      ]);
    });
  });
}
