/**
 * Seeded random commands for the simulation, the crash loop, the load driver and the benchmark:
 * every command type, valid and invalid, money as numbers and bigints, on the default markets
 * (BTC-USD, ETH-USD, ETH-BTC). Prices stay near a mid so that orders rest, cross and trade.
 */
import type { Prng } from "../platform/prng.js";
import type { CommandInput } from "./command-codec.js";

const markets = [
  { symbol: "BTC-USD", mid: 5_000_000, spread: 50_000 },
  { symbol: "ETH-USD", mid: 300_000, spread: 3_000 },
  { symbol: "ETH-BTC", mid: 6_000, spread: 60 },
] as const;
const assets = ["USD", "BTC", "ETH"] as const;

export interface GeneratorOptions {
  /** Accounts the setup creates and funds. */
  accounts?: number;
  /** Only limit orders and cancels (the benchmark's steady mix). */
  simple?: boolean;
}

export class CommandGenerator {
  private readonly accounts: number;
  private readonly simple: boolean;
  private placed = 0;
  private transfers = 0;
  private readonly recentClientIds: string[] = [];

  constructor(
    private readonly random: Prng,
    options: GeneratorOptions = {},
  ) {
    this.accounts = options.accounts ?? 8;
    this.simple = options.simple ?? false;
  }

  /** Accounts 1..n, each funded in every asset. */
  setup(): CommandInput[] {
    const commands: CommandInput[] = [];
    for (let a = 1; a <= this.accounts; a++) commands.push({ type: "create_account" });
    for (let a = 1; a <= this.accounts; a++) {
      for (const asset of assets) {
        commands.push({
          type: "deposit",
          accountId: a,
          asset,
          amount: 1_000_000_000_000_000,
          transferId: `setup-${a}-${asset}`,
        });
      }
    }
    return commands;
  }

  next(): CommandInput {
    const r = this.random;
    if (this.simple) return r.chance(0.7) || this.placed === 0 ? this.limit() : this.cancel();
    const roll = r.next();
    if (roll < 0.02) {
      // Credentials as the gateway sends them, sometimes none (tests and tools).
      return r.chance(0.5)
        ? { type: "create_account" }
        : {
            type: "create_account",
            name: `n${r.u32()}`,
            apiKey: `k${r.u32().toString(36)}`,
            sealedSecret: `v1.${r.u32().toString(36)}`,
          };
    }
    if (roll < 0.07) return this.transfer("deposit");
    if (roll < 0.09) return this.transfer("withdraw");
    if (roll < 0.62) return r.chance(0.7) ? this.limit() : this.otherPlace();
    if (roll < 0.8) return this.cancel();
    if (roll < 0.83)
      return {
        type: "cancel_all",
        accountId: this.account(),
        symbol: r.chance(0.5) ? "" : r.pick(markets).symbol,
      };
    if (roll < 0.93) {
      return {
        type: "amend",
        accountId: this.account(),
        orderId: this.orderId(),
        quantity: r.chance(0.5) ? r.range(1, 200) : 0,
        price: r.chance(0.5) ? this.price(r.pick(markets)) : 0,
      };
    }
    return { type: "tick" };
  }

  private account(): number {
    return this.random.range(
      this.random.chance(0.02) ? 0 : 1,
      this.accounts + (this.random.chance(0.02) ? 5 : 0),
    );
  }

  private orderId(): number {
    return Math.max(1, this.placed - this.random.int(Math.min(this.placed, 200) + 1));
  }

  private price(m: (typeof markets)[number]): number {
    return m.mid + this.random.range(-m.spread, m.spread);
  }

  private clientOrderId(): string {
    const r = this.random;
    if (r.chance(0.7)) return "";
    if (r.chance(0.1) && this.recentClientIds.length > 0) return r.pick(this.recentClientIds);
    const id = `c${r.u32().toString(36)}`;
    this.recentClientIds.push(id);
    if (this.recentClientIds.length > 64) this.recentClientIds.shift();
    return id;
  }

  private transfer(type: "deposit" | "withdraw"): CommandInput {
    const r = this.random;
    // Some amounts past 2^53: the codec and the engine must carry bigints exactly.
    const amount = r.chance(0.05) ? 2n ** 53n + BigInt(r.u32()) : r.range(1, 1_000_000_000);
    const transferId =
      r.chance(0.1) && this.transfers > 0 ? `t${r.int(this.transfers)}` : `t${this.transfers++}`;
    return { type, accountId: this.account(), asset: r.pick(assets), amount, transferId };
  }

  private limit(): CommandInput {
    const r = this.random;
    const m = r.pick(markets);
    this.placed++;
    return {
      type: "place",
      accountId: this.account(),
      symbol: m.symbol,
      side: r.chance(0.5) ? "buy" : "sell",
      orderType: "limit",
      price: this.price(m),
      stopPrice: 0,
      quantity: r.range(1, 100),
      quoteQuantity: 0,
      timeInForce: r.chance(0.85) ? "GTC" : r.pick(["IOC", "FOK"] as const),
      expireTime: 0,
      postOnly: r.chance(0.1),
      clientOrderId: this.clientOrderId(),
      selfTradePrevention: r.pick(["cancel_taker", "cancel_maker", "cancel_both"] as const),
    };
  }

  private otherPlace(): CommandInput {
    const r = this.random;
    const m = r.pick(markets);
    const orderType = r.pick(["market", "stop_limit", "stop_market", "limit"] as const);
    const side = r.chance(0.5) ? "buy" : "sell";
    const stop = orderType === "stop_limit" || orderType === "stop_market";
    const byQuote = orderType !== "limit" && orderType !== "stop_limit" && side === "buy" && r.chance(0.3);
    const timeInForce =
      orderType === "limit" && r.chance(0.5) ? "GTD" : r.pick(["GTC", "IOC", "FOK"] as const);
    this.placed++;
    return {
      type: "place",
      accountId: this.account(),
      symbol: m.symbol,
      side,
      orderType,
      price: orderType === "limit" || orderType === "stop_limit" ? this.price(m) : 0,
      stopPrice: stop ? this.price(m) : 0,
      quantity: byQuote ? 0 : r.range(1, 100),
      quoteQuantity: byQuote ? r.range(1_000_000, 100_000_000) : 0,
      timeInForce,
      // GTD: a little ahead of a simulated clock starting at 1.7e12 ms; ticks make them expire.
      expireTime: timeInForce === "GTD" ? 1_700_000_000_000 + r.range(0, 100_000) : 0,
      postOnly: false,
      clientOrderId: this.clientOrderId(),
      selfTradePrevention: "cancel_taker",
    };
  }

  private cancel(): CommandInput {
    return { type: "cancel", accountId: this.account(), orderId: this.orderId() };
  }
}
