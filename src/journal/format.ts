/**
 * The on-disk format (docs/journal.md has the picture): segment files of records, snapshot files,
 * the seal written at a clean shutdown. All integers little-endian; 64-bit values as two u32 halves
 * (values stay below 2^53); every header carries its own CRC32C.
 *
 * Record (32-byte header, then the command body):
 *   0 headerCrc  CRC32C of bytes 4..31 of this header
 *   4 recordBytes  header + body
 *   8 seq (u64)   16 time (u64, ms)
 *  24 chain      headerCrc of the previous record (the segment header's prevChain for the first one
 *                of a segment; 0 before seq 1): a hash chain over the whole history
 *  28 bodyCrc    CRC32C of the body
 */
import { crc32c } from "./crc32c.js";
import {
  journalLimits,
  recordBytesMax,
  recordHeaderBytes,
  segmentHeaderBytes,
  snapshotHeaderBytes,
} from "./journal-limits.js";

export const formatVersion = 1;
const segmentMagic = "BOURSEJL";
const snapshotMagic = "BOURSESN";
const sealMagic = "BOURSECL";
export const sealBytes = 64;

export const segmentPrefix = "segment-";
export const segmentSuffix = ".journal";
export const snapshotPrefix = "snapshot-";
export const snapshotSuffix = ".snap";
export const temporarySuffix = ".tmp";
export const sealName = "journal.seal";
export const archiveDirName = "archive";

export function segmentName(firstSeq: number): string {
  return `${segmentPrefix}${String(firstSeq).padStart(16, "0")}${segmentSuffix}`;
}

export function snapshotName(seq: number): string {
  return `${snapshotPrefix}${String(seq).padStart(16, "0")}${snapshotSuffix}`;
}

/** The number in a segment or snapshot file name, or -1 for any other name. */
export function fileSeq(name: string, prefix: string, suffix: string): number {
  if (!name.startsWith(prefix) || !name.endsWith(suffix)) return -1;
  const digits = name.slice(prefix.length, name.length - suffix.length);
  if (!/^\d{16}$/.test(digits)) return -1;
  return Number(digits);
}

const two32 = 4294967296;

export function setU64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value % two32, true);
  view.setUint32(offset + 4, Math.floor(value / two32), true);
}

export function getU64(view: DataView, offset: number): number {
  return view.getUint32(offset, true) + view.getUint32(offset + 4, true) * two32;
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function writeMagic(bytes: Uint8Array, magic: string): void {
  for (let i = 0; i < 8; i++) bytes[i] = magic.charCodeAt(i);
}

function hasMagic(bytes: Uint8Array, magic: string): boolean {
  for (let i = 0; i < 8; i++) if (bytes[i] !== magic.charCodeAt(i)) return false;
  return true;
}

export function allZero(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i] !== 0) return false;
  return true;
}

// ───────────────────────────── segment header ─────────────────────────────

export interface SegmentHeader {
  firstSeq: number;
  prevChain: number;
  createdMs: number;
}

export function encodeSegmentHeader(h: SegmentHeader): Uint8Array {
  const bytes = new Uint8Array(segmentHeaderBytes);
  const view = viewOf(bytes);
  writeMagic(bytes, segmentMagic);
  view.setUint32(8, formatVersion, true);
  view.setUint32(12, segmentHeaderBytes, true);
  setU64(view, 16, h.firstSeq);
  view.setUint32(24, h.prevChain, true);
  setU64(view, 28, h.createdMs);
  view.setUint32(60, crc32c(bytes, 0, 60), true);
  return bytes;
}

/** The header, or a reason it is not one. */
export function decodeSegmentHeader(bytes: Uint8Array): SegmentHeader | string {
  if (bytes.length < segmentHeaderBytes) return "segment header is cut short";
  const view = viewOf(bytes);
  if (view.getUint32(60, true) !== crc32c(bytes, 0, 60)) return "segment header checksum mismatch";
  if (!hasMagic(bytes, segmentMagic)) return "not a Bourse journal segment";
  if (view.getUint32(8, true) !== formatVersion)
    return `unsupported segment format version ${view.getUint32(8, true)}`;
  if (view.getUint32(12, true) !== segmentHeaderBytes) return "unexpected segment header size";
  return { firstSeq: getU64(view, 16), prevChain: view.getUint32(24, true), createdMs: getU64(view, 28) };
}

// ───────────────────────────── records ─────────────────────────────

/** Fills in the 32-byte header of a record whose body is already at bytes[offset + 32, end). Returns its headerCrc. */
export function sealRecord(
  bytes: Uint8Array,
  view: DataView,
  offset: number,
  end: number,
  seq: number,
  time: number,
  chain: number,
): number {
  view.setUint32(offset + 4, end - offset, true);
  setU64(view, offset + 8, seq);
  setU64(view, offset + 16, time);
  view.setUint32(offset + 24, chain, true);
  view.setUint32(offset + 28, crc32c(bytes, offset + recordHeaderBytes, end), true);
  const headerCrc = crc32c(bytes, offset + 4, offset + recordHeaderBytes);
  view.setUint32(offset, headerCrc, true);
  return headerCrc;
}

/** Receives each valid record of a scan; the body is bytes[bodyStart, bodyEnd). */
export type RecordVisitor = (
  bytes: Uint8Array,
  view: DataView,
  bodyStart: number,
  bodyEnd: number,
  seq: number,
  time: number,
  offset: number,
) => void;

export interface ScanState {
  /** Seq the next record must carry. */
  nextSeq: number;
  /** headerCrc of the last record (the chain the next record must carry). */
  chain: number;
  /** Time of the last record: times never decrease. */
  time: number;
}

export type ScanEnd =
  | { kind: "end"; offset: number }
  /** A record cut short by the end of the file, or an all-zero tail: an unfinished write. */
  | { kind: "torn"; offset: number; reason: string }
  | { kind: "corrupt"; offset: number; reason: string }
  /** `stopAfterSeq` reached. */
  | { kind: "stopped"; offset: number };

/**
 * Walks the records of one segment from `offset`, checking header and body checksums, the sequence,
 * the hash chain and time order; updates `state` as it goes. Stops at the end, at damage, or after
 * `stopAfterSeq`.
 */
export function scanRecords(
  bytes: Uint8Array,
  offset: number,
  state: ScanState,
  visit: RecordVisitor | null,
  stopAfterSeq = Number.POSITIVE_INFINITY,
): ScanEnd {
  const view = viewOf(bytes);
  const size = bytes.length;
  let at = offset;
  while (at < size) {
    if (state.nextSeq > stopAfterSeq) return { kind: "stopped", offset: at };
    if (size - at < recordHeaderBytes) {
      return allZero(bytes, at, size)
        ? { kind: "torn", offset: at, reason: "zero-filled tail" }
        : { kind: "torn", offset: at, reason: "record header cut short by the end of the file" };
    }
    const headerCrc = view.getUint32(at, true);
    if (headerCrc !== crc32c(bytes, at + 4, at + recordHeaderBytes)) {
      if (allZero(bytes, at, size)) return { kind: "torn", offset: at, reason: "zero-filled tail" };
      return { kind: "corrupt", offset: at, reason: "record header checksum mismatch" };
    }
    const recordBytes = view.getUint32(at + 4, true);
    if (recordBytes <= recordHeaderBytes || recordBytes > recordBytesMax) {
      return { kind: "corrupt", offset: at, reason: `record length ${recordBytes} out of bounds` };
    }
    if (at + recordBytes > size)
      return { kind: "torn", offset: at, reason: "record cut short by the end of the file" };
    const seq = getU64(view, at + 8);
    if (seq !== state.nextSeq) {
      return {
        kind: "corrupt",
        offset: at,
        reason: `sequence gap: expected seq ${state.nextSeq}, found ${seq}`,
      };
    }
    if (view.getUint32(at + 24, true) !== state.chain) {
      return {
        kind: "corrupt",
        offset: at,
        reason: `hash chain broken at seq ${seq}: the record does not follow the one before it`,
      };
    }
    if (view.getUint32(at + 28, true) !== crc32c(bytes, at + recordHeaderBytes, at + recordBytes)) {
      return { kind: "corrupt", offset: at, reason: `record body checksum mismatch at seq ${seq}` };
    }
    const time = getU64(view, at + 16);
    if (time < state.time)
      return { kind: "corrupt", offset: at, reason: `time goes backwards at seq ${seq}` };
    if (visit !== null) visit(bytes, view, at + recordHeaderBytes, at + recordBytes, seq, time, at);
    state.nextSeq = seq + 1;
    state.chain = headerCrc;
    state.time = time;
    at += recordBytes;
  }
  return { kind: "end", offset: at };
}

// ───────────────────────────── snapshot header ─────────────────────────────

export interface SnapshotHeader {
  seq: number;
  time: number;
  /** headerCrc of record `seq` (0 when seq is 0). */
  chain: number;
  /** Where the record after `seq` goes: the segment holding record `seq` and the offset just past it. */
  segmentFirstSeq: number;
  nextOffset: number;
  payloadBytes: number;
  /** SHA-256 of the payload. */
  payloadHash: Uint8Array;
}

export function encodeSnapshotHeader(h: SnapshotHeader): Uint8Array {
  const bytes = new Uint8Array(snapshotHeaderBytes);
  const view = viewOf(bytes);
  writeMagic(bytes, snapshotMagic);
  view.setUint32(8, formatVersion, true);
  view.setUint32(12, snapshotHeaderBytes, true);
  setU64(view, 16, h.seq);
  setU64(view, 24, h.time);
  view.setUint32(32, h.chain, true);
  setU64(view, 36, h.segmentFirstSeq);
  view.setUint32(44, h.nextOffset, true);
  setU64(view, 48, h.payloadBytes);
  bytes.set(h.payloadHash, 56);
  view.setUint32(92, crc32c(bytes, 0, 92), true);
  return bytes;
}

export function decodeSnapshotHeader(bytes: Uint8Array): SnapshotHeader | string {
  if (bytes.length < snapshotHeaderBytes) return "snapshot header is cut short";
  const view = viewOf(bytes);
  if (view.getUint32(92, true) !== crc32c(bytes, 0, 92)) return "snapshot header checksum mismatch";
  if (!hasMagic(bytes, snapshotMagic)) return "not a Bourse snapshot";
  if (view.getUint32(8, true) !== formatVersion)
    return `unsupported snapshot format version ${view.getUint32(8, true)}`;
  if (view.getUint32(12, true) !== snapshotHeaderBytes) return "unexpected snapshot header size";
  const payloadBytes = getU64(view, 48);
  if (payloadBytes > journalLimits.snapshotBytesMax) return "snapshot payload too large";
  return {
    seq: getU64(view, 16),
    time: getU64(view, 24),
    chain: view.getUint32(32, true),
    segmentFirstSeq: getU64(view, 36),
    nextOffset: view.getUint32(44, true),
    payloadBytes,
    payloadHash: bytes.slice(56, 88),
  };
}

// ───────────────────────────── seal ─────────────────────────────

/** Written at a clean shutdown: where the journal ended. A journal shorter than its seal was cut. */
export interface Seal {
  lastSeq: number;
  chain: number;
  segmentFirstSeq: number;
  segmentBytes: number;
}

export function encodeSeal(s: Seal): Uint8Array {
  const bytes = new Uint8Array(sealBytes);
  const view = viewOf(bytes);
  writeMagic(bytes, sealMagic);
  view.setUint32(8, formatVersion, true);
  setU64(view, 16, s.lastSeq);
  view.setUint32(24, s.chain, true);
  setU64(view, 28, s.segmentFirstSeq);
  setU64(view, 36, s.segmentBytes);
  view.setUint32(60, crc32c(bytes, 0, 60), true);
  return bytes;
}

export function decodeSeal(bytes: Uint8Array): Seal | string {
  if (bytes.length !== sealBytes) return "seal has the wrong size";
  const view = viewOf(bytes);
  if (view.getUint32(60, true) !== crc32c(bytes, 0, 60)) return "seal checksum mismatch";
  if (!hasMagic(bytes, sealMagic)) return "not a Bourse journal seal";
  return {
    lastSeq: getU64(view, 16),
    chain: view.getUint32(24, true),
    segmentFirstSeq: getU64(view, 28),
    segmentBytes: getU64(view, 36),
  };
}
