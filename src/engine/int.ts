/**
 * Exact integers for money: a value is a `number` while it is a safe integer (|v| < 2^53) and a
 * `bigint` beyond, always normalized that way. Measured in bench/int-representation.ts: the hybrid
 * runs at the speed of plain numbers on the path every real order takes (amounts far below 2^53),
 * where bigint-only arithmetic is several times slower and allocates; yet balances and notionals stay
 * exact over the whole signed 64-bit range the contract promises.
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
    if (r < safeLimit && r > -safeLimit) return r;
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
    let q = Math.floor(a / b);
    // The quotient of two doubles is rounded; correct it with exact safe-integer remainders.
    let r = a - q * b;
    while (r < 0) {
      q -= 1;
      r += b;
    }
    while (r >= b) {
      q += 1;
      r -= b;
    }
    return q;
  }
  return normalize(big(a) / big(b));
}

/** Fee of a notional at `bps` basis points, rounded up to the asset's smallest unit. */
export function feeCeil(notional: Int, bps: number): Int {
  if (bps === 0 || notional === 0) return 0;
  const scaled = mul(notional, bps);
  if (typeof scaled === "number") {
    const q = divFloor(scaled, 10_000) as number;
    return q * 10_000 === scaled ? q : q + 1;
  }
  const q = scaled / 10_000n;
  return normalize(q * 10_000n === scaled ? q : q + 1n);
}
