/**
 * Exact decimal strings for order entry: the dashboard validates prices and quantities against the
 * market's tick and lot with integer (bigint) arithmetic, never with binary floating point, and sends
 * them as the contract wants them: plain decimal strings with no more decimals than the unit has.
 */

export interface Dec {
  /** The value is digits × 10^-scale. */
  digits: bigint;
  scale: number;
}

const plain = /^(\d+)(?:\.(\d+))?$/;

/** A plain non-negative decimal ("42000.50", "0.1"); null for anything else (signs, exponents, spaces). */
export function parseDec(text: string): Dec | null {
  if (text.length === 0 || text.length > 64) return null;
  const m = plain.exec(text);
  if (m === null) return null;
  const fraction = m[2] ?? "";
  return { digits: BigInt(m[1]! + fraction), scale: fraction.length };
}

/** Trailing fractional zeros removed: "1.2500" → 1.25 (scale 2). */
export function trim(d: Dec): Dec {
  let { digits, scale } = d;
  while (scale > 0 && digits % 10n === 0n) {
    digits /= 10n;
    scale--;
  }
  return { digits, scale };
}

/** Decimal places of a unit, trailing zeros ignored ("0.010" → 2). */
export function placesOf(unit: string): number {
  const d = parseDec(unit);
  return d === null ? 0 : trim(d).scale;
}

function scaled(d: Dec, scale: number): bigint {
  return d.digits * 10n ** BigInt(scale - d.scale);
}

export function compareDec(a: Dec, b: Dec): number {
  const s = Math.max(a.scale, b.scale);
  const x = scaled(a, s);
  const y = scaled(b, s);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function isZero(d: Dec): boolean {
  return d.digits === 0n;
}

/** True when `value` is a whole number of `unit`s. */
export function isMultipleOf(value: Dec, unit: Dec): boolean {
  const s = Math.max(value.scale, unit.scale);
  const u = scaled(unit, s);
  return u !== 0n && scaled(value, s) % u === 0n;
}

export function mulDec(a: Dec, b: Dec): Dec {
  return { digits: a.digits * b.digits, scale: a.scale + b.scale };
}

export function addDec(a: Dec, b: Dec): Dec {
  const s = Math.max(a.scale, b.scale);
  return { digits: scaled(a, s) + scaled(b, s), scale: s };
}

/** `d` written with exactly `places` decimals (rounded down when it has more). */
export function formatDec(d: Dec, places: number): string {
  let digits = d.digits;
  if (d.scale > places) digits /= 10n ** BigInt(d.scale - places);
  else digits *= 10n ** BigInt(places - d.scale);
  const text = digits.toString().padStart(places + 1, "0");
  return places === 0 ? text : `${text.slice(0, -places)}.${text.slice(-places)}`;
}

/** Sum of two decimal strings, written with the larger number of decimals of the two. */
export function addText(a: string, b: string): string {
  const x = parseDec(a);
  const y = parseDec(b);
  if (x === null || y === null) return a;
  return formatDec(addDec(x, y), Math.max(x.scale, y.scale));
}

/** Trailing fractional zeros (and a trailing dot) removed from a decimal string: "1.500" → "1.5". */
export function trimText(text: string): string {
  if (!text.includes(".")) return text;
  return text.replace(/0+$/, "").replace(/\.$/, "");
}

export interface UnitCheck {
  /** The normalized text to send, or null with the reason. */
  text: string | null;
  error?: string;
  value?: Dec;
}

/**
 * Checks an entered amount against a unit (tickSize, lotSize, or 10^-precision): a plain positive
 * decimal, a whole number of units, no more decimals than the unit. Trailing zeros past the unit's
 * places are dropped ("100.500" with tick 0.01 → "100.50"), so what is sent never has too many decimals.
 */
export function checkUnits(label: string, raw: string, unit: string): UnitCheck {
  const text = raw.trim();
  if (text === "") return { text: null, error: `${label} is required` };
  const parsed = parseDec(text);
  if (parsed === null) return { text: null, error: `${label} must be a plain decimal number` };
  const value = trim(parsed);
  if (isZero(value)) return { text: null, error: `${label} must be greater than 0` };
  const u = parseDec(unit);
  if (u === null) return { text: null, error: `${label}: the market's unit "${unit}" is unreadable` };
  const places = trim(u).scale;
  if (value.scale > places || !isMultipleOf(value, u)) {
    return { text: null, error: `${label} must be a multiple of ${unit}` };
  }
  // Keep the decimals as typed ("59950.00"), dropping only zeros past the unit's places.
  return { text: formatDec(value, Math.max(value.scale, Math.min(parsed.scale, places))), value };
}
