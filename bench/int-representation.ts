/**
 * `npm run bench:int`: measures the money representation choice of src/engine/int.ts.
 *
 * One op is one settlement as the engine does it per fill: notional = price × quantity × scale,
 * taker and maker fees rounded up (ceil(n × bps / 10000)), then four balance updates (seller's locked
 * base and available quote, buyer's available base and locked quote) and the fee account. Compared:
 *   (a) plain numbers (fast but unsafe: wrong beyond 2^53, no overflow detection),
 *   (b) bigint only (exact everywhere, allocates),
 *   (c) the hybrid functions of src/engine/int.ts with realistic amounts (all below 2^53),
 *   (d) the hybrid with balances beyond 2^53 (its bigint path), for the cost of the rare case,
 *   and (c) once more after (d): V8's type feedback for int.ts then includes bigint, which is what a
 *   long-running engine sees once any amount has crossed 2^53.
 * The final balances of (a), (b) and (c) are compared, so the loops cannot be optimized away and the
 * representations are checked to agree. Last line: one JSON object {"bench":"int",...}.
 */
import os from "node:os";
import { add, feeCeil, type Int, mul, sub } from "../src/engine/int.js";
import { Rng } from "./lib/rng.js";

const quick = process.argv.includes("--quick");
const jsonOnly = process.argv.includes("--json-only");
const opsPerRun = quick ? 1_000_000 : 5_000_000;
const warmups = quick ? 1 : 2;
const runs = quick ? 3 : 5;
const accounts = 1024;
const inputs = 1 << 16;
const mask = inputs - 1;
/** BTC-USD of the default config: 1 quote unit per tick×lot, 10^4 base units per lot, fees 20/10 bps. */
const scale = 1;
const baseUnitsPerLot = 10_000;
const takerBps = 20;
const makerBps = 10;

const rng = new Rng(2);
const prices: number[] = [];
const quantities: number[] = [];
const buyers: number[] = [];
const sellers: number[] = [];
for (let i = 0; i < inputs; i++) {
  prices.push(2_900_000 + rng.int(200_000));
  quantities.push(1 + rng.int(6) * rng.int(6) * rng.int(6));
  buyers.push(rng.int(accounts));
  sellers.push(rng.int(accounts));
}
const bigPrices = prices.map(BigInt);
const bigQuantities = quantities.map(BigInt);

interface Balances<T> {
  availQuote: T[];
  lockedQuote: T[];
  availBase: T[];
  lockedBase: T[];
  fee: T[];
}

function balances<T>(start: T, zero: T): Balances<T> {
  const fill = (v: T) => Array.from({ length: accounts }, () => v);
  return {
    availQuote: fill(start),
    lockedQuote: fill(start),
    availBase: fill(start),
    lockedBase: fill(start),
    fee: [zero],
  };
}

function settleNumber(b: Balances<number>, n: number): void {
  const { availQuote, lockedQuote, availBase, lockedBase, fee } = b;
  for (let i = 0; i < n; i++) {
    const k = i & mask;
    const q = quantities[k]!;
    const s = sellers[k]!;
    const u = buyers[k]!;
    const notional = prices[k]! * q * scale;
    const takerFee = Math.ceil((notional * takerBps) / 10_000);
    const makerFee = Math.ceil((notional * makerBps) / 10_000);
    const base = q * baseUnitsPerLot;
    lockedBase[s] = lockedBase[s]! - base;
    availQuote[s] = availQuote[s]! + (notional - makerFee);
    availBase[u] = availBase[u]! + base;
    lockedQuote[u] = lockedQuote[u]! - (notional + takerFee);
    fee[0] = fee[0]! + (takerFee + makerFee);
  }
}

function settleBigint(b: Balances<bigint>, n: number): void {
  const { availQuote, lockedQuote, availBase, lockedBase, fee } = b;
  const bScale = BigInt(scale);
  const bBase = BigInt(baseUnitsPerLot);
  const bTaker = BigInt(takerBps);
  const bMaker = BigInt(makerBps);
  for (let i = 0; i < n; i++) {
    const k = i & mask;
    const q = bigQuantities[k]!;
    const s = sellers[k]!;
    const u = buyers[k]!;
    const notional = bigPrices[k]! * q * bScale;
    const takerFee = (notional * bTaker + 9_999n) / 10_000n;
    const makerFee = (notional * bMaker + 9_999n) / 10_000n;
    const base = q * bBase;
    lockedBase[s] = lockedBase[s]! - base;
    availQuote[s] = availQuote[s]! + (notional - makerFee);
    availBase[u] = availBase[u]! + base;
    lockedQuote[u] = lockedQuote[u]! - (notional + takerFee);
    fee[0] = fee[0]! + (takerFee + makerFee);
  }
}

function settleHybrid(b: Balances<Int>, n: number): void {
  const { availQuote, lockedQuote, availBase, lockedBase, fee } = b;
  for (let i = 0; i < n; i++) {
    const k = i & mask;
    const q = quantities[k]!;
    const s = sellers[k]!;
    const u = buyers[k]!;
    const notional = mul(mul(prices[k]!, q), scale);
    const takerFee = feeCeil(notional, takerBps);
    const makerFee = feeCeil(notional, makerBps);
    const base = mul(q, baseUnitsPerLot);
    lockedBase[s] = sub(lockedBase[s]!, base);
    availQuote[s] = add(availQuote[s]!, sub(notional, makerFee));
    availBase[u] = add(availBase[u]!, base);
    lockedQuote[u] = sub(lockedQuote[u]!, add(notional, takerFee));
    fee[0] = add(fee[0]!, add(takerFee, makerFee));
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function digest<T>(b: Balances<T>): string {
  return [b.availQuote, b.lockedQuote, b.availBase, b.lockedBase, b.fee].map((xs) => xs.join(",")).join("|");
}

const start = 1e15; // realistic: large balances, far below 2^53 ≈ 9.007e15
const bigStart = 2n ** 60n; // beyond 2^53: the hybrid takes its bigint path

interface Case {
  name: string;
  run: (n: number) => string;
}

const cases: Case[] = [
  {
    name: "number",
    run: (n) => {
      const b = balances<number>(start, 0);
      settleNumber(b, n);
      return digest(b);
    },
  },
  {
    name: "bigint",
    run: (n) => {
      const b = balances<bigint>(BigInt(start), 0n);
      settleBigint(b, n);
      return digest(b);
    },
  },
  {
    name: "hybrid",
    run: (n) => {
      const b = balances<Int>(start, 0);
      settleHybrid(b, n);
      return digest(b);
    },
  },
  {
    name: "hybridBeyond2p53",
    run: (n) => {
      const b = balances<Int>(bigStart, 0);
      settleHybrid(b, n);
      return digest(b);
    },
  },
];

const say = jsonOnly ? () => {} : (line: string) => console.log(line);
const samples = new Map<string, number[]>(cases.map((c) => [c.name, []]));
samples.set("hybridAfterBigint", []);
const digests = new Map<string, string>();

function measure(c: Case, key: string, rounds: number): void {
  const t0 = performance.now();
  const d = c.run(opsPerRun);
  const ns = ((performance.now() - t0) * 1e6) / opsPerRun;
  if (rounds >= warmups) samples.get(key)!.push(ns);
  digests.set(key, d);
}

// (a), (b), (c) in interleaved rounds, so that noise from other processes spreads over every case.
// The hybrid functions only ever see numbers here, as on the engine's normal path.
for (let r = 0; r < warmups + runs; r++) for (const c of cases.slice(0, 3)) measure(c, c.name, r);
// (d) then feeds them bigints; (c) measured again shows what that type feedback costs the number path.
for (let r = 0; r < warmups + runs; r++) measure(cases[3]!, cases[3]!.name, r);
for (let r = 0; r < warmups + runs; r++) measure(cases[2]!, "hybridAfterBigint", r);

const nsPerOp: Record<string, number> = {};
for (const [k, xs] of samples) nsPerOp[k] = Math.round(median(xs) * 10) / 10;
const agree =
  digests.get("number") === digests.get("bigint") && digests.get("bigint") === digests.get("hybrid");

say(
  `Settlement loop (notional, 2 fees rounded up, 5 balance updates), ${opsPerRun.toLocaleString("en-US")} ops a run,`,
);
say(
  `median of ${runs} runs after ${warmups} warm-up(s); ${os.cpus()[0]?.model ?? "?"}, Node ${process.version}`,
);
say("");
const rows: [string, string][] = [
  ["(a) plain numbers (unsafe past 2^53)", `${nsPerOp.number} ns/op`],
  ["(b) bigint only", `${nsPerOp.bigint} ns/op`],
  ["(c) hybrid, amounts < 2^53 (src/engine/int.ts)", `${nsPerOp.hybrid} ns/op`],
  ["(d) hybrid, balances beyond 2^53 (bigint path)", `${nsPerOp.hybridBeyond2p53} ns/op`],
  ["(c) again, after (d) made its call sites polymorphic", `${nsPerOp.hybridAfterBigint} ns/op`],
];
const width = Math.max(...rows.map((r) => r[0].length));
for (const [k, v] of rows) say(`${k.padEnd(width)}  ${v.padStart(12)}`);
say("");
say(
  `hybrid vs number: ${(nsPerOp.hybrid! / nsPerOp.number!).toFixed(2)}x; bigint vs hybrid: ` +
    `${(nsPerOp.bigint! / nsPerOp.hybrid!).toFixed(2)}x; (a), (b), (c) final balances ${agree ? "identical" : "DIFFER"}`,
);
console.log(
  JSON.stringify({
    bench: "int",
    opsPerRun,
    runs,
    nsPerOp: {
      number: nsPerOp.number,
      bigint: nsPerOp.bigint,
      hybrid: nsPerOp.hybrid,
      hybridBeyond2p53: nsPerOp.hybridBeyond2p53,
      hybridAfterBigint: nsPerOp.hybridAfterBigint,
    },
    hybridVsNumber: Math.round((nsPerOp.hybrid! / nsPerOp.number!) * 100) / 100,
    bigintVsHybrid: Math.round((nsPerOp.bigint! / nsPerOp.hybrid!) * 100) / 100,
    resultsAgree: agree,
    machine: { cpu: os.cpus()[0]?.model ?? "unknown", cpus: os.cpus().length, node: process.version },
  }),
);
