/**
 * The file-system port the journal and the snapshot store use. Writes go to the page cache and are
 * cheap and synchronous; the durability barriers (`sync`, `syncDir`) are asynchronous, because they
 * are the slow part and group commit overlaps them with matching.
 *
 * Two implementations: RealFileSystem (node:fs) and SimulatedFileSystem, its seeded twin that knows
 * which bytes are durable and loses the others at a crash.
 */
export interface AppendFile {
  readonly path: string;
  /** Bytes written so far (durable or not). */
  readonly size: number;
  /** Appends at the end of the file (page cache only: not durable until `sync` resolves). */
  append(data: Uint8Array): void;
  /** fdatasync: resolves once every byte appended before the call is durable; rejects on an I/O error. */
  sync(): Promise<void>;
  close(): void;
}

export interface FileSystem {
  mkdirp(dir: string): void;
  /** Names (not paths) of the entries of a directory, sorted; [] when it does not exist. */
  list(dir: string): string[];
  exists(path: string): boolean;
  size(path: string): number;
  readFile(path: string): Uint8Array;
  /** Reads `length` bytes at `offset` (fewer at the end of the file). */
  read(path: string, offset: number, length: number): Uint8Array;
  /** Opens for appending; `create` makes a new file and fails if one exists. */
  openAppend(path: string, create: boolean): AppendFile;
  /** Creates or replaces a file with these bytes (not durable until `syncFile`). */
  writeFile(path: string, data: Uint8Array): void;
  /** fsync of a whole file by path. */
  syncFile(path: string): Promise<void>;
  /** fsync of a directory: makes creations, renames and removals of its entries durable. */
  syncDir(dir: string): Promise<void>;
  rename(from: string, to: string): void;
  unlink(path: string): void;
  truncate(path: string, size: number): void;
}

export function joinPath(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

export function dirOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? (i === 0 ? "/" : ".") : path.slice(0, i);
}

export function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}
