/**
 * The compact binary encoding of commands in journal records. Fixed field order per type, numbers
 * as IEEE doubles (every JavaScript number round-trips exactly, so replay sees exactly what the
 * engine saw), money (Int) tagged number-or-bigint, strings length-prefixed (ASCII fast path,
 * UTF-8 otherwise). Seq and time live in the record header, not here.
 *
 * Decoding is on the replay path (target ≥ 3M commands/s): one DataView, no allocation beyond the
 * command object, and short symbol/asset strings interned.
 */

import type { Int } from "../engine/int.js";
import type { Command, OrderType, SelfTradePrevention, Side, TimeInForce } from "../engine/types.js";
import { JournalError } from "./errors.js";
import { journalLimits } from "./journal-limits.js";

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A command as the gateway hands it over: the sequencer adds seq and time. */
export type CommandInput = DistributiveOmit<Command, "seq" | "time">;

const typeCodes = [
  "",
  "create_account",
  "deposit",
  "withdraw",
  "place",
  "cancel",
  "cancel_all",
  "amend",
  "tick",
] as const;
const sides: readonly Side[] = ["buy", "sell"];
const orderTypes: readonly OrderType[] = ["limit", "market", "stop_limit", "stop_market"];
const timesInForce: readonly TimeInForce[] = ["GTC", "IOC", "FOK", "GTD"];
const selfTradePreventions: readonly SelfTradePrevention[] = ["cancel_taker", "cancel_maker", "cancel_both"];

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

function invalid(message: string): never {
  throw new JournalError("JOURNAL_INVALID_COMMAND", message);
}

function tooLarge(message: string): never {
  throw new JournalError("JOURNAL_COMMAND_TOO_LARGE", message);
}

/** String.prototype.isWellFormed (ES2024): no lone surrogate, so UTF-8 round-trips it exactly. */
function isWellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return false;
    }
  }
  return true;
}

/** Writes one command body into `bytes` from `offset`; returns the end offset. Never writes past `limit`. */
export class CommandEncoder {
  private bytes: Uint8Array = new Uint8Array(0);
  private view: DataView = new DataView(new ArrayBuffer(0));
  private at = 0;
  private limit = 0;

  encode(cmd: CommandInput, bytes: Uint8Array, view: DataView, offset: number, limit: number): number {
    this.bytes = bytes;
    this.view = view;
    this.at = offset;
    this.limit = Math.min(limit, offset + journalLimits.commandBytesMax);
    switch (cmd.type) {
      case "create_account": {
        this.u8(1);
        // Optional credentials: absent ones take no bytes (and a bare create_account stays 1 byte);
        // a flags byte keeps "absent" apart from "" so that decoding gives back exactly what was sent.
        const flags =
          (cmd.name !== undefined ? 1 : 0) |
          (cmd.apiKey !== undefined ? 2 : 0) |
          (cmd.sealedSecret !== undefined ? 4 : 0);
        if (flags === 0) break;
        this.u8(flags);
        if (cmd.name !== undefined) this.string(cmd.name);
        if (cmd.apiKey !== undefined) this.string(cmd.apiKey);
        if (cmd.sealedSecret !== undefined) this.string(cmd.sealedSecret);
        break;
      }
      case "deposit":
      case "withdraw":
        this.u8(cmd.type === "deposit" ? 2 : 3);
        this.f64(cmd.accountId);
        this.string(cmd.asset);
        this.int(cmd.amount);
        this.string(cmd.transferId);
        break;
      case "place":
        this.u8(4);
        this.f64(cmd.accountId);
        this.string(cmd.symbol);
        this.u8(this.enumCode(sides, cmd.side, "side"));
        this.u8(this.enumCode(orderTypes, cmd.orderType, "orderType"));
        this.f64(cmd.price);
        this.f64(cmd.stopPrice);
        this.f64(cmd.quantity);
        this.int(cmd.quoteQuantity);
        this.u8(this.enumCode(timesInForce, cmd.timeInForce, "timeInForce"));
        this.f64(cmd.expireTime);
        this.u8(this.boolean(cmd.postOnly));
        this.string(cmd.clientOrderId);
        this.u8(this.enumCode(selfTradePreventions, cmd.selfTradePrevention, "selfTradePrevention"));
        break;
      case "cancel":
        this.u8(5);
        this.f64(cmd.accountId);
        this.f64(cmd.orderId);
        break;
      case "cancel_all":
        this.u8(6);
        this.f64(cmd.accountId);
        this.string(cmd.symbol);
        break;
      case "amend":
        this.u8(7);
        this.f64(cmd.accountId);
        this.f64(cmd.orderId);
        this.f64(cmd.quantity);
        this.f64(cmd.price);
        break;
      case "tick":
        this.u8(8);
        break;
      default:
        invalid(`unknown command type ${String((cmd as { type: unknown }).type)}`);
    }
    return this.at;
  }

  private room(n: number): void {
    if (this.at + n > this.limit) tooLarge(`a command is limited to ${journalLimits.commandBytesMax} bytes`);
  }

  private u8(v: number): void {
    this.room(1);
    this.bytes[this.at++] = v;
  }

  private f64(v: number): void {
    if (typeof v !== "number") invalid(`expected a number, got ${typeof v}`);
    this.room(8);
    this.view.setFloat64(this.at, v, true);
    this.at += 8;
  }

  private int(v: Int): void {
    if (typeof v === "number") {
      this.u8(0);
      this.f64(v);
      return;
    }
    if (typeof v !== "bigint") invalid(`expected an amount, got ${typeof v}`);
    let magnitude = v < 0n ? -v : v;
    const digits: number[] = [];
    while (magnitude > 0n) {
      digits.push(Number(magnitude & 0xffn));
      magnitude >>= 8n;
    }
    if (digits.length > 64) tooLarge("an amount is limited to 512 bits");
    this.room(3 + digits.length);
    this.u8(1);
    this.u8(v < 0n ? 1 : 0);
    this.u8(digits.length);
    for (const d of digits) this.bytes[this.at++] = d;
  }

  private string(s: string): void {
    if (typeof s !== "string") invalid(`expected a string, got ${typeof s}`);
    const n = s.length;
    let ascii = n <= journalLimits.commandStringBytesMax;
    for (let i = 0; ascii && i < n; i++) if (s.charCodeAt(i) > 0x7f) ascii = false;
    if (ascii) {
      this.room(1 + n);
      this.bytes[this.at++] = n;
      for (let i = 0; i < n; i++) this.bytes[this.at++] = s.charCodeAt(i);
      return;
    }
    if (!isWellFormed(s)) invalid("a string holds a lone surrogate and cannot be stored exactly");
    const utf8 = textEncoder.encode(s);
    if (utf8.length > journalLimits.commandStringBytesMax) {
      tooLarge(`a string is limited to ${journalLimits.commandStringBytesMax} UTF-8 bytes`);
    }
    this.room(1 + utf8.length);
    this.bytes[this.at++] = utf8.length;
    this.bytes.set(utf8, this.at);
    this.at += utf8.length;
  }

  private boolean(v: boolean): number {
    if (v === true) return 1;
    if (v === false) return 0;
    return invalid(`expected a boolean, got ${typeof v}`);
  }

  private enumCode<T extends string>(values: readonly T[], v: T, field: string): number {
    const i = values.indexOf(v);
    if (i < 0) invalid(`${field} "${String(v)}" is not one of ${values.join(", ")}`);
    return i;
  }
}

/** Thrown by the decoder on bytes that passed their checksum yet do not form a command (a bug or forged data). */
export class CommandDecodeError extends Error {
  override name = "CommandDecodeError";
}

const internMax = 4_096;

export class CommandDecoder {
  private bytes: Uint8Array = new Uint8Array(0);
  private view: DataView = new DataView(new ArrayBuffer(0));
  private at = 0;
  private end = 0;
  /** Symbols and asset names repeat: one string object each, keyed by a hash of their bytes. */
  private readonly interned = new Map<number, string>();

  decode(bytes: Uint8Array, view: DataView, offset: number, end: number, seq: number, time: number): Command {
    this.bytes = bytes;
    this.view = view;
    this.at = offset;
    this.end = end;
    const code = this.u8();
    let cmd: Command;
    switch (code) {
      case 1: {
        const account: Command = { type: "create_account", seq, time };
        if (this.at < end) {
          const flags = this.u8();
          if (flags === 0 || flags > 7) throw new CommandDecodeError(`create_account flags ${flags}`);
          if (flags & 1) account.name = this.string();
          if (flags & 2) account.apiKey = this.string();
          if (flags & 4) account.sealedSecret = this.string();
        }
        cmd = account;
        break;
      }
      case 2:
      case 3:
        cmd = {
          type: code === 2 ? "deposit" : "withdraw",
          seq,
          time,
          accountId: this.f64(),
          asset: this.symbol(),
          amount: this.int(),
          transferId: this.string(),
        };
        break;
      case 4:
        cmd = {
          type: "place",
          seq,
          time,
          accountId: this.f64(),
          symbol: this.symbol(),
          side: this.enumValue(sides),
          orderType: this.enumValue(orderTypes),
          price: this.f64(),
          stopPrice: this.f64(),
          quantity: this.f64(),
          quoteQuantity: this.int(),
          timeInForce: this.enumValue(timesInForce),
          expireTime: this.f64(),
          postOnly: this.u8() === 1,
          clientOrderId: this.string(),
          selfTradePrevention: this.enumValue(selfTradePreventions),
        };
        break;
      case 5:
        cmd = { type: "cancel", seq, time, accountId: this.f64(), orderId: this.f64() };
        break;
      case 6:
        cmd = { type: "cancel_all", seq, time, accountId: this.f64(), symbol: this.symbol() };
        break;
      case 7:
        cmd = {
          type: "amend",
          seq,
          time,
          accountId: this.f64(),
          orderId: this.f64(),
          quantity: this.f64(),
          price: this.f64(),
        };
        break;
      case 8:
        cmd = { type: "tick", seq, time };
        break;
      default:
        throw new CommandDecodeError(`unknown command type code ${code}`);
    }
    if (this.at !== end) throw new CommandDecodeError(`command body has ${end - this.at} trailing bytes`);
    return cmd;
  }

  private need(n: number): void {
    if (this.at + n > this.end) throw new CommandDecodeError("command body ends early");
  }

  private u8(): number {
    this.need(1);
    return this.bytes[this.at++]!;
  }

  private f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.at, true);
    this.at += 8;
    return v;
  }

  private int(): Int {
    const tag = this.u8();
    if (tag === 0) return this.f64();
    if (tag !== 1) throw new CommandDecodeError(`unknown amount tag ${tag}`);
    const negative = this.u8() === 1;
    const n = this.u8();
    this.need(n);
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.bytes[this.at + i]!);
    this.at += n;
    return negative ? -v : v;
  }

  private enumValue<T>(values: readonly T[]): T {
    const code = this.u8();
    if (code >= values.length) throw new CommandDecodeError(`enum code ${code} out of range`);
    return values[code]!;
  }

  private string(): string {
    const n = this.u8();
    if (n === 0) return "";
    this.need(n);
    const bytes = this.bytes;
    const start = this.at;
    this.at += n;
    let ascii = true;
    for (let i = start; i < start + n; i++) if (bytes[i]! > 0x7f) ascii = false;
    if (!ascii) return textDecoder.decode(bytes.subarray(start, start + n));
    return String.fromCharCode.apply(null, bytes.subarray(start, start + n) as unknown as number[]);
  }

  /** A short, repeating string: looked up by an FNV-1a hash of its bytes, compared before reuse. */
  private symbol(): string {
    const n = this.bytes[this.at]!;
    if (n === 0 || n > 32 || this.at + 1 + n > this.end) return this.string();
    const bytes = this.bytes;
    const start = this.at + 1;
    let h = 0x811c9dc5 ^ n;
    for (let i = start; i < start + n; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
    const cached = this.interned.get(h);
    if (cached !== undefined && cached.length === n) {
      let same = true;
      for (let i = 0; i < n; i++) if (cached.charCodeAt(i) !== bytes[start + i]) same = false;
      if (same) {
        this.at = start + n;
        return cached;
      }
    }
    const s = this.string();
    // Only ASCII strings (as many characters as bytes) are interned: the byte comparison above relies on it.
    if (s.length === n && this.interned.size < internMax) this.interned.set(h, s);
    return s;
  }
}

export const commandTypeCodes = typeCodes;
