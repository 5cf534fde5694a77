/** The file-system port on node:fs. Durability barriers run on libuv's thread pool. */
import fs from "node:fs";
import type { AppendFile, FileSystem } from "./file-system.js";

class RealAppendFile implements AppendFile {
  private fd: number;
  size: number;

  constructor(
    readonly path: string,
    create: boolean,
  ) {
    this.fd = fs.openSync(path, create ? "wx" : "a");
    this.size = create ? 0 : fs.fstatSync(this.fd).size;
  }

  append(data: Uint8Array): void {
    let offset = 0;
    // A short write is legal for write(2); loop until every byte is in the page cache.
    while (offset < data.length) {
      offset += fs.writeSync(this.fd, data, offset, data.length - offset);
    }
    this.size += data.length;
  }

  sync(): Promise<void> {
    return new Promise((resolve, reject) => {
      fs.fdatasync(this.fd, (error) => (error ? reject(error) : resolve()));
    });
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}

function fsyncPath(path: string, flags: string): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.open(path, flags, (openError, fd) => {
      if (openError) return reject(openError);
      fs.fsync(fd, (syncError) => {
        fs.close(fd, (closeError) => {
          const error = syncError ?? closeError;
          if (error) reject(error);
          else resolve();
        });
      });
    });
  });
}

export class RealFileSystem implements FileSystem {
  mkdirp(dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
  }

  list(dir: string): string[] {
    try {
      return fs.readdirSync(dir).sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
  }

  exists(path: string): boolean {
    return fs.existsSync(path);
  }

  size(path: string): number {
    return fs.statSync(path).size;
  }

  readFile(path: string): Uint8Array {
    return fs.readFileSync(path);
  }

  read(path: string, offset: number, length: number): Uint8Array {
    const fd = fs.openSync(path, "r");
    try {
      const buffer = Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        const n = fs.readSync(fd, buffer, done, length - done, offset + done);
        if (n === 0) break;
        done += n;
      }
      return buffer.subarray(0, done);
    } finally {
      fs.closeSync(fd);
    }
  }

  openAppend(path: string, create: boolean): AppendFile {
    return new RealAppendFile(path, create);
  }

  writeFile(path: string, data: Uint8Array): void {
    fs.writeFileSync(path, data);
  }

  syncFile(path: string): Promise<void> {
    return fsyncPath(path, "r+");
  }

  syncDir(dir: string): Promise<void> {
    return fsyncPath(dir, "r");
  }

  rename(from: string, to: string): void {
    fs.renameSync(from, to);
  }

  unlink(path: string): void {
    fs.unlinkSync(path);
  }

  truncate(path: string, size: number): void {
    fs.truncateSync(path, size);
  }
}
