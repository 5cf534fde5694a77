/**
 * Exact integers for money: a value is a `number` while it is a safe integer (|v| < 2^53) and a
 * `bigint` beyond, always normalized that way. Measured in bench/int-representation.ts on a
 * settlement loop: the hybrid costs about 40 ns an operation set where unchecked doubles cost about
 * 11 (but doubles are wrong past 2^53, and their rounded-up fees are not exact), and bigint-only
 * about 66 with an allocation per value. The checks are the price of exactness over the whole
 * signed 64-bit range the contract promises; the common path stays on doubles.
 *
 * A double product or sum of safe integers is exact whenever its true value is below 2^53 (IEEE
 * rounding is exact for representable results and monotonic), so `r < 2^53` proves `r` exact.
 */
import { int64Max } from "../limits.js";

export type Int = number | bigint;

const safeLimit = 2 ** 53; // first integer a double cannot follow exactly
const int64Min = -int64Max - 1n;

export function normalize(x: bigint): Int {
  return x < 9007199254740992n && x > -9007199254740992n ? Number(x) : x;
}

export function big(x: Int): bigint {
  return typeof x === "bigint" ? x : BigInt(x);
}

export function add(a: Int, b: Int): Int {
  if (typeof a === "number" && typeof b === "number") {
    const r = a + b;
    if (r < safeLimit && r > -safeLimit) return r;
  }
  return normalize(big(a) + big(b));
}

export function sub(a: Int, b: Int): Int {
  if (typeof a === "number" && typeof b === "number") {
    const r = a - b;
    if (r < safeLimit && r > -safeLimit) return r;
  }
  return normalize(big(a) - big(b));
}

export function mul(a: Int, b: Int): Int {
  if (typeof a === "number" && typeof b === "number") {
    const r = a * b;
    if (r < safeLimit && r > -safeLimit) return r + 0; // + 0 turns -0 into 0
  }
  return normalize(big(a) * big(b));
}

/** a < b */
export function lt(a: Int, b: Int): boolean {
  // Mixed number/bigint comparison is exact in JavaScript.
  return a < b;
}

export function isZero(a: Int): boolean {
  return a === 0;
}

export function min(a: Int, b: Int): Int {
  return a < b ? a : b;
}

export function inInt64(a: Int): boolean {
  return typeof a === "number" || (a <= int64Max && a >= int64Min);
}

/** floor(a / b) for a >= 0, b > 0. */
export function divFloor(a: Int, b: Int): Int {
  if (typeof a === "number" && typeof b === "number") {
    // The double quotient is correctly rounded, so it is off by at most one from the true floor;
    // the exact safe-integer remainder says which way.
    let q = Math.floor(a / b);
    const r = a - q * b;
    if (r < 0) q -= 1;
    else if (r >= b) q += 1;
    return q;
  }
  return normalize(big(a) / big(b));
}

/** Fee of a notional at `bps` basis points, rounded up to the asset's smallest unit. */
export function feeCeil(notional: Int, bps: number): Int {
  if (typeof notional === "number") {
    const scaled = notional * bps;
    if (scaled < safeLimit) {
      // ceil(scaled / 10000) with the same one-step correction as divFloor.
      let q = Math.ceil(scaled / 10_000);
      const r = q * 10_000 - scaled;
      if (r < 0) q += 1;
      else if (r >= 10_000) q -= 1;
      return q;
    }
  }
  const scaled = big(notional) * BigInt(bps);
  const q = scaled / 10_000n;
  return normalize(q * 10_000n === scaled ? q : q + 1n);
}
