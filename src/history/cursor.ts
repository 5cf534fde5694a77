/**
 * Page cursors: the position of the last row a page returned, opaque to clients (base64url JSON),
 * the same for both backends, so that a cursor stays valid whichever store answers.
 *   fills:  { t: time, i: tradeId, l: 0 maker | 1 taker, s: seq }
 *   trades: { t: time, i: tradeId }
 *   ledger: { t: time, i: seq, a: asset }
 */
import { historyLimits } from "./history-limits.js";

export interface Position {
  t: number;
  i: number;
  l?: number;
  a?: string;
  /** The row's seq, where the position alone does not carry it (fills). */
  s?: number;
}

export class CursorError extends Error {
  override name = "CursorError";
  readonly code = "INVALID_CURSOR";
}

const cursorLengthMax = 256;

export function encodeCursor(p: Position): string {
  return Buffer.from(JSON.stringify(p)).toString("base64url");
}

export function decodeCursor(cursor: string | undefined): Position | null {
  if (cursor === undefined || cursor === "") return null;
  if (cursor.length > cursorLengthMax || !/^[A-Za-z0-9_-]+$/.test(cursor))
    throw new CursorError("malformed cursor");
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw new CursorError("malformed cursor");
  }
  const p = value as Position;
  if (
    typeof p !== "object" ||
    p === null ||
    !Number.isSafeInteger(p.t) ||
    !Number.isSafeInteger(p.i) ||
    (p.l !== undefined && p.l !== 0 && p.l !== 1) ||
    (p.s !== undefined && !Number.isSafeInteger(p.s)) ||
    (p.a !== undefined && (typeof p.a !== "string" || p.a.length > 16))
  ) {
    throw new CursorError("malformed cursor");
  }
  return p;
}

/** The page size asked for, within bounds. */
export function pageSize(limit: number | undefined): number {
  if (limit === undefined) return historyLimits.pageSizeDefault;
  if (!Number.isSafeInteger(limit) || limit < 1) throw new CursorError("limit must be a positive integer");
  return Math.min(limit, historyLimits.pageSizeMax);
}

/** Zero-padded decimal, so that strings sort as the numbers do (DynamoDB sort keys). */
export function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}
