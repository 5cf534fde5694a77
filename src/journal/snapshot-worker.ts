/** The worker thread of WorkerSnapshotter: a SnapshotFollower on the real file system. */
import { parentPort, workerData } from "node:worker_threads";
import type { EngineConfig } from "../engine/config.js";
import { RealFileSystem } from "../platform/real-file-system.js";
import { type BatchPosition, SnapshotFollower } from "./snapshot-follower.js";
import type { RetentionMode } from "./snapshot-store.js";
import { engineFactory } from "./state-machine.js";

type Message =
  | { type: "start"; upToSeq: number }
  | { type: "batch"; bytes: Uint8Array; at: BatchPosition }
  | { type: "snapshot"; id: number };

const data = workerData as {
  dir: string;
  config: EngineConfig;
  snapshotsRetained: number;
  retention: RetentionMode;
};
const port = parentPort!;
const follower = new SnapshotFollower({
  fs: new RealFileSystem(),
  dir: data.dir,
  factory: engineFactory(data.config),
  snapshotsRetained: data.snapshotsRetained,
  retention: data.retention,
  warn: (message) => port.postMessage({ type: "log", message }),
});

let queue: Promise<void> = Promise.resolve();

async function handle(message: Message): Promise<void> {
  switch (message.type) {
    case "start":
      await follower.start(message.upToSeq);
      port.postMessage({ type: "started" });
      break;
    case "batch":
      follower.feed(message.bytes, message.at);
      port.postMessage({ type: "fed", bytes: message.bytes.length });
      break;
    case "snapshot": {
      const t0 = performance.now();
      // Not awaited in the queue: the state is captured synchronously, and later batches may be
      // applied while the file is written and synced.
      follower.snapshot().then(
        (info) => port.postMessage({ type: "snapshot", id: message.id, info, ms: performance.now() - t0 }),
        (error: Error) => port.postMessage({ type: "error", id: message.id, message: error.message }),
      );
      break;
    }
  }
}

port.on("message", (message: Message) => {
  queue = queue
    .then(
      () => handle(message),
      () => {},
    )
    .catch((error: Error) =>
      port.postMessage({ type: "error", id: 0, message: `snapshot worker: ${error.message}` }),
    );
});
