/**
 * Property tests of the exact arithmetic under the engine: src/engine/int.ts against plain bigint,
 * src/engine/decimal.ts parsing and formatting, and settleConfig refusing what it cannot settle.
 */
import { deepStrictEqual, equal, ok, throws } from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ConfigError, defaultConfig, type EngineConfig, settleConfig } from "../../src/engine/config.js";
import {
  divideExact,
  formatAmount,
  formatDecimal,
  formatUnits,
  parseAmount,
  parseDecimal,
  parseUnits,
} from "../../src/engine/decimal.js";
import {
  add,
  big,
  divFloor,
  feeCeil,
  type Int,
  inInt64,
  isZero,
  lt,
  min,
  mul,
  normalize,
  sub,
} from "../../src/engine/int.js";
import { int64Max } from "../../src/limits.js";
import { testConfig } from "./generator.js";

const two53 = 2n ** 53n;
const int64Min = -int64Max - 1n;

/** Normalized: a number exactly when the magnitude is below 2^53. */
function assertNormalized(x: Int): void {
  const inSafe = big(x) < two53 && big(x) > -two53;
  equal(typeof x, inSafe ? "number" : "bigint", `${x} is not normalized`);
  // (mul(0, -1) is -0, an integer equal to 0: allowed here, noted in the engine proof report.)
  if (typeof x === "number") ok(Number.isSafeInteger(x), `${x} is not a safe integer`);
}

const edges = [
  0n,
  1n,
  -1n,
  two53 - 1n,
  two53,
  two53 + 1n,
  -(two53 - 1n),
  -two53,
  -two53 - 1n,
  int64Max,
  int64Min,
];

/** Mostly the interesting boundaries and both sides of 2^53, over the signed 64-bit range. */
const int64 = fc.oneof(
  fc.constantFrom(...edges),
  fc.bigInt({ min: -(two53 * 4n), max: two53 * 4n }),
  fc.bigInt({ min: int64Min, max: int64Max }),
  fc.integer({ min: -1_000_000, max: 1_000_000 }).map(BigInt),
);
const nonNegative = int64.map((x) => (x < 0n ? -x - 1n : x));
const asInt = (x: bigint): Int => normalize(x);
const runs = { numRuns: 2000 };

describe("int: exact integers, number below 2^53 and bigint beyond", () => {
  it("normalizes at exactly 2^53 and round-trips through big", () => {
    fc.assert(
      fc.property(int64, (x) => {
        const n = normalize(x);
        assertNormalized(n);
        equal(big(n), x);
      }),
      runs,
    );
    equal(normalize(two53 - 1n), 2 ** 53 - 1);
    equal(normalize(two53), two53);
    equal(normalize(-two53), -two53);
  });

  it("add, sub and mul agree with bigint and stay normalized", () => {
    fc.assert(
      fc.property(int64, int64, (a, b) => {
        for (const [op, exact] of [
          [add, a + b],
          [sub, a - b],
          [mul, a * b],
        ] as const) {
          const r = op(asInt(a), asInt(b));
          assertNormalized(r);
          equal(big(r), exact);
        }
      }),
      runs,
    );
    // The double fast path must not round: 2^53 - 1 + 2 is not representable as a double.
    equal(add(2 ** 53 - 1, 2), two53 + 1n);
    equal(mul(94_906_267, 94_906_267), 94_906_267n * 94_906_267n);
    equal(sub(-(2 ** 53 - 1), 1), -two53);
  });

  it("divFloor agrees with bigint division for a >= 0, b > 0", () => {
    fc.assert(
      fc.property(nonNegative, nonNegative, (a, b0) => {
        const b = b0 === 0n ? 1n : b0;
        const r = divFloor(asInt(a), asInt(b));
        assertNormalized(r);
        equal(big(r), a / b);
      }),
      runs,
    );
    // Double division rounds these quotients; the remainders correct them.
    equal(divFloor(2 ** 53 - 1, 3), Number((two53 - 1n) / 3n));
    equal(divFloor(2 ** 53 - 2, 2 ** 53 - 1), 0);
    equal(divFloor(9_007_199_254_740_990, 10), 900_719_925_474_099);
  });

  it("feeCeil is ceil(n × bps / 10000) for every rate", () => {
    fc.assert(
      fc.property(nonNegative, fc.integer({ min: 0, max: 10_000 }), (n, bps) => {
        const r = feeCeil(asInt(n), bps);
        assertNormalized(r);
        const scaled = n * BigInt(bps);
        equal(big(r), (scaled + 9999n) / 10_000n);
        ok(big(r) <= n, "a fee never exceeds its notional");
      }),
      runs,
    );
    equal(feeCeil(1, 1), 1);
    equal(feeCeil(10_000, 20), 20);
    equal(feeCeil(10_001, 20), 21);
    equal(feeCeil(0, 20), 0);
  });

  it("compares exactly across number and bigint", () => {
    fc.assert(
      fc.property(int64, int64, (a, b) => {
        const x = asInt(a);
        const y = asInt(b);
        equal(lt(x, y), a < b);
        const smallest = [a, b].sort((p, q) => (p < q ? -1 : p > q ? 1 : 0))[0]; // Math.min refuses bigints
        equal(big(min(x, y)), smallest);
        equal(isZero(x), a === 0n);
        equal(inInt64(x), true);
      }),
      runs,
    );
    equal(inInt64(int64Max + 1n), false);
    equal(inInt64(int64Min - 1n), false);
  });
});

/** A plain decimal as the API accepts it: digits, optionally a dot and more digits, ≤ 64 characters. */
const decimalText = fc
  .tuple(
    fc.stringMatching(/^[0-9]{1,30}$/),
    fc.option(fc.stringMatching(/^[0-9]{1,30}$/), { nil: undefined }),
  )
  .map(([whole, fraction]) => (fraction === undefined ? whole : `${whole}.${fraction}`));

describe("decimal: API strings <-> exact integers", () => {
  it("parses what it formats and formats what it parses", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 40n }),
        fc.integer({ min: 0, max: 20 }),
        (digits, scale) => {
          const text = formatDecimal({ digits, scale });
          deepStrictEqual(parseDecimal(text), { digits, scale });
        },
      ),
      runs,
    );
    fc.assert(
      fc.property(decimalText, (text) => {
        const d = parseDecimal(text);
        ok(d !== null, text);
        // Formatting keeps the scale (trailing zeros) and drops leading zeros only.
        const expected = text.replace(/^0+(?=[0-9])/, "");
        equal(formatDecimal(d), expected);
        deepStrictEqual(parseDecimal(formatDecimal(d)), d);
      }),
      runs,
    );
    deepStrictEqual(parseDecimal("42000.50"), { digits: 4_200_050n, scale: 2 });
    deepStrictEqual(parseDecimal("0"), { digits: 0n, scale: 0 });
    equal(formatDecimal({ digits: 5n, scale: 3 }), "0.005");
  });

  it("rejects exponents, signs, stray dots, spaces and anything past 64 characters", () => {
    for (const bad of [
      "",
      "1e5",
      "1E5",
      "1.5e-3",
      "+1",
      "-1",
      "-0.5",
      ".5",
      "5.",
      "1..2",
      "1.2.3",
      " 1",
      "1 ",
      "1,5",
      "0x10",
      "1_000",
      "Infinity",
      "NaN",
      "١",
      "1".repeat(65),
      `0.${"1".repeat(63)}`,
    ]) {
      equal(parseDecimal(bad), null, JSON.stringify(bad));
    }
    ok(parseDecimal("1".repeat(64)) !== null, "64 characters are accepted");
    fc.assert(
      fc.property(fc.string({ maxLength: 70 }), (text) => {
        const valid = /^[0-9]+(\.[0-9]+)?$/.test(text) && text.length <= 64;
        equal(parseDecimal(text) !== null, valid, JSON.stringify(text));
      }),
      runs,
    );
  });

  it("divides exactly or not at all", () => {
    const unit = fc.record({
      digits: fc.bigInt({ min: 1n, max: 10n ** 6n }),
      scale: fc.integer({ min: 0, max: 12 }),
    });
    fc.assert(
      fc.property(
        unit,
        fc.bigInt({ min: 0n, max: 10n ** 20n }),
        fc.integer({ min: 0, max: 6 }),
        (u, k, extra) => {
          // k units, written with `extra` more decimals than needed.
          const value = { digits: k * u.digits * 10n ** BigInt(extra), scale: u.scale + extra };
          equal(divideExact(value, u), k);
          if (u.digits > 1n) {
            const off = { digits: value.digits + 10n ** BigInt(extra), scale: value.scale };
            equal(divideExact(off, u), null);
          }
        },
      ),
      runs,
    );
    equal(divideExact({ digits: 1n, scale: 2 }, { digits: 0n, scale: 0 }), null);
    equal(parseUnits("0.015", { digits: 1n, scale: 2 }), null, "off the tick");
    equal(parseUnits("0.010", { digits: 1n, scale: 2 }), 1n);
  });

  it("parses and formats amounts of an asset exactly, normalized", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: int64Max }),
        fc.integer({ min: 0, max: 18 }),
        (units, precision) => {
          const text = formatAmount(normalize(units), precision);
          const back = parseAmount(text, precision);
          ok(back !== null);
          assertNormalized(back);
          equal(big(back), units);
        },
      ),
      runs,
    );
    equal(parseAmount("1.123", 2), null);
    equal(parseAmount("1.120", 2), 112);
    equal(formatUnits(-5, { digits: 1n, scale: 2 }), "-0.05");
  });
});

describe("settleConfig", () => {
  const market = defaultConfig.markets[0]!;
  const withMarket = (changes: Partial<EngineConfig["markets"][number]>): EngineConfig => ({
    ...defaultConfig,
    markets: [{ ...market, ...changes }],
  });
  const refuses = (config: EngineConfig, message: RegExp) =>
    throws(
      () => settleConfig(config),
      (error: unknown) => error instanceof ConfigError && message.test(error.message),
      message.source,
    );

  it("settles the shipped configurations into exact integers", () => {
    const settled = settleConfig(defaultConfig);
    const btc = settled.marketBySymbol.get("BTC-USD")!;
    deepStrictEqual(
      [
        btc.quoteUnitsPerTickLot,
        btc.baseUnitsPerLot,
        btc.minQuantityLots,
        btc.maxQuantityLots,
        btc.minNotional,
        btc.holdFeeBps,
      ],
      [1, 10_000, 1, 10_000_000, 1_000_000, 20],
    );
    const ethBtc = settled.marketBySymbol.get("ETH-BTC")!;
    deepStrictEqual(
      [ethBtc.quoteUnitsPerTickLot, ethBtc.baseUnitsPerLot, ethBtc.minNotional],
      [1, 100_000, 10_000],
    );
    const gem = settleConfig(testConfig).marketBySymbol.get("GEM-WEI")!;
    deepStrictEqual(
      [gem.quoteUnitsPerTickLot, gem.baseUnitsPerLot, gem.minQuantityLots, gem.holdFeeBps],
      [10_000_000_000, 10, 2, 30],
    );
  });

  it("refuses a market whose notionals could not be settled exactly, saying why", () => {
    refuses(withMarket({ tickSize: "0.0001", lotSize: "0.0001" }), /finer than the USD precision/);
    refuses(
      withMarket({ lotSize: "0.000000001" }),
      /lotSize .* is not a whole multiple of the BTC precision/,
    );
    refuses(withMarket({ minQuantity: "0.00015" }), /minQuantity .* is not a whole multiple of lotSize/);
    refuses(withMarket({ maxQuantity: "1000.00005" }), /maxQuantity .* is not a whole multiple of lotSize/);
    refuses(
      withMarket({ minNotional: "0.0000001" }),
      /minNotional .* is not a whole multiple of the USD precision/,
    );
    refuses(withMarket({ maxQuantity: "0.0001", minQuantity: "0.0002" }), /maxQuantity is below minQuantity/);
    refuses(withMarket({ tickSize: "0" }), /tickSize "0" is not a positive decimal/);
    refuses(withMarket({ lotSize: "1e-4" }), /lotSize "1e-4" is not a positive decimal/);
    refuses(withMarket({ minNotional: "-1" }), /minNotional "-1" is not a decimal/);
    refuses(withMarket({ makerFeeBps: 10_001 }), /makerFeeBps must be an integer from 0 to 10000/);
    refuses(withMarket({ takerFeeBps: 1.5 }), /takerFeeBps must be an integer/);
    refuses(withMarket({ base: "DOGE" }), /base asset DOGE is not configured/);
    refuses(withMarket({ quote: "BTC" }), /base and quote must differ/);
    refuses(withMarket({ symbol: "btc-usd" }), /symbol must look like BASE-QUOTE/);
    refuses(withMarket({ maxQuantity: "1000000000000" }), /maxQuantity is too large/);
    refuses({ ...defaultConfig, markets: [market, market] }, /listed twice/);
  });

  it("refuses bad assets", () => {
    refuses({ assets: [], markets: [] }, /between 1 and 1000 assets/);
    refuses({ assets: [{ asset: "usd", precision: 2 }], markets: [] }, /name must match/);
    refuses(
      { assets: [{ asset: "USD", precision: 19 }], markets: [] },
      /precision must be an integer from 0 to 18/,
    );
    refuses(
      {
        assets: [
          { asset: "USD", precision: 2 },
          { asset: "USD", precision: 2 },
        ],
        markets: [],
      },
      /listed twice/,
    );
  });
});
