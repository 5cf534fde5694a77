/**
 * Little binary writer and reader for snapshots: LEB128 varints for non-negative safe integers,
 * tagged encoding for money (Int), length-prefixed UTF-8 strings. The reader checks every bound and
 * throws on anything out of shape, so a damaged input can never become a plausible state.
 */
import { type Int, normalize } from "./int.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export class BinaryWriter {
  private buffer: Uint8Array;
  private length = 0;

  constructor(initialBytes = 1 << 16) {
    this.buffer = new Uint8Array(initialBytes);
  }

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < this.length + bytes) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buffer.subarray(0, this.length));
    this.buffer = next;
  }

  u8(value: number): void {
    this.reserve(1);
    this.buffer[this.length++] = value;
  }

  /** A non-negative safe integer. */
  varint(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`binary: varint out of range: ${value}`);
    this.reserve(8);
    const buffer = this.buffer;
    if (value < 0x80000000) {
      // 31-bit fast path with bit operations (most ids, prices, quantities).
      let v = value | 0;
      while (v >= 0x80) {
        buffer[this.length++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      buffer[this.length++] = v;
      return;
    }
    let v = value;
    while (v >= 0x80) {
      buffer[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    buffer[this.length++] = v;
  }

  /** Exact money: tag 0 non-negative number, 1 negative number, 2 non-negative bigint, 3 negative bigint. */
  int(value: Int): void {
    if (typeof value === "number") {
      if (value >= 0) {
        this.u8(0);
        this.varint(value);
      } else {
        this.u8(1);
        this.varint(-value);
      }
      return;
    }
    this.u8(value >= 0n ? 2 : 3);
    this.string((value >= 0n ? value : -value).toString());
  }

  string(value: string): void {
    const n = value.length;
    if (n < 128) {
      // Short ASCII (ids, symbols) without going through TextEncoder.
      this.reserve(n + 1);
      const buffer = this.buffer;
      const start = this.length;
      buffer[start] = n;
      let ascii = true;
      for (let i = 0; i < n; i++) {
        const c = value.charCodeAt(i);
        if (c > 0x7f) {
          ascii = false;
          break;
        }
        buffer[start + 1 + i] = c;
      }
      if (ascii) {
        this.length = start + 1 + n;
        return;
      }
    }
    const bytes = encoder.encode(value);
    this.varint(bytes.length);
    this.bytes(bytes);
  }

  bytes(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  finish(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

export class BinaryReader {
  private offset: number;

  constructor(
    private readonly buffer: Uint8Array,
    start = 0,
    private readonly end = buffer.length,
  ) {
    this.offset = start;
  }

  get position(): number {
    return this.offset;
  }

  get done(): boolean {
    return this.offset === this.end;
  }

  private fail(what: string): never {
    throw new Error(`binary: ${what} at offset ${this.offset}`);
  }

  u8(): number {
    if (this.offset >= this.end) this.fail("read past the end");
    return this.buffer[this.offset++]!;
  }

  varint(): number {
    const buffer = this.buffer;
    const first = this.offset < this.end ? buffer[this.offset]! : 0x80;
    if (first < 0x80) {
      this.offset++;
      return first;
    }
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const byte = this.u8();
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (!Number.isSafeInteger(result)) this.fail("varint beyond 2^53");
        return result;
      }
      scale *= 0x80;
    }
    return this.fail("varint too long");
  }

  int(): Int {
    const tag = this.u8();
    if (tag === 0) return this.varint();
    if (tag === 1) return -this.varint();
    if (tag === 2 || tag === 3) {
      const text = this.string();
      if (!/^[0-9]{1,40}$/.test(text)) this.fail("bad big integer");
      const value = normalize(tag === 2 ? BigInt(text) : -BigInt(text));
      if (typeof value === "number") this.fail("big integer not normalized");
      return value;
    }
    return this.fail(`bad integer tag ${tag}`);
  }

  string(): string {
    const length = this.varint();
    if (length === 0) return "";
    const bytes = this.bytes(length);
    if (length < 64) {
      let ascii = true;
      for (let i = 0; i < length; i++) if (bytes[i]! > 0x7f) ascii = false;
      if (ascii) return String.fromCharCode.apply(null, bytes as unknown as number[]);
    }
    return decoder.decode(bytes);
  }

  bytes(length: number): Uint8Array {
    if (this.offset + length > this.end) this.fail("read past the end");
    const bytes = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return bytes;
  }
}
