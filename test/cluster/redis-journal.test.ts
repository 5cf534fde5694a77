/**
 * The Redis journal on a real redis-server primary (appendonly yes, appendfsync always) with one
 * replica: the journal port suite, then what only this backend has: fencing by epoch, idempotent
 * appends, WAIT, the persistence check, snapshots in Redis with log trimming, state-hash checkpoints.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Command } from "../../src/engine/types.js";
import { CommandGenerator } from "../../src/journal/command-generator.js";
import { DurableEngine } from "../../src/journal/durable-engine.js";
import type { JournalError } from "../../src/journal/errors.js";
import { RedisJournal, type RedisJournalOptions } from "../../src/journal/redis-journal.js";
import { RedisLog } from "../../src/journal/redis-log.js";
import { listRedisSnapshots, writeRedisSnapshot } from "../../src/journal/redis-snapshots.js";
import { SimulatedClock } from "../../src/platform/clock.js";
import { Prng } from "../../src/platform/prng.js";
import { cleanReplayHash, factory, quiet } from "../journal/helpers.js";
import { journalPortSuite } from "../journal/port-suite.js";
import { type RedisServer, startRedis, startReplicatedRedis } from "./redis-servers.js";

let servers: Awaited<ReturnType<typeof startReplicatedRedis>>;
let namespaceCount = 0;
const newNamespace = (): string => `t${process.pid}-${++namespaceCount}`;

before(async () => {
  servers = await startReplicatedRedis(1);
});
after(async () => {
  await servers?.stop();
});

function journal(namespace: string, extra: Partial<RedisJournalOptions> = {}): RedisJournal {
  return new RedisJournal({ url: servers.primary.url, namespace, durability: "aof-always+wait", ...extra });
}

function submitAll(engine: DurableEngine, inputs: ReturnType<CommandGenerator["next"]>[]) {
  return Promise.all(inputs.map((input) => engine.submit(input)));
}

describe("journal port: redis journal (aof-always+wait, 1 replica)", () => {
  let namespace = "";
  journalPortSuite({
    async fresh() {
      namespace = newNamespace();
    },
    journal: (bounds) => journal(namespace, bounds),
  });
});

describe("redis journal", () => {
  it("fences: once a newer writer took the log, the old one's appends are refused and it fails stop", async () => {
    const namespace = newNamespace();
    let fatal: Error | null = null;
    const a = await DurableEngine.open({
      journal: journal(namespace),
      factory,
      clock: new SimulatedClock(),
      log: quiet,
      onFatal: (error) => {
        fatal = error;
      },
    });
    const generator = new CommandGenerator(new Prng(5));
    const acked = await submitAll(a, generator.setup());
    const b = await DurableEngine.open({
      journal: journal(namespace),
      factory,
      clock: new SimulatedClock(),
      log: quiet,
    });
    assert.equal(b.lastSeq, acked.length, "the new writer recovered everything the old one acknowledged");
    assert.equal(b.stateHash(), a.stateHash());
    await assert.rejects(
      a.submit(generator.next()),
      (error: JournalError) => error.code === "JOURNAL_FENCED",
    );
    assert.ok(fatal !== null, "the deposed writer failed stop");
    await assert.rejects(a.submit(generator.next()), /JOURNAL_FAILED/);
    const next = await b.submit(generator.next());
    assert.equal(next.command.seq, acked.length + 1, "the refused command took no seq in the log");
    await b.close();
    a.abandon();
    const log = await RedisLog.connect({ url: servers.primary.url, namespace });
    const entries = await log.entriesAfter("-", 1_000);
    const epochs = entries.map((e) => e.epoch);
    assert.deepEqual(epochs, [...epochs].sort(), "epochs never go back along the log");
    assert.equal(entries.at(-1)!.lastSeq, acked.length + 1);
    await log.close();
  });

  it("accepts a retried append once, refuses a different batch at the same seqs, and a gap", async () => {
    const namespace = newNamespace();
    const log = await RedisLog.connect({ url: servers.primary.url, namespace });
    const { epoch } = await log.claim();
    const records = new Uint8Array([1, 2, 3, 4]);
    assert.equal(await log.append(epoch, 1, 3, 100, 7, records, null), 3);
    assert.equal(await log.append(epoch, 1, 3, 100, 7, records, null), 3, "the same batch again: accepted");
    await assert.rejects(log.append(epoch, 1, 3, 100, 7, new Uint8Array([9]), null), /CONFLICT/);
    await assert.rejects(log.append(epoch, 5, 6, 100, 7, records, null), /GAP/);
    await assert.rejects(log.append(epoch - 1, 4, 4, 100, 7, records, null), /FENCED/);
    assert.equal((await log.entriesAfter("-", 10)).length, 1);
    assert.equal((await log.head()).seq, 3);
    await log.close();
  });

  it("acknowledges only what the replica holds (WAIT 1)", async () => {
    const namespace = newNamespace();
    const engine = await DurableEngine.open({
      journal: journal(namespace),
      factory,
      clock: new SimulatedClock(),
      log: quiet,
    });
    const generator = new CommandGenerator(new Prng(6));
    const acked = await submitAll(engine, [
      ...generator.setup(),
      ...Array.from({ length: 500 }, () => generator.next()),
    ]);
    const replica = await RedisLog.connect({ url: servers.replicas[0]!.url, namespace });
    // Read from the replica right after the last acknowledgement: no waiting, no polling.
    assert.equal((await replica.head()).seq, acked.at(-1)!.command.seq);
    await replica.close();
    await engine.close();
  });

  it("fails stop with JOURNAL_UNAVAILABLE when no replica acknowledges, instead of acknowledging", async () => {
    const primary = await startRedis();
    try {
      const engine = await DurableEngine.open({
        journal: new RedisJournal({
          url: primary.url,
          namespace: newNamespace(),
          durability: "aof-always+wait",
          waitTimeoutMs: 50,
          unavailableAfterMs: 200,
        }),
        factory,
        clock: new SimulatedClock(),
        log: quiet,
        onFatal: () => {},
      });
      await assert.rejects(engine.submit({ type: "create_account" }), /JOURNAL_UNAVAILABLE|replica/);
      engine.abandon();
    } finally {
      await primary.stop();
    }
  });

  it("refuses to start when the server would not keep an acknowledged append (appendfsync everysec)", async () => {
    const loose: RedisServer = await startRedis({ settings: { appendfsync: "everysec" } });
    try {
      await assert.rejects(
        DurableEngine.open({
          journal: new RedisJournal({ url: loose.url, namespace: "x", durability: "aof-always" }),
          factory,
          clock: new SimulatedClock(),
          log: quiet,
        }),
        /appendfsync always/,
      );
      // MemoryDB mode does not read CONFIG (the service hides it): the operator's choice.
      const engine = await DurableEngine.open({
        journal: new RedisJournal({ url: loose.url, namespace: "x", durability: "memorydb" }),
        factory,
        clock: new SimulatedClock(),
        log: quiet,
      });
      await engine.submit({ type: "create_account" });
      await engine.close();
    } finally {
      await loose.stop();
    }
  });

  it("recovers from a snapshot in Redis plus the log after it; retention trims the log", async () => {
    const namespace = newNamespace();
    const clock = new SimulatedClock();
    const generator = new CommandGenerator(new Prng(7));
    const engine = await DurableEngine.open({ journal: journal(namespace), factory, clock, log: quiet });
    const commands: Command[] = [];
    const log = await RedisLog.connect({ url: servers.primary.url, namespace });
    for (let round = 0; round < 3; round++) {
      const inputs = round === 0 ? generator.setup() : Array.from({ length: 200 }, () => generator.next());
      for (const c of await submitAll(engine, inputs)) commands.push(c.command);
      // A follower's snapshot at the end of the last entry: the engine state after exactly these commands.
      const entries = await log.entriesAfter("-", 10_000);
      const last = entries.at(-1)!;
      const machine = factory.create();
      for (const cmd of commands) machine.replay(cmd);
      await writeRedisSnapshot(
        log,
        { lastSeq: last.lastSeq, lastTime: commands.at(-1)!.time, chain: (await log.head()).chain },
        last.id,
        machine.snapshot(),
        2,
      );
    }
    for (const c of await submitAll(
      engine,
      Array.from({ length: 50 }, () => generator.next()),
    ))
      commands.push(c.command);
    const hash = engine.stateHash();
    await engine.close();
    const snapshots = await listRedisSnapshots(log);
    assert.equal(snapshots.length, 2, "retention keeps two");
    const first = (await log.entriesAfter("-", 1))[0]!;
    assert.equal(
      first.firstSeq,
      snapshots[1]!.lastSeq + 1,
      "the log starts right after the oldest snapshot kept",
    );
    const reopened = await DurableEngine.open({ journal: journal(namespace), factory, clock, log: quiet });
    assert.equal(reopened.recovery.snapshot?.seq, snapshots[0]!.lastSeq);
    assert.equal(reopened.recovery.replayed, 50);
    assert.equal(reopened.stateHash(), hash);
    assert.equal(cleanReplayHash(commands), hash);
    await reopened.close();
    await log.close();
  });

  it("publishes state-hash checkpoints with the batch, equal to a clean replay at that seq", async () => {
    const namespace = newNamespace();
    const engine = await DurableEngine.open({
      journal: journal(namespace),
      factory,
      clock: new SimulatedClock(),
      log: quiet,
      checkpointEveryCommands: 100,
      checkpointTimeShare: 1, // every 100 commands, however long the hash takes (the default bounds it to 1%)
    });
    const generator = new CommandGenerator(new Prng(8));
    const acked = await submitAll(engine, [
      ...generator.setup(),
      ...Array.from({ length: 450 }, () => generator.next()),
    ]);
    await engine.close();
    const log = await RedisLog.connect({ url: servers.primary.url, namespace });
    const checkpoints = (await log.entriesAfter("-", 10_000)).filter((e) => e.checkpoint !== null);
    assert.equal(checkpoints.length, Math.floor(acked.length / 100));
    for (const entry of checkpoints) {
      assert.equal(entry.lastSeq % 100, 0, "a checkpoint ends its batch");
      const prefix = acked.slice(0, entry.lastSeq).map((c) => c.command);
      assert.equal(entry.checkpoint, cleanReplayHash(prefix));
    }
    await log.close();
  });
});
