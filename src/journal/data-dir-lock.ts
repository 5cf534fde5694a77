/**
 * One writer per data directory: a LOCK file holding the owner's pid, created exclusively. A lock
 * left by a process that died (kill -9) is taken over; a live owner is refused with its pid. Tools
 * that only read (verify, inspect) do not take it.
 */
import fs from "node:fs";
import path from "node:path";

export const lockName = "LOCK";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The pid holding the lock, if it is alive. */
export function lockOwner(dir: string): number | null {
  try {
    const pid = Number(fs.readFileSync(path.join(dir, lockName), "utf8").trim());
    return Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && alive(pid) ? pid : null;
  } catch {
    return null;
  }
}

export function acquireLock(dir: string): () => void {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, lockName);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: "wx" });
      return () => {
        try {
          if (fs.readFileSync(file, "utf8").trim() === String(process.pid)) fs.unlinkSync(file);
        } catch {
          // already gone
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = lockOwner(dir);
      if (owner !== null) throw new Error(`data directory ${dir} is in use by process ${owner} (${file})`);
      fs.rmSync(file, { force: true }); // left by a process that is gone
    }
  }
  throw new Error(`cannot lock ${dir}`);
}
