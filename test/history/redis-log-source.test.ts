/**
 * The history's read-back source for a cluster (src/history/redis-log-source.ts) against a REAL
 * redis-server: a DurableEngine on a RedisJournal writes a seeded workload (group commit: several
 * records per stream entry), a follower-style snapshot is written mid-log, and the events the source
 * regenerates must equal those of the reference engine that ran the workload, for random ranges and
 * for a full sequential scan; a log trimmed behind what is asked gives a HistoryIntegrityError. Then
 * a history writer on a fresh SQLite store, started at the log's head, catches up from the source
 * alone and holds the reference's trades.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Command } from "../../src/engine/types.js";
import { HistoryIntegrityError } from "../../src/history/projector.js";
import type { CommandEvents } from "../../src/history/records.js";
import { RedisLogEventSource } from "../../src/history/redis-log-source.js";
import { SqliteHistoryStore } from "../../src/history/sqlite-store.js";
import { HistoryWriter } from "../../src/history/writer.js";
import type { CommandInput } from "../../src/journal/command-codec.js";
import { DurableEngine } from "../../src/journal/durable-engine.js";
import { RedisJournal } from "../../src/journal/redis-journal.js";
import { RedisLog } from "../../src/journal/redis-log.js";
import { listRedisSnapshots, writeRedisSnapshot } from "../../src/journal/redis-snapshots.js";
import { engineFactory } from "../../src/journal/state-machine.js";
import { SimulatedClock } from "../../src/platform/clock.js";
import { Prng } from "../../src/platform/prng.js";
import { type RedisServer, startRedis } from "../cluster/redis-servers.js";
import { storedTradeIds, workloadConfig } from "./helpers.js";
import { Workload } from "./workload.js";

const quiet = (): void => {};
const factory = engineFactory(workloadConfig);
const symbols = workloadConfig.markets.map((m) => m.symbol);
const root = mkdtempSync(join(tmpdir(), "bourse-history-redis-source-"));

let server: RedisServer;
let namespaceCount = 0;
const newNamespace = (): string => `h${process.pid}-${++namespaceCount}`;

before(async () => {
  server = await startRedis();
});
after(async () => {
  await server?.stop();
  rmSync(root, { recursive: true, force: true });
});

function input(c: Command): CommandInput {
  const { seq: _seq, time: _time, ...rest } = c;
  return rest as CommandInput;
}

/** JSON with bigints (Int) spelled out, so that events compare whatever the integer representation. */
function stringify(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? `${v}n` : v));
}

interface BuiltLog {
  namespace: string;
  log: RedisLog;
  /** The reference: every command with the events the workload's engine produced, as JSON, by seq − 1. */
  reference: string[];
  trades: number[];
  /** lastSeq of the snapshots written, oldest first. */
  snapshots: number[];
  head: number;
}

/**
 * Writes `count` workload commands through a DurableEngine on a RedisJournal, 100 in flight at a time
 * (group commit: entries of several records); after the commands of `snapshotAfter`, a snapshot at the
 * end of the last entry, as a standby takes it (retention `retained`: older snapshots and the log
 * entries they cover are removed).
 */
async function buildLog(
  seed: number,
  count: number,
  snapshotAfter: number[],
  retained = 2,
): Promise<BuiltLog> {
  const namespace = newNamespace();
  const clock = new SimulatedClock(1_700_000_000_000);
  const durable = await DurableEngine.open({
    journal: new RedisJournal({ url: server.url, namespace, durability: "aof-always" }),
    factory,
    clock,
    log: quiet,
  });
  const log = await RedisLog.connect({ url: server.url, namespace });
  const w = new Workload({ seed, accounts: 10 });
  const commands: Command[] = [];
  const reference: string[] = [];
  const trades: number[] = [];
  const snapshots: number[] = [];
  let pending: Promise<unknown>[] = [];
  for (let i = 1; i <= count; i++) {
    const step: CommandEvents = w.step();
    reference.push(stringify({ seq: step.seq, time: step.time, events: step.events }));
    for (const e of step.events) if (e.type === "trade") trades.push(e.tradeId);
    const c = w.lastCommand!;
    commands.push(c);
    clock.set(c.time);
    pending.push(durable.submit(input(c)));
    if (pending.length === 100 || snapshotAfter.includes(i)) {
      await Promise.all(pending);
      pending = [];
    }
    if (snapshotAfter.includes(i)) {
      const head = await log.head();
      assert.equal(head.seq, i);
      const lastId = (await log.entryIdAtOrBefore(i))!;
      assert.equal(lastId.split("-")[1], String(i), "the entry holding seq i ends there");
      const machine = factory.create();
      for (const cmd of commands) machine.replay(cmd);
      await writeRedisSnapshot(
        log,
        { lastSeq: i, lastTime: c.time, chain: head.chain },
        lastId,
        machine.snapshot(),
        retained,
      );
      snapshots.push(i);
    }
  }
  await Promise.all(pending);
  await durable.close();
  const head = (await log.head()).seq;
  assert.equal(head, count);
  return { namespace, log, reference, trades, snapshots, head };
}

function expected(built: BuiltLog, from: number, to: number, max: number): string[] {
  return built.reference.slice(from - 1, Math.min(to, from + max - 1));
}

const asJson = (commands: CommandEvents[]): string[] => commands.map((c) => stringify(c));

describe("RedisLogEventSource", () => {
  let built: BuiltLog;
  before(async () => {
    built = await buildLog(11, 3_000, [1_500]);
  });
  after(async () => {
    await built?.log.close();
  });

  it("the log is batched: entries hold several records", async () => {
    const entries = await built.log.entriesAfter("-", 100_000);
    assert.ok(
      entries.some((e) => e.lastSeq > e.firstSeq),
      "group commit put several records in an entry",
    );
    assert.equal(entries[0]!.firstSeq, 1, "nothing trimmed: one snapshot kept");
  });

  it("a full sequential scan gives the reference's events, with one positioning", async () => {
    const source = new RedisLogEventSource({ log: built.log, config: workloadConfig });
    const got: string[] = [];
    let from = 1;
    while (from <= built.head) {
      const part = await source.read(from, built.head, 173); // 173: reads end inside entries
      assert.ok(part.length > 0 && part.length <= 173);
      assert.equal(part[0]!.seq, from);
      got.push(...asJson(part));
      from = part.at(-1)!.seq + 1;
    }
    assert.equal(got.length, built.reference.length);
    assert.deepEqual(got, built.reference);
    assert.equal(source.figures.positionings, 1, "sequential reads never rescan");
    assert.equal(source.figures.replayed, 0);
    assert.equal(source.figures.applied, built.head, "every record applied once");
  });

  it("random ranges give the reference's events; the snapshot mid-log is used; retries are served without a rescan", async () => {
    const rng = new Prng(3);
    const source = new RedisLogEventSource({ log: built.log, config: workloadConfig });
    for (let round = 0; round < 40; round++) {
      const from = 1 + rng.int(built.head);
      const to = Math.min(built.head, from + rng.int(400));
      const max = 1 + rng.int(300);
      const got = asJson(await source.read(from, to, max));
      assert.deepEqual(got, expected(built, from, to, max), `read(${from}, ${to}, ${max})`);
      if (round % 4 === 0) {
        // The writer asks again (its store refused a batch): the same answer, no new positioning.
        const before = source.figures.positionings;
        assert.deepEqual(asJson(await source.read(from, to, max)), got);
        assert.equal(source.figures.positionings, before);
      }
    }

    const snapshotSeq = built.snapshots[0]!;
    const fresh = new RedisLogEventSource({ log: built.log, config: workloadConfig });
    const from = snapshotSeq + 10;
    assert.deepEqual(asJson(await fresh.read(from, from + 99, 50)), expected(built, from, from + 99, 50));
    assert.equal(
      fresh.figures.snapshotSeq,
      snapshotSeq,
      "positioned from the snapshot at or before from − 1",
    );
    assert.equal(fresh.figures.replayed, 9, "then replayed without events up to from − 1");
    // Right after the snapshot: no replay at all.
    const atSnapshot = new RedisLogEventSource({ log: built.log, config: workloadConfig });
    assert.deepEqual(
      asJson(await atSnapshot.read(snapshotSeq + 1, snapshotSeq + 5, 5)),
      expected(built, snapshotSeq + 1, snapshotSeq + 5, 5),
    );
    assert.equal(atSnapshot.figures.snapshotSeq, snapshotSeq);
    assert.equal(atSnapshot.figures.replayed, 0);
    // Before the snapshot: the newest snapshot is beyond from − 1, the log starts at 1: from the start.
    const early = new RedisLogEventSource({ log: built.log, config: workloadConfig });
    assert.deepEqual(asJson(await early.read(700, 760, 100)), expected(built, 700, 760, 100));
    assert.equal(early.figures.snapshotSeq, null);
    assert.equal(early.figures.replayed, 699);
    // Forward past the snapshot from there: the snapshot is closer than the state held.
    assert.deepEqual(asJson(await early.read(2_000, 2_010, 100)), expected(built, 2_000, 2_010, 100));
    assert.equal(early.figures.snapshotSeq, snapshotSeq);
    // A jump forward with no snapshot in between: replay on from the state held, not from the snapshot.
    const positioningsBefore = early.figures.positionings;
    const replayedBefore = early.figures.replayed;
    assert.deepEqual(asJson(await early.read(2_400, 2_410, 100)), expected(built, 2_400, 2_410, 100));
    assert.equal(early.figures.positionings, positioningsBefore + 1);
    assert.equal(early.figures.snapshotSeq, null);
    assert.ok(early.figures.replayed - replayedBefore < 400, "no replay from the snapshot again");
  });

  it("a read that ends inside an entry keeps the entry's later records for the next read", async () => {
    const entries = await built.log.entriesAfter("-", 100_000);
    const wide = entries.find((e) => e.lastSeq - e.firstSeq >= 2 && e.firstSeq > 1)!;
    assert.ok(wide !== undefined);
    const source = new RedisLogEventSource({ log: built.log, config: workloadConfig });
    const from = wide.firstSeq - 1;
    assert.deepEqual(
      asJson(await source.read(from, wide.firstSeq, 10)),
      expected(built, from, wide.firstSeq, 10),
    );
    for (let seq = wide.firstSeq + 1; seq <= wide.lastSeq + 1; seq++) {
      assert.deepEqual(asJson(await source.read(seq, seq, 1)), expected(built, seq, seq, 1));
    }
    assert.equal(source.figures.positionings, 1);
  });

  it("a log that does not hold `from` yet is a plain error, not an integrity one", async () => {
    const source = new RedisLogEventSource({ log: built.log, config: workloadConfig });
    await assert.rejects(source.read(built.head + 1, built.head + 5, 10), (error: Error) => {
      assert.ok(!(error instanceof HistoryIntegrityError));
      assert.match(error.message, /does not hold seq/);
      return true;
    });
  });

  it("connects itself from a URL", async () => {
    const source = new RedisLogEventSource({
      url: server.url,
      namespace: built.namespace,
      config: workloadConfig,
    });
    assert.deepEqual(asJson(await source.read(1, 50, 50)), expected(built, 1, 50, 50));
    await source.close();
  });

  it("a history writer on a fresh store, started at the log's head, catches up from the source alone", async () => {
    const store = new SqliteHistoryStore(join(root, "catch-up", "history.sqlite"));
    const source = new RedisLogEventSource({ log: built.log, config: workloadConfig });
    const writer = new HistoryWriter({
      store,
      config: workloadConfig,
      source,
      batchCommandsMax: 64,
      catchUpCommandsMax: 333,
      log: quiet,
    });
    await writer.start((await built.log.head()).seq);
    await writer.drain();
    const m = writer.metrics();
    assert.equal(m.checkpointSeq, built.head);
    assert.equal(m.commandsReadBack, built.head);
    assert.equal(source.figures.positionings, 1, "one positioning, then straight reads");
    assert.deepEqual(await storedTradeIds(store, symbols), built.trades);
    assert.ok(built.trades.length > 100, "the workload traded");
    await writer.close();
    await store.close();

    // A store that already holds a part (past the snapshot): the next start reads on from its checkpoint.
    const partStore = new SqliteHistoryStore(join(root, "part", "history.sqlite"));
    const first = new HistoryWriter({
      store: partStore,
      config: workloadConfig,
      source: new RedisLogEventSource({ log: built.log, config: workloadConfig }),
      log: quiet,
    });
    await first.start(2_200);
    await first.drain();
    await first.close();
    const secondSource = new RedisLogEventSource({ log: built.log, config: workloadConfig });
    const second = new HistoryWriter({
      store: partStore,
      config: workloadConfig,
      source: secondSource,
      log: quiet,
    });
    await second.start(built.head);
    await second.drain();
    await second.close();
    assert.equal(secondSource.figures.snapshotSeq, built.snapshots[0], "from the snapshot, not from seq 1");
    assert.deepEqual(await storedTradeIds(partStore, symbols), built.trades);
    await partStore.close();
  });
});

describe("RedisLogEventSource on a trimmed log", () => {
  it("gives a HistoryIntegrityError for what retention removed, and reads what is left", async () => {
    // Three snapshots, two kept: the oldest and the log up to the second are removed.
    const built = await buildLog(12, 1_500, [400, 800, 1_200], 2);
    try {
      const kept = (await listRedisSnapshots(built.log)).map((m) => m.lastSeq).sort((a, b) => a - b);
      assert.deepEqual(kept, [800, 1_200]);
      const firstEntry = (await built.log.entriesAfter("-", 1))[0]!;
      assert.equal(firstEntry.firstSeq, 801, "the log starts after the oldest snapshot kept");

      const source = new RedisLogEventSource({ log: built.log, config: workloadConfig });
      for (const from of [1, 401, 800]) {
        await assert.rejects(source.read(from, from + 10, 10), (error: Error) => {
          assert.ok(error instanceof HistoryIntegrityError, `${error.name}: ${error.message}`);
          assert.match(error.message, /no longer|trimmed/);
          return true;
        });
      }
      // From the oldest snapshot kept on, the log is whole.
      assert.deepEqual(asJson(await source.read(801, 900, 100)), expected(built, 801, 900, 100));
      assert.deepEqual(asJson(await source.read(1_000, 1_500, 1_000)), expected(built, 1_000, 1_500, 1_000));

      // Trimmed under a positioned reader: the gap is seen, not skipped.
      const reader = new RedisLogEventSource({ log: built.log, config: workloadConfig });
      assert.deepEqual(asJson(await reader.read(810, 815, 10)), expected(built, 810, 815, 10));
      await built.log.command(["XTRIM", built.log.keys.log, "MINID", "1300-0"]);
      await assert.rejects(reader.read(816, 1_400, 1_000), (error: Error) => {
        assert.ok(error instanceof HistoryIntegrityError, `${error.name}: ${error.message}`);
        assert.match(error.message, /trimmed/);
        return true;
      });
    } finally {
      await built.log.close();
    }
  });
});
