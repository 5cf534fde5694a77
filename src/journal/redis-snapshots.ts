/**
 * Snapshots of the Redis journal, kept in Redis beside the log so that any node that can reach the
 * log can start from one (a standby on another machine has no access to the leader's disk).
 *
 * A snapshot is written in chunks of `snapshotChunkBytesMax` (one SET each): Redis runs one command
 * at a time, and with `appendfsync always` a single 30 MB SET would hold every append behind its
 * copy and its fsync (docs/cluster.md has the measurement). The manifest (seq, time, chain, size,
 * SHA-256, chunk count, the log entry it ends at) is written last, so a snapshot is visible only
 * once complete. Retention keeps the newest `retained` and trims the log up to the oldest kept one.
 *
 * Snapshots are not fenced: a snapshot is a function of the log up to its seq, whoever computes it.
 */
import { createHash } from "node:crypto";
import type { JournalPosition } from "./journal.js";
import type { RedisLog } from "./redis-log.js";
import type { StateMachine, StateMachineFactory } from "./state-machine.js";

export const snapshotChunkBytesMax = 1_048_576;

export interface SnapshotManifest extends JournalPosition {
  /** The stream entry that ends at lastSeq: followers continue right after it. */
  entryId: string;
  bytes: number;
  chunks: number;
  sha256: string;
  writtenAtMs: number;
}

export interface LoadedSnapshot {
  machine: StateMachine;
  manifest: SnapshotManifest;
}

export async function writeRedisSnapshot(
  log: RedisLog,
  position: JournalPosition,
  entryId: string,
  payload: Uint8Array,
  retained = 2,
): Promise<SnapshotManifest> {
  const chunks = Math.max(1, Math.ceil(payload.length / snapshotChunkBytesMax));
  for (let i = 0; i < chunks; i++) {
    const part = payload.subarray(
      i * snapshotChunkBytesMax,
      Math.min(payload.length, (i + 1) * snapshotChunkBytesMax),
    );
    await log.command([
      "SET",
      log.keys.snapshotChunk(position.lastSeq, i),
      Buffer.from(part.buffer, part.byteOffset, part.byteLength),
    ]);
  }
  const manifest: SnapshotManifest = {
    lastSeq: position.lastSeq,
    lastTime: position.lastTime,
    chain: position.chain,
    entryId,
    bytes: payload.length,
    chunks,
    sha256: createHash("sha256").update(payload).digest("hex"),
    writtenAtMs: Date.now(),
  };
  await log.command(["HSET", log.keys.snapshots, String(position.lastSeq), JSON.stringify(manifest)]);
  await applyRedisRetention(log, retained);
  return manifest;
}

export async function listRedisSnapshots(log: RedisLog): Promise<SnapshotManifest[]> {
  const flat = (await log.command(["HGETALL", log.keys.snapshots])) as string[] | Record<string, string>;
  const values = Array.isArray(flat) ? flat.filter((_, i) => i % 2 === 1) : Object.values(flat);
  const manifests: SnapshotManifest[] = [];
  for (const value of values) {
    try {
      manifests.push(JSON.parse(value) as SnapshotManifest);
    } catch {
      // A damaged manifest is skipped like a damaged snapshot file.
    }
  }
  return manifests.sort((a, b) => b.lastSeq - a.lastSeq);
}

/** Keeps the newest `retained` snapshots, removes the rest, and trims log entries they cover. */
async function applyRedisRetention(log: RedisLog, retained: number): Promise<void> {
  const manifests = await listRedisSnapshots(log);
  if (manifests.length < retained) return;
  for (const old of manifests.slice(retained)) {
    await log.command(["HDEL", log.keys.snapshots, String(old.lastSeq)]);
    const keys = Array.from({ length: old.chunks }, (_, i) => log.keys.snapshotChunk(old.lastSeq, i));
    await log.command(["UNLINK", ...keys]);
  }
  // Entries whose records all lie at or before the oldest kept snapshot are no longer needed: the
  // ids are <firstSeq>-<lastSeq> and snapshots end at an entry's lastSeq, so MINID <seq+1> removes
  // exactly the entries with firstSeq ≤ seq, every one of which ends at or before seq.
  const oldestKept = manifests[retained - 1]!;
  await log.command(["XTRIM", log.keys.log, "MINID", `${oldestKept.lastSeq + 1}-0`]);
}

/**
 * The newest snapshot that reads back whole (size, SHA-256) and that the engine accepts; damaged or
 * vanished ones (retention racing the read) are skipped with a warning. Null: start from seq 1.
 */
export async function loadLatestRedisSnapshot(
  log: RedisLog,
  factory: StateMachineFactory,
  warn: (message: string) => void,
  upToSeq = Number.POSITIVE_INFINITY,
): Promise<LoadedSnapshot | null> {
  for (const manifest of await listRedisSnapshots(log)) {
    if (manifest.lastSeq > upToSeq) continue;
    const reason = await tryLoad(log, factory, manifest);
    if (typeof reason !== "string") return reason;
    warn(`journal: snapshot at seq ${manifest.lastSeq} in Redis skipped: ${reason}`);
  }
  return null;
}

async function tryLoad(
  log: RedisLog,
  factory: StateMachineFactory,
  manifest: SnapshotManifest,
): Promise<LoadedSnapshot | string> {
  const parts: Buffer[] = [];
  for (let i = 0; i < manifest.chunks; i++) {
    const part = (await log.command(
      ["GET", log.keys.snapshotChunk(manifest.lastSeq, i)],
      true,
    )) as Buffer | null;
    if (part === null) return `chunk ${i} of ${manifest.chunks} is missing`;
    parts.push(part);
  }
  const payload = Buffer.concat(parts);
  if (payload.length !== manifest.bytes)
    return `${payload.length} bytes, the manifest says ${manifest.bytes}`;
  if (createHash("sha256").update(payload).digest("hex") !== manifest.sha256) return "SHA-256 mismatch";
  let machine: StateMachine;
  try {
    machine = factory.restore(new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength));
  } catch (error) {
    return `the engine refused it: ${(error as Error).message}`;
  }
  if (machine.lastSeq !== manifest.lastSeq)
    return `its state is at seq ${machine.lastSeq}, the manifest says ${manifest.lastSeq}`;
  return { machine, manifest };
}
