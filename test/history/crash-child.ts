/**
 * A process that writes history and gets killed with SIGKILL by crash tests (test/history/suite.ts).
 *
 *   node crash-child.js <historyUrl> <seed> <commands> <batchCommandsMax> live|resume
 *
 * It regenerates the same seeded stream as every run before it (the real engine is deterministic: the
 * journal twin) and opens the store. live: the writer starts from its checkpoint and is handed every
 * command as the output gate would. resume: the writer is told the journal's durable seq (all of the
 * stream) and reads everything after its checkpoint back from the "journal". It prints
 * "checkpoint <seq>" after each batch; a run that is not killed prints "done <seq>" and exits 0.
 */
import { createHistoryStore } from "../../src/history/open-store.js";
import { HistoryWriter } from "../../src/history/writer.js";
import { ArraySource, workloadConfig } from "./helpers.js";
import { Workload } from "./workload.js";

const [url, seedText, countText, batchText, mode] = process.argv.slice(2);
const seed = Number(seedText);
const count = Number(countText);
const w = new Workload({ seed, accounts: 12 });
const commands = w.run(count);
const store = await createHistoryStore(url, "");
const writer = new HistoryWriter({
  store,
  config: workloadConfig,
  source: new ArraySource(commands),
  batchCommandsMax: Number(batchText),
  catchUpCommandsMax: Number(batchText) * 4,
  log: () => {},
  onWritten: (b) => process.stdout.write(`checkpoint ${b.lastSeq}\n`),
  onFatal: (e) => {
    process.stderr.write(`${e.message}\n`);
    process.exit(2);
  },
});
await writer.start(mode === "live" ? 0 : count);
process.stdout.write(`started ${writer.lastCheckpoint()}\n`);
if (mode === "live") for (const c of commands) writer.enqueue(c.seq, c.time, c.events);
await writer.drain();
await writer.close();
await store.close();
process.stdout.write(`done ${count}\n`);
