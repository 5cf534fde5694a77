/**
 * Snapshot files: written atomically (temporary file, fdatasync, rename, directory fsync), with a
 * checksummed header tagging the sequence, time and hash-chain position they were taken at, and a
 * SHA-256 of the engine state they hold. Retention keeps the newest few and removes (or archives)
 * the older snapshots and every segment wholly covered by the oldest snapshot kept.
 */
import { createHash } from "node:crypto";
import type { FileSystem } from "../platform/file-system.js";
import { joinPath } from "../platform/file-system.js";
import {
  archiveDirName,
  decodeSnapshotHeader,
  encodeSnapshotHeader,
  fileSeq,
  type SnapshotHeader,
  segmentPrefix,
  segmentSuffix,
  snapshotName,
  snapshotPrefix,
  snapshotSuffix,
  temporarySuffix,
} from "./format.js";
import { journalLimits, snapshotHeaderBytes } from "./journal-limits.js";

export interface SnapshotPosition {
  seq: number;
  time: number;
  chain: number;
  segmentFirstSeq: number;
  nextOffset: number;
}

export interface SnapshotInfo extends SnapshotPosition {
  file: string;
  payloadBytes: number;
}

export function sha256(bytes: Uint8Array): Uint8Array {
  return createHash("sha256").update(bytes).digest();
}

/** Writes a snapshot atomically; resolves once its name is durable. */
export async function writeSnapshotFile(
  fs: FileSystem,
  dir: string,
  position: SnapshotPosition,
  payload: Uint8Array,
): Promise<SnapshotInfo> {
  if (payload.length > journalLimits.snapshotBytesMax) {
    throw new Error(
      `snapshot of ${payload.length} bytes is above snapshotBytesMax ${journalLimits.snapshotBytesMax}`,
    );
  }
  const name = snapshotName(position.seq);
  const temporary = joinPath(dir, name + temporarySuffix);
  if (fs.exists(temporary)) fs.unlink(temporary);
  const header = encodeSnapshotHeader({
    ...position,
    payloadBytes: payload.length,
    payloadHash: sha256(payload),
  });
  const file = fs.openAppend(temporary, true);
  try {
    file.append(header);
    file.append(payload);
    await file.sync();
  } finally {
    file.close();
  }
  fs.rename(temporary, joinPath(dir, name));
  await fs.syncDir(dir);
  return { ...position, file: name, payloadBytes: payload.length };
}

/** The header and payload of a snapshot file, or the reason it cannot be used. */
export function readSnapshotFile(
  fs: FileSystem,
  path: string,
): { header: SnapshotHeader; payload: Uint8Array } | string {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFile(path);
  } catch (error) {
    return `cannot read: ${(error as Error).message}`;
  }
  const header = decodeSnapshotHeader(bytes);
  if (typeof header === "string") return header;
  if (bytes.length !== snapshotHeaderBytes + header.payloadBytes) {
    return `file is ${bytes.length} bytes, its header says ${snapshotHeaderBytes + header.payloadBytes}: cut or extended`;
  }
  const payload = bytes.subarray(snapshotHeaderBytes);
  const hash = sha256(payload);
  for (let i = 0; i < 32; i++)
    if (hash[i] !== header.payloadHash[i]) return "snapshot payload SHA-256 mismatch";
  return { header, payload };
}

export function listSnapshots(fs: FileSystem, dir: string): { seq: number; name: string }[] {
  return fs
    .list(dir)
    .map((name) => ({ seq: fileSeq(name, snapshotPrefix, snapshotSuffix), name }))
    .filter((s) => s.seq >= 0)
    .sort((a, b) => b.seq - a.seq);
}

export function listSegments(fs: FileSystem, dir: string): { firstSeq: number; name: string }[] {
  return fs
    .list(dir)
    .map((name) => ({ firstSeq: fileSeq(name, segmentPrefix, segmentSuffix), name }))
    .filter((s) => s.firstSeq >= 0)
    .sort((a, b) => a.firstSeq - b.firstSeq);
}

export type RetentionMode = "delete" | "archive";

export interface RetentionResult {
  removedSnapshots: string[];
  removedSegments: string[];
}

/**
 * Keeps the newest `retained` snapshots; removes older snapshots, then every segment whose records
 * all lie at or before the oldest snapshot kept (its successor starts at or before that seq + 1).
 * The segment being written never has a successor, so it is never touched.
 */
export async function applyRetention(
  fs: FileSystem,
  dir: string,
  retained: number,
  mode: RetentionMode,
): Promise<RetentionResult> {
  const snapshots = listSnapshots(fs, dir);
  const result: RetentionResult = { removedSnapshots: [], removedSegments: [] };
  if (snapshots.length < retained) return result;
  const oldestKept = snapshots[retained - 1]!.seq;
  const archive = joinPath(dir, archiveDirName);
  const remove = (name: string): void => {
    if (mode === "archive") fs.rename(joinPath(dir, name), joinPath(archive, name));
    else fs.unlink(joinPath(dir, name));
  };
  if (mode === "archive") fs.mkdirp(archive);
  for (const s of snapshots.slice(retained).reverse()) {
    remove(s.name);
    result.removedSnapshots.push(s.name);
  }
  const segments = listSegments(fs, dir);
  for (let i = 0; i + 1 < segments.length; i++) {
    if (segments[i + 1]!.firstSeq > oldestKept + 1) break;
    remove(segments[i]!.name);
    result.removedSegments.push(segments[i]!.name);
  }
  if (result.removedSnapshots.length + result.removedSegments.length > 0) {
    await fs.syncDir(dir);
    if (mode === "archive") await fs.syncDir(archive);
  }
  return result;
}
