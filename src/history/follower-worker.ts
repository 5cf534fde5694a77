/**
 * The worker of HistoryFollower (follower.ts): a HistoryWriter whose every command is read back from
 * the journal (JournalEventSource) as soon as the matching thread says it is durable.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { EngineConfig } from "../engine/config.js";
import type { FollowerMessage } from "./follower.js";
import { JournalEventSource } from "./journal-source.js";
import { createHistoryStore } from "./open-store.js";
import { HistoryWriter } from "./writer.js";

const data = workerData as { dataDir: string; config: EngineConfig; historyUrl: string | null };
const port = parentPort!;
const send = (m: FollowerMessage): void => port.postMessage(m);

try {
  const store = await createHistoryStore(data.historyUrl ?? undefined, data.dataDir);
  const writer: HistoryWriter = new HistoryWriter({
    store,
    config: data.config,
    source: new JournalEventSource({
      dir: data.dataDir,
      config: data.config,
      warn: (message) => send({ type: "log", message }),
    }),
    log: (message) => send({ type: "log", message }),
    onWritten: (b) => send({ type: "written", lastSeq: b.lastSeq, metrics: writer.metrics() }),
    onFatal: (e) => send({ type: "fatal", message: e.message }),
  });
  await writer.start();
  send({ type: "started", checkpoint: writer.lastCheckpoint() });
  port.on("message", (m: { type: "durable"; seq: number } | { type: "close" }) => {
    if (m.type === "durable") writer.follow(m.seq);
    else {
      void (async () => {
        try {
          await writer.drain();
        } catch {
          // the failure was reported already
        }
        await writer.close();
        await store.close();
        send({ type: "closed", metrics: writer.metrics() });
      })();
    }
  });
} catch (error) {
  send({ type: "fatal", message: (error as Error).message });
}
