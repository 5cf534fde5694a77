/**
 * Decimal strings of the API <-> exact integers of the engine. No floating point anywhere.
 * A decimal is `digits / 10^scale` held as a bigint and a scale.
 */
import { limits } from "../limits.js";
import { big, type Int, normalize } from "./int.js";

export interface Decimal {
  readonly digits: bigint;
  readonly scale: number;
}

// Plain non-negative decimals only: no sign, no exponent, no leading/trailing dot, no spaces.
const decimalPattern = /^[0-9]+(\.[0-9]+)?$/;

export function parseDecimal(text: string): Decimal | null {
  if (typeof text !== "string" || text.length === 0 || text.length > limits.decimalLengthMax) return null;
  if (!decimalPattern.test(text)) return null;
  const dot = text.indexOf(".");
  if (dot < 0) return { digits: BigInt(text), scale: 0 };
  return { digits: BigInt(text.slice(0, dot) + text.slice(dot + 1)), scale: text.length - dot - 1 };
}

export function pow10(n: number): bigint {
  return 10n ** BigInt(n);
}

/** value / unit when that is an exact integer, else null. */
export function divideExact(value: Decimal, unit: Decimal): bigint | null {
  // value/unit = (vd / 10^vs) / (ud / 10^us) = vd * 10^us / (ud * 10^vs)
  const numerator = value.digits * pow10(unit.scale);
  const denominator = unit.digits * pow10(value.scale);
  if (denominator === 0n || numerator % denominator !== 0n) return null;
  return numerator / denominator;
}

/** Parses `text` as a whole number of `unit`s (ticks, lots, smallest asset units). */
export function parseUnits(text: string, unit: Decimal): bigint | null {
  const value = parseDecimal(text);
  return value === null ? null : divideExact(value, unit);
}

/** Parses an amount of an asset with `precision` decimals into smallest units. */
export function parseAmount(text: string, precision: number): Int | null {
  const units = parseUnits(text, { digits: 1n, scale: precision });
  return units === null ? null : normalize(units);
}

/** units × unit as a decimal string with exactly unit.scale decimals. */
export function formatUnits(units: Int, unit: Decimal): string {
  const value = big(units) * unit.digits;
  const negative = value < 0n;
  let digits = (negative ? -value : value).toString();
  if (unit.scale > 0) {
    digits = digits.padStart(unit.scale + 1, "0");
    digits = `${digits.slice(0, digits.length - unit.scale)}.${digits.slice(digits.length - unit.scale)}`;
  }
  return negative ? `-${digits}` : digits;
}

export function formatAmount(units: Int, precision: number): string {
  return formatUnits(units, { digits: 1n, scale: precision });
}

export function formatDecimal(d: Decimal): string {
  return formatUnits(d.digits, { digits: 1n, scale: d.scale });
}
