/**
 * `bourse snapshot` against a running Bourse: the CLI finds the owner of the data directory's LOCK
 * and sends it SIGUSR2; a process that called `installSnapshotSignal` takes a snapshot (in its
 * snapshot worker: matching does not pause).
 */
import type { DurableEngine } from "./durable-engine.js";

export function installSnapshotSignal(
  engine: DurableEngine,
  log: (message: string) => void = (m) => process.stderr.write(`${m}\n`),
): () => void {
  const handler = (): void => {
    engine.requestSnapshot().then(
      (info) =>
        log(
          info
            ? `snapshot ${info.file} written at seq ${info.seq}`
            : "snapshot: nothing new since the last one",
        ),
      (error: Error) => log(`snapshot failed: ${error.message}`),
    );
  };
  process.on("SIGUSR2", handler);
  return () => process.off("SIGUSR2", handler);
}
