/**
 * `bourse start --demo`: demo accounts and bots, so that the book and the tape move. Market makers
 * quote a ladder around a random-walking mid in every market; takers send small market orders.
 * Bots submit through the same pipeline as clients (their orders are journaled like any other) and
 * are bounded: one command in flight per bot, a fixed number of levels per side.
 */
import type { Logger } from "pino";
import type { Gateway } from "../api/gateway.js";
import type { Market, SettledConfig } from "../engine/config.js";
import { divideExact, parseDecimal } from "../engine/decimal.js";
import { Prng } from "../platform/prng.js";
import type { CommandPipeline } from "./pipeline.js";

export interface Demo {
  stop(): Promise<void>;
}

/** Reference prices of the default markets (quote per base). */
const referencePrices: Record<string, string> = {
  "BTC-USD": "60000",
  "ETH-USD": "3000",
  "ETH-BTC": "0.05",
};
const levelsPerSide = 5;
const makerPeriodMs = 400;
const takerPeriodMs = 150;

function ticksOf(market: Market, price: string): number {
  const n = divideExact(parseDecimal(price)!, market.tickSize);
  return n === null ? 0 : Number(n);
}

function lotsOf(market: Market, quantity: string): number {
  const d = parseDecimal(quantity)!;
  // Round down to a whole lot.
  const scaled =
    (d.digits * 10n ** BigInt(market.lotSize.scale)) / (market.lotSize.digits * 10n ** BigInt(d.scale));
  return Math.max(market.minQuantityLots, Number(scaled));
}

export async function startDemo(
  gateway: Gateway,
  config: SettledConfig,
  pipeline: CommandPipeline,
  log: Logger,
): Promise<Demo> {
  const prng = new Prng(Date.now() >>> 0);
  const markets = config.markets.filter((m) => referencePrices[m.symbol] !== undefined);
  const accounts: number[] = [];
  for (let i = 0; i < 4; i++) {
    const created = await gateway.createAccount(i < 2 ? `demo-maker-${i + 1}` : `demo-taker-${i - 1}`);
    const id = Number(created.accountId);
    accounts.push(id);
    for (const asset of config.assets) {
      // A generous float: a million whole units of every asset, within every precision's range.
      const amount = 10 ** Math.min(6 + asset.precision, 15);
      await pipeline.submit({
        type: "deposit",
        accountId: id,
        asset: asset.asset,
        amount,
        transferId: `demo-${id}-${asset.asset}`,
      });
    }
  }
  const makers = accounts.slice(0, 2);
  const takers = accounts.slice(2);
  const mids = new Map(markets.map((m) => [m.symbol, ticksOf(m, referencePrices[m.symbol]!)]));
  let stopped = false;
  let inFlight = 0;
  const submit = (cmd: Parameters<CommandPipeline["submit"]>[0]): void => {
    if (stopped || !pipeline.ready) return;
    inFlight++;
    pipeline.submit(cmd).then(
      () => inFlight--,
      () => inFlight--,
    );
  };

  const quote = (): void => {
    for (const market of markets) {
      let mid = mids.get(market.symbol)!;
      // A random walk of up to ±5 bp per step.
      mid = Math.max(10, Math.round(mid * (1 + (prng.next() - 0.5) * 0.001)));
      mids.set(market.symbol, mid);
      const maker = makers[prng.int(makers.length)]!;
      submit({ type: "cancel_all", accountId: maker, symbol: market.symbol });
      for (let level = 1; level <= levelsPerSide; level++) {
        const offset = Math.max(1, Math.round(mid * 0.0002 * level));
        const quantity = lotsOf(market, (0.05 + prng.next() * 0.5).toFixed(4));
        for (const side of ["buy", "sell"] as const) {
          submit({
            type: "place",
            accountId: maker,
            symbol: market.symbol,
            side,
            orderType: "limit",
            price: side === "buy" ? mid - offset : mid + offset,
            stopPrice: 0,
            quantity,
            quoteQuantity: 0,
            timeInForce: "GTC",
            expireTime: 0,
            postOnly: false,
            clientOrderId: "",
            selfTradePrevention: "cancel_maker",
          });
        }
      }
    }
  };

  const take = (): void => {
    const market = markets[prng.int(markets.length)];
    if (market === undefined) return;
    submit({
      type: "place",
      accountId: takers[prng.int(takers.length)]!,
      symbol: market.symbol,
      side: prng.next() < 0.5 ? "buy" : "sell",
      orderType: "market",
      price: 0,
      stopPrice: 0,
      quantity: lotsOf(market, (0.01 + prng.next() * 0.1).toFixed(4)),
      quoteQuantity: 0,
      timeInForce: "IOC",
      expireTime: 0,
      postOnly: false,
      clientOrderId: "",
      selfTradePrevention: "cancel_taker",
    });
  };

  quote();
  const makerTimer = setInterval(quote, makerPeriodMs);
  const takerTimer = setInterval(take, takerPeriodMs);
  log.info(
    `demo: market makers ${makers.join(", ")} and takers ${takers.join(", ")} trading ${markets.map((m) => m.symbol).join(", ")}`,
  );

  return {
    async stop() {
      stopped = true;
      clearInterval(makerTimer);
      clearInterval(takerTimer);
      const deadline = Date.now() + 5_000;
      while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    },
  };
}
