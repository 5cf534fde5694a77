/**
 * The history writer wired to the REAL journal (src/journal): a DurableEngine on disk feeds the writer
 * from its output gate; the writer's queue is kept tiny so that it falls behind and reads events back
 * from the journal (JournalEventSource), across segments and a snapshot; then a fresh store is rebuilt
 * from the journal alone. Both must hold exactly what the engine did.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import type { Command } from "../../src/engine/types.js";
import { HistoryFollower } from "../../src/history/follower.js";
import { JournalEventSource } from "../../src/history/journal-source.js";
import { rebuildBalance } from "../../src/history/rebuild-balance.js";
import { SqliteHistoryStore } from "../../src/history/sqlite-store.js";
import { HistoryWriter } from "../../src/history/writer.js";
import type { CommandInput } from "../../src/journal/command-codec.js";
import { DurableEngine } from "../../src/journal/durable-engine.js";
import { InlineSnapshotter } from "../../src/journal/snapshotter.js";
import { engineFactory } from "../../src/journal/state-machine.js";
import { SimulatedClock } from "../../src/platform/clock.js";
import { RealFileSystem } from "../../src/platform/real-file-system.js";
import { storedTradeIds, workloadConfig } from "./helpers.js";
import { Workload } from "./workload.js";

const root = mkdtempSync(join(tmpdir(), "bourse-history-journal-"));
after(() => rmSync(root, { recursive: true, force: true }));
const quiet = (): void => {};
const symbols = workloadConfig.markets.map((m) => m.symbol);

function input(c: Command): CommandInput {
  const { seq: _seq, time: _time, ...rest } = c;
  return rest as CommandInput;
}

test("the writer falls behind the live journal, reads back from it across segments and a snapshot, and a fresh store rebuilds from the journal alone", async () => {
  const dir = join(root, "data");
  const fs = new RealFileSystem();
  const factory = engineFactory(workloadConfig);
  const clock = new SimulatedClock(1_700_000_000_000);
  const durable = await DurableEngine.open({
    fs,
    dir,
    factory,
    clock,
    snapshotter: (r) => new InlineSnapshotter({ fs, dir, factory, ...r }),
    segmentBytesMax: 256 * 1024,
    batchBytesMax: 64 * 1024,
    log: quiet,
  });
  const store = new SqliteHistoryStore(join(dir, "history", "history.sqlite"));
  const source = new JournalEventSource({ dir, config: workloadConfig });
  const writer = new HistoryWriter({
    store,
    config: workloadConfig,
    source,
    queueCommandsMax: 64,
    batchCommandsMax: 32,
    catchUpCommandsMax: 500,
    log: quiet,
  });
  // The wiring, in this order: start from the checkpoint, then listen to the output gate.
  await writer.start(durable.durableSeq);
  durable.onCommit((batch) => writer.enqueueCommitted(batch));

  const w = new Workload({ seed: 99, accounts: 10 });
  const count = 6_000;
  const trades: number[] = [];
  let pending: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const events = w.step().events;
    for (const e of events) if (e.type === "trade") trades.push(e.tradeId);
    const c = w.lastCommand!;
    clock.set(c.time);
    pending.push(durable.submit(input(c)));
    if (pending.length === 100) {
      await Promise.all(pending);
      pending = [];
    }
    if (i === 2_500) await durable.requestSnapshot();
  }
  await Promise.all(pending);
  await writer.drain();
  const m = writer.metrics();
  assert.equal(m.checkpointSeq, count);
  assert.ok(m.commandsReadBack > 0, "the writer read events back from the journal");
  assert.deepEqual(await storedTradeIds(store, symbols), trades);
  await writer.close();
  await store.close();
  await durable.close();

  // A fresh store, a fresh process: everything from the journal (and a store that already has a part).
  const fresh = new SqliteHistoryStore(join(root, "fresh", "history.sqlite"));
  const partial = new HistoryWriter({
    store: fresh,
    config: workloadConfig,
    source: new JournalEventSource({ dir, config: workloadConfig }),
    log: quiet,
  });
  await partial.start(3_000);
  await partial.drain();
  await partial.close();
  assert.equal(await fresh.checkpoint(), 3_000);
  const rebuildSource = new JournalEventSource({ dir, config: workloadConfig });
  const rebuilt = new HistoryWriter({
    store: fresh,
    config: workloadConfig,
    source: rebuildSource,
    log: quiet,
  });
  await rebuilt.start(count);
  await rebuilt.drain();
  await rebuilt.close();
  assert.equal(rebuildSource.recoveries, 1, "one recovery (from the snapshot), then a straight read");
  assert.deepEqual(await storedTradeIds(fresh, symbols), trades);
  for (let accountId = 0; accountId <= 10; accountId++) {
    const balances = await rebuildBalance(fresh, accountId, count);
    for (const e of w.engine.balances(accountId) ?? []) {
      const b = balances.find((x) => x.asset === e.asset);
      assert.equal(b?.available ?? 0, e.available);
      assert.equal(b?.locked ?? 0, e.locked);
    }
  }
  await fresh.close();
});

test("the history follower (a worker thread reading the journal) stores what the engine did while matching goes on", async () => {
  const dir = join(root, "follower");
  const fs = new RealFileSystem();
  const clock = new SimulatedClock(1_700_000_000_000);
  const durable = await DurableEngine.open({
    fs,
    dir,
    factory: engineFactory(workloadConfig),
    clock,
    segmentBytesMax: 256 * 1024,
    batchBytesMax: 64 * 1024,
    log: quiet,
  });
  const follower = await HistoryFollower.start(
    { dataDir: dir, config: workloadConfig, log: quiet },
    durable.durableSeq,
  );
  durable.onCommit((batch) => follower.noteDurable(batch[batch.length - 1]!.command.seq));
  const w = new Workload({ seed: 5, accounts: 10 });
  const count = 4_000;
  const trades: number[] = [];
  let pending: Promise<unknown>[] = [];
  let lagSeen = false;
  for (let i = 0; i < count; i++) {
    for (const e of w.step().events) if (e.type === "trade") trades.push(e.tradeId);
    const c = w.lastCommand!;
    clock.set(c.time);
    pending.push(durable.submit(input(c)));
    if (pending.length === 100) {
      await Promise.all(pending);
      pending = [];
      if (follower.lagCommands > 0) lagSeen = true;
    }
  }
  await Promise.all(pending);
  await follower.drain();
  assert.ok(lagSeen, "the follower trails the journal (the lag metric moves)");
  assert.equal(follower.lagMs, 0);
  assert.equal(follower.lastCheckpoint(), count);
  await follower.close();
  await durable.close();
  const store = new SqliteHistoryStore(join(dir, "history", "history.sqlite"));
  await store.open();
  assert.equal(await store.checkpoint(), count);
  assert.deepEqual(await storedTradeIds(store, symbols), trades);
  await store.close();
});
