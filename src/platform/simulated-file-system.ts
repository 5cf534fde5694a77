/**
 * The simulated twin of the file-system port: in memory, deterministic from a seed, and honest
 * about durability. It keeps, per file, the bytes made durable by a completed sync and the
 * operations since; per directory, the entries made durable by a completed directory sync and the
 * changes since. `crash()` keeps only durable state plus a random prefix of what was pending, and
 * may tear the last write it keeps (only a prefix of its bytes survives), which is what a power
 * loss does to an ordered-mode file system. `flipBit` and `corruptTruncate` damage stored bytes.
 *
 * Syncs either complete at once (`autoSync`, for unit tests and tools) or wait until the simulation
 * completes them (`completeSyncs`), so that a crash can fall while a sync is in flight.
 */
import type { AppendFile, FileSystem } from "./file-system.js";
import { dirOf } from "./file-system.js";
import type { Prng } from "./prng.js";

type FileOp =
  | { version: number; kind: "write"; offset: number; bytes: Uint8Array }
  | { version: number; kind: "truncate"; size: number };
type DirOp =
  | { kind: "link"; path: string; inode: Inode }
  | { kind: "unlink"; path: string }
  | { kind: "rename"; from: string; to: string };

class Inode {
  data: Uint8Array = new Uint8Array(256);
  length = 0;
  version = 0;
  durable: Uint8Array = new Uint8Array(0);
  durableVersion = 0;
  pending: FileOp[] = [];

  bytes(): Uint8Array {
    return this.data.subarray(0, this.length);
  }

  private reserve(size: number): void {
    if (size <= this.data.length) return;
    let capacity = this.data.length * 2;
    while (capacity < size) capacity *= 2;
    const next = new Uint8Array(capacity);
    next.set(this.bytes());
    this.data = next;
  }

  write(offset: number, bytes: Uint8Array): void {
    this.reserve(offset + bytes.length);
    if (offset > this.length) this.data.fill(0, this.length, offset);
    this.data.set(bytes, offset);
    this.length = Math.max(this.length, offset + bytes.length);
    this.pending.push({ version: ++this.version, kind: "write", offset, bytes: bytes.slice() });
  }

  truncate(size: number): void {
    if (size > this.length) {
      this.reserve(size);
      this.data.fill(0, this.length, size);
    }
    this.length = size;
    this.pending.push({ version: ++this.version, kind: "truncate", size });
  }

  /** Marks everything up to `version` durable, with the content it had then. */
  commit(version: number, content: Uint8Array): void {
    if (version <= this.durableVersion) return;
    this.durable = content;
    this.durableVersion = version;
    this.pending = this.pending.filter((op) => op.version > version);
  }

  /** After a crash: durable bytes, then a prefix of the pending operations, the last write maybe torn. */
  crash(random: Prng): void {
    const ops = this.pending;
    const kept = random.int(ops.length + 1);
    let content: Uint8Array = this.durable.slice();
    for (let i = 0; i < kept; i++) {
      const op = ops[i]!;
      if (op.kind === "truncate") {
        const next = new Uint8Array(op.size);
        next.set(content.subarray(0, Math.min(op.size, content.length)));
        content = next;
        continue;
      }
      let bytes = op.bytes;
      if (i === kept - 1 && random.chance(0.5)) bytes = bytes.subarray(0, random.int(bytes.length + 1));
      const end = op.offset + bytes.length;
      if (end > content.length) {
        const next = new Uint8Array(end);
        next.set(content);
        content = next;
      }
      content.set(bytes, op.offset);
    }
    this.data = new Uint8Array(Math.max(256, content.length));
    this.data.set(content);
    this.length = content.length;
    this.durable = content.slice();
    this.pending = [];
    this.durableVersion = this.version;
  }
}

interface InFlight {
  commit: () => void;
  resolve: () => void;
  reject: (error: Error) => void;
}

function fsError(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

class SimulatedAppendFile implements AppendFile {
  private closed = false;

  constructor(
    private readonly fs: SimulatedFileSystem,
    readonly path: string,
    private readonly inode: Inode,
  ) {}

  get size(): number {
    return this.inode.length;
  }

  append(data: Uint8Array): void {
    if (this.closed) throw fsError("EBADF", `${this.path} is closed`);
    this.fs.beforeWrite(this.path);
    this.inode.write(this.inode.length, data);
  }

  sync(): Promise<void> {
    return this.fs.syncInode(this.inode);
  }

  close(): void {
    this.closed = true;
  }
}

export interface SimulatedFileSystemOptions {
  /** Syncs complete on the next microtask instead of waiting for `completeSyncs`. */
  autoSync?: boolean;
}

export class SimulatedFileSystem implements FileSystem {
  private names = new Map<string, Inode>();
  private durableNames = new Map<string, Inode>();
  private dirOps: DirOp[] = [];
  private readonly dirs = new Set<string>(["/", "."]);
  private inFlight: InFlight[] = [];
  private failures: Error[] = [];
  private writeFailures: Error[] = [];
  autoSync: boolean;

  constructor(
    private readonly random: Prng,
    options: SimulatedFileSystemOptions = {},
  ) {
    this.autoSync = options.autoSync ?? false;
  }

  // ───────────── the port ─────────────

  mkdirp(dir: string): void {
    let d = dir;
    while (d !== "/" && d !== "." && !this.dirs.has(d)) {
      this.dirs.add(d);
      d = dirOf(d);
    }
  }

  list(dir: string): string[] {
    const prefix = dir.endsWith("/") ? dir : `${dir}/`;
    const result: string[] = [];
    for (const path of this.names.keys()) {
      if (path.startsWith(prefix) && !path.slice(prefix.length).includes("/"))
        result.push(path.slice(prefix.length));
    }
    for (const d of this.dirs) {
      if (d.startsWith(prefix) && d.length > prefix.length && !d.slice(prefix.length).includes("/")) {
        result.push(d.slice(prefix.length));
      }
    }
    return result.sort();
  }

  exists(path: string): boolean {
    return this.names.has(path) || this.dirs.has(path);
  }

  size(path: string): number {
    return this.inode(path).length;
  }

  readFile(path: string): Uint8Array {
    return this.inode(path).bytes().slice();
  }

  read(path: string, offset: number, length: number): Uint8Array {
    const inode = this.inode(path);
    return inode.bytes().slice(offset, Math.min(inode.length, offset + length));
  }

  openAppend(path: string, create: boolean): AppendFile {
    this.checkDir(path);
    let inode = this.names.get(path);
    if (create) {
      if (inode !== undefined) throw fsError("EEXIST", path);
      inode = this.link(path);
    } else if (inode === undefined) {
      throw fsError("ENOENT", path);
    }
    return new SimulatedAppendFile(this, path, inode);
  }

  writeFile(path: string, data: Uint8Array): void {
    this.checkDir(path);
    this.beforeWrite(path);
    const inode = this.names.get(path) ?? this.link(path);
    inode.truncate(0);
    inode.write(0, data);
  }

  syncFile(path: string): Promise<void> {
    return this.syncInode(this.inode(path));
  }

  syncDir(dir: string): Promise<void> {
    const touches = (path: string): boolean => dirOf(path) === dir;
    const mine = this.dirOps.filter((op) =>
      op.kind === "rename" ? touches(op.from) || touches(op.to) : touches(op.path),
    );
    return this.barrier(() => {
      for (const op of mine) this.applyDirOp(this.durableNames, op);
      this.dirOps = this.dirOps.filter((op) => !mine.includes(op));
    });
  }

  rename(from: string, to: string): void {
    const inode = this.inode(from);
    this.checkDir(to);
    this.names.delete(from);
    this.names.set(to, inode);
    this.dirOps.push({ kind: "rename", from, to });
  }

  unlink(path: string): void {
    this.inode(path);
    this.names.delete(path);
    this.dirOps.push({ kind: "unlink", path });
  }

  truncate(path: string, size: number): void {
    this.inode(path).truncate(size);
  }

  // ───────────── simulation controls ─────────────

  /** Syncs waiting for completion. */
  get syncsInFlight(): number {
    return this.inFlight.length;
  }

  /** Completes one in-flight sync chosen by the seed (or all of them). */
  completeSyncs(all = false): void {
    if (this.inFlight.length === 0) return;
    const chosen = all
      ? this.inFlight.splice(0)
      : this.inFlight.splice(this.random.int(this.inFlight.length), 1);
    for (const sync of chosen) {
      sync.commit();
      sync.resolve();
    }
  }

  /** The next sync (file or directory) fails with EIO and makes nothing durable. */
  failNextSync(): void {
    this.failures.push(fsError("EIO", "simulated I/O error on sync"));
  }

  /** The next write fails with ENOSPC. */
  failNextWrite(): void {
    this.writeFailures.push(fsError("ENOSPC", "simulated full disk"));
  }

  /**
   * Power loss: in-flight syncs never complete; each file keeps its durable bytes plus a random
   * prefix of its later operations (the last write maybe torn); each directory keeps its durable
   * entries plus a random prefix of the later changes.
   */
  crash(): void {
    this.inFlight = [];
    this.failures = [];
    this.writeFailures = [];
    const kept = this.random.int(this.dirOps.length + 1);
    for (let i = 0; i < kept; i++) this.applyDirOp(this.durableNames, this.dirOps[i]!);
    this.dirOps = [];
    this.names = new Map(this.durableNames);
    const seen = new Set<Inode>();
    for (const path of [...this.names.keys()].sort()) {
      const inode = this.names.get(path)!;
      if (seen.has(inode)) continue;
      seen.add(inode);
      inode.crash(this.random);
    }
  }

  /** Flips one stored bit (durable and current), as a failing disk or a cosmic ray would. */
  flipBit(path: string, bitIndex: number): void {
    const inode = this.inode(path);
    const byte = bitIndex >>> 3;
    if (byte >= inode.length) throw new Error(`flipBit: bit ${bitIndex} is past the end of ${path}`);
    inode.data[byte]! ^= 1 << (bitIndex & 7);
    inode.durable = inode.bytes().slice();
  }

  /** Cuts a file short, durably (damage, not an operation of the program). */
  corruptTruncate(path: string, size: number): void {
    const inode = this.inode(path);
    inode.length = Math.min(size, inode.length);
    inode.durable = inode.bytes().slice();
  }

  /** Replaces a file's bytes, durably (damage or test setup). */
  corruptWrite(path: string, bytes: Uint8Array): void {
    const inode = this.inode(path);
    inode.length = 0;
    inode.write(0, bytes);
    inode.durable = inode.bytes().slice();
    inode.pending = [];
    inode.durableVersion = inode.version;
  }

  /** Makes every operation so far durable at once (test setup). */
  settle(): void {
    this.completeSyncs(true);
    for (const op of this.dirOps) this.applyDirOp(this.durableNames, op);
    this.dirOps = [];
    for (const inode of new Set(this.names.values())) inode.commit(inode.version, inode.bytes().slice());
  }

  /** Every file path, sorted. */
  files(): string[] {
    return [...this.names.keys()].sort();
  }

  // ───────────── internals ─────────────

  beforeWrite(path: string): void {
    const failure = this.writeFailures.shift();
    if (failure) throw Object.assign(failure, { message: `${failure.message} (${path})` });
  }

  syncInode(inode: Inode): Promise<void> {
    const version = inode.version;
    const content = inode.bytes().slice();
    return this.barrier(() => inode.commit(version, content));
  }

  private barrier(commit: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const failure = this.failures.shift();
      if (failure) {
        queueMicrotask(() => reject(failure));
        return;
      }
      if (this.autoSync) {
        commit();
        queueMicrotask(resolve);
        return;
      }
      this.inFlight.push({ commit, resolve, reject });
    });
  }

  private inode(path: string): Inode {
    const inode = this.names.get(path);
    if (inode === undefined) throw fsError("ENOENT", path);
    return inode;
  }

  private checkDir(path: string): void {
    if (!this.dirs.has(dirOf(path))) throw fsError("ENOENT", `directory of ${path}`);
  }

  private link(path: string): Inode {
    const inode = new Inode();
    this.names.set(path, inode);
    this.dirOps.push({ kind: "link", path, inode });
    return inode;
  }

  private applyDirOp(names: Map<string, Inode>, op: DirOp): void {
    if (op.kind === "link") names.set(op.path, op.inode);
    else if (op.kind === "unlink") names.delete(op.path);
    else {
      const inode = names.get(op.from);
      names.delete(op.from);
      if (inode !== undefined) names.set(op.to, inode);
    }
  }
}
