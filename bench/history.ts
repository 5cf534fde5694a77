/**
 * `npm run bench:history [-- --quick]`: the history writer on this machine.
 *
 *   1. A seeded stream from the REAL engine (test/history/workload.ts: 1,000 accounts, crossing limit
 *      orders, IOC, market, stops, amends, cancels, transfers), generated before anything is timed.
 *   2. SQLite ingest: a fresh store in a temp dir; the writer reads the whole stream back (its catch-up
 *      path: batches of historyLimits.batchCommandsMax, projection + store) as fast as it can: trades/s.
 *   3. SQLite writer lag at a steady 50,000 trades/s, open loop (sqliteLag*): each command's events are
 *      handed to writer.enqueue at its scheduled time (a 1 ms pacer), on the same thread, as the output
 *      gate would; the lag of a command is from its scheduled hand-over to the commit of the batch
 *      holding it (a stalled writer makes later commands late, it does not delay their schedule).
 *   4. The same rate through the follower wiring (sqliteFollower*): commands submitted to a
 *      DurableEngine (the file journal, fdatasync on this disk) and the HistoryFollower (a worker thread
 *      reading the journal) writing the history; lag from the moment a command is durable to stored.
 *   5. DynamoDB Local ingest (the jar of amplify-dynamodb-simulator, in memory, on loopback): trades/s.
 *
 * Last line: one JSON object. --quick: the same keys from smaller streams, in under a minute.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import type { Command } from "../src/engine/types.js";
import { DynamoHistoryStore } from "../src/history/dynamo-store.js";
import { HistoryFollower } from "../src/history/follower.js";
import { historyLimits } from "../src/history/history-limits.js";
import type { HistoryStore } from "../src/history/history-store.js";
import { parseHistoryUrl } from "../src/history/open-store.js";
import type { CommandEvents } from "../src/history/records.js";
import { SqliteHistoryStore } from "../src/history/sqlite-store.js";
import { HistoryWriter } from "../src/history/writer.js";
import type { CommandInput } from "../src/journal/command-codec.js";
import { DurableEngine } from "../src/journal/durable-engine.js";
import { engineFactory } from "../src/journal/state-machine.js";
import { SimulatedClock } from "../src/platform/clock.js";
import { RealFileSystem } from "../src/platform/real-file-system.js";
import { startDynamoLocal } from "../test/history/dynamodb-local.js";
import { ArraySource } from "../test/history/helpers.js";
import { Workload, workloadConfig } from "../test/history/workload.js";

const quick = process.argv.includes("--quick");
const targetTradesPerSec = 50_000;
const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;
const log = (m: string): void => console.log(m);
const quiet = (): void => {};

interface Generated {
  stream: CommandEvents[];
  commands: Command[];
  trades: number;
  ms: number;
}

function generate(count: number, accounts: number): Generated {
  const started = performance.now();
  const w = new Workload({ seed: 1, accounts, tradeBias: 0.8 });
  const stream: CommandEvents[] = [];
  const commands: Command[] = [];
  for (let i = 0; i < count; i++) {
    stream.push(w.step());
    commands.push(w.lastCommand!);
  }
  return { stream, commands, trades: w.trades, ms: performance.now() - started };
}

function input(c: Command): CommandInput {
  const { seq: _seq, time: _time, ...rest } = c;
  return rest as CommandInput;
}

/** The production wiring at a steady rate: DurableEngine + HistoryFollower; lag from durable to stored. */
async function followerLagAt(
  dir: string,
  commands: Command[],
  tradesPerCommand: number,
  seconds: number,
): Promise<{ p50: number; p99: number; max: number; achievedTradesPerSec: number; refusals: number }> {
  const commandsPerMs = targetTradesPerSec / tradesPerCommand / 1000;
  const count = Math.min(commands.length, Math.floor(commandsPerMs * seconds * 1000));
  const lags = new Float64Array(count);
  let samples = 0;
  const clock = new SimulatedClock(commands[0]!.time);
  const durable = await DurableEngine.open({
    fs: new RealFileSystem(),
    dir,
    factory: engineFactory(workloadConfig),
    clock,
    log: quiet,
  });
  const follower = await HistoryFollower.start(
    {
      dataDir: dir,
      config: workloadConfig,
      log: quiet,
      onLag: (ms, n) => {
        for (let k = 0; k < n && samples < count; k++) lags[samples++] = ms;
      },
    },
    durable.durableSeq,
  );
  durable.onCommit((batch) => follower.noteDurable(batch[batch.length - 1]!.command.seq));
  let next = 0;
  let acked = 0;
  let refusals = 0;
  let failed: Error | null = null;
  const done = (error: Error | null, committed: unknown): void => {
    if (committed !== null) acked++;
    else if ((error as { code?: string } | null)?.code === "JOURNAL_BACKLOG_FULL") refusals++;
    else failed ??= error;
  };
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const pace = (): void => {
      const now = performance.now();
      while (next < count && start + next / commandsPerMs <= now) {
        const c = commands[next]!;
        clock.set(c.time);
        // The journal's backlog is full: this command waits for the next tick (it is late, not lost).
        if (durable.submitWith(input(c), done) === null) break;
        next++;
      }
      if (failed !== null || next >= count) resolve();
      else setTimeout(pace, 1);
    };
    pace();
  });
  while (acked < count && failed === null) await new Promise((r) => setTimeout(r, 2));
  if (failed !== null) throw failed;
  await follower.drain();
  const elapsed = (performance.now() - start) / 1000;
  await follower.close();
  await durable.close();
  const sorted = lags.slice(0, samples).sort();
  return {
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? 0,
    achievedTradesPerSec: (count * tradesPerCommand) / elapsed,
    refusals,
  };
}

/** Every command of the stream through the writer's read-back path, as fast as the store takes them. */
async function ingest(store: HistoryStore, stream: CommandEvents[]): Promise<{ ms: number; trades: number }> {
  const writer = new HistoryWriter({
    store,
    config: workloadConfig,
    source: new ArraySource(stream),
    log: quiet,
  });
  const started = performance.now();
  await writer.start(stream[stream.length - 1]!.seq);
  await writer.drain();
  const ms = performance.now() - started;
  await writer.close();
  return { ms, trades: writer.metrics().tradesWritten };
}

function percentile(sorted: Float64Array, q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** The live path at a steady rate: lag from each command's scheduled hand-over to its commit. */
async function lagAt(
  store: HistoryStore,
  stream: CommandEvents[],
  tradesPerCommand: number,
  seconds: number,
  tradesPerSec = targetTradesPerSec,
): Promise<{ p50: number; p99: number; max: number; achievedTradesPerSec: number; behindEvents: number }> {
  const commandsPerMs = tradesPerSec / tradesPerCommand / 1000;
  const count = Math.min(stream.length, Math.floor(commandsPerMs * seconds * 1000));
  const lags = new Float64Array(count);
  let written = 0;
  let start = 0;
  const scheduled = (seq: number): number => start + (seq - 1) / commandsPerMs;
  const writer = new HistoryWriter({
    store,
    config: workloadConfig,
    source: new ArraySource(stream),
    log: quiet,
    onWritten: (b) => {
      for (let seq = b.firstSeq; seq <= b.lastSeq && seq <= count; seq++)
        lags[written++] = b.writtenAtMs - scheduled(seq);
    },
  });
  await writer.start(0);
  let next = 0;
  let tradesHanded = 0;
  start = performance.now();
  await new Promise<void>((resolve) => {
    const pace = (): void => {
      const now = performance.now();
      while (next < count && scheduled(next + 1) <= now) {
        const c = stream[next++]!;
        for (const e of c.events) if (e.type === "trade") tradesHanded++;
        writer.enqueue(c.seq, c.time, c.events);
      }
      if (next < count) setTimeout(pace, 1);
      else resolve();
    };
    pace();
  });
  await writer.drain();
  const elapsed = (performance.now() - start) / 1000;
  const behindEvents = writer.metrics().commandsDropped;
  await writer.close();
  const sorted = lags.slice(0, written).sort();
  return {
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? 0,
    achievedTradesPerSec: tradesHanded / elapsed,
    behindEvents,
  };
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const root = mkdtempSync(join(os.tmpdir(), "bourse-bench-history-"));
  log(
    `bench:history${quick ? " --quick" : ""}: ${os.cpus().length} cores, Node ${process.version}, data in ${root}`,
  );
  const lagSeconds = quick ? 3 : 10;
  const generated = generate(quick ? 150_000 : 700_000, 1_000);
  const stream = generated.stream;
  const tradesPerCommand = generated.trades / stream.length;
  log(
    `stream: ${stream.length} commands, ${generated.trades} trades (${round(tradesPerCommand)} per command), ` +
      `1,000 accounts, generated by the engine in ${Math.round(generated.ms)} ms (untimed)`,
  );
  try {
    // SQLite ingest (fresh store per run; best of the runs).
    let sqliteTradesPerSec = 0;
    let sqliteCommandsPerSec = 0;
    let sqliteBytesPerTrade = 0;
    const ingestCommands = quick ? 100_000 : stream.length;
    for (let run = 0; run < (quick ? 1 : 2); run++) {
      const path = join(root, `ingest-${run}`, "history.sqlite");
      const store = new SqliteHistoryStore(path);
      const r = await ingest(store, stream.slice(0, ingestCommands));
      await store.close();
      const perSec = (r.trades / r.ms) * 1000;
      log(
        `sqlite ingest: ${ingestCommands} commands, ${r.trades} trades in ${Math.round(r.ms)} ms: ` +
          `${Math.round(perSec)} trades/s, ${Math.round((ingestCommands / r.ms) * 1000)} commands/s`,
      );
      if (perSec > sqliteTradesPerSec) {
        sqliteTradesPerSec = perSec;
        sqliteCommandsPerSec = (ingestCommands / r.ms) * 1000;
        let bytes = statSync(path).size;
        try {
          bytes += statSync(`${path}-wal`).size;
        } catch {
          // no WAL left
        }
        sqliteBytesPerTrade = bytes / r.trades;
      }
    }
    // SQLite lag at 50k trades/s, open loop: the production wiring (journal + follower worker).
    const follower = await followerLagAt(
      join(root, "journal"),
      generated.commands,
      tradesPerCommand,
      lagSeconds,
    );
    log(
      `sqlite lag at ${targetTradesPerSec} trades/s, journal + follower worker (open loop, ${lagSeconds} s, ` +
        `achieved ${Math.round(follower.achievedTradesPerSec)}): durable → stored p50 ${round(follower.p50)} ms, ` +
        `p99 ${round(follower.p99)} ms, max ${round(follower.max)} ms` +
        (follower.refusals > 0
          ? `; the journal refused ${follower.refusals} submissions (backlog full), retried`
          : ""),
    );
    // The same through the in-process writer (events handed over on the matching thread).
    const lagStore = new SqliteHistoryStore(join(root, "lag", "history.sqlite"));
    const lag = await lagAt(lagStore, stream, tradesPerCommand, lagSeconds);
    await lagStore.close();
    log(
      `sqlite lag at ${targetTradesPerSec} trades/s, in-process writer (open loop, ${lagSeconds} s, achieved ${Math.round(lag.achievedTradesPerSec)}): ` +
        `p50 ${round(lag.p50)} ms, p99 ${round(lag.p99)} ms, max ${round(lag.max)} ms` +
        (lag.behindEvents > 0 ? `, ${lag.behindEvents} commands read back after the queue overflowed` : ""),
    );
    // The same writer at a rate this machine sustains: the lag of the design when it is not saturated.
    const lowStore = new SqliteHistoryStore(join(root, "lag-10k", "history.sqlite"));
    const low = await lagAt(lowStore, stream, tradesPerCommand, quick ? 2 : 5, 10_000);
    await lowStore.close();
    log(
      `sqlite lag at 10000 trades/s, in-process writer (open loop, achieved ${Math.round(low.achievedTradesPerSec)}): ` +
        `p50 ${round(low.p50)} ms, p99 ${round(low.p99)} ms, max ${round(low.max)} ms`,
    );
    // DynamoDB Local ingest.
    let dynamodbLocalTradesPerSec = 0;
    let dynamoCommands = 0;
    const local = await startDynamoLocal();
    try {
      const location = parseHistoryUrl(local.url("bench_"), "");
      if (location.kind !== "dynamodb") throw new Error("expected DynamoDB");
      const store = new DynamoHistoryStore(location);
      await store.open();
      // Fewer accounts: 1,000 accounts' set-up (4,000 commands) would be all a short run writes.
      dynamoCommands = quick ? 4_000 : 20_000;
      const r = await ingest(store, generate(dynamoCommands, 50).stream);
      await store.close();
      dynamodbLocalTradesPerSec = (r.trades / r.ms) * 1000;
      log(
        `dynamodb local ingest: ${dynamoCommands} commands, ${r.trades} trades in ${Math.round(r.ms)} ms: ` +
          `${Math.round(dynamodbLocalTradesPerSec)} trades/s (${historyLimits.dynamoBatchWritesInFlightMax} BatchWriteItem requests in flight)`,
      );
    } finally {
      await local.stop();
    }
    const result = {
      bench: "history",
      quick,
      sqliteTradesPerSec: Math.round(sqliteTradesPerSec),
      sqliteCommandsPerSec: Math.round(sqliteCommandsPerSec),
      sqliteBytesPerTrade: Math.round(sqliteBytesPerTrade),
      sqliteLagP50MsAt50k: round(lag.p50),
      sqliteLagP99MsAt50k: round(lag.p99),
      sqliteLagMaxMsAt50k: round(lag.max),
      sqliteAchievedTradesPerSecAt50k: Math.round(lag.achievedTradesPerSec),
      sqliteLagP50MsAt10k: round(low.p50),
      sqliteLagP99MsAt10k: round(low.p99),
      sqliteFollowerLagP50MsAt50k: round(follower.p50),
      sqliteFollowerLagP99MsAt50k: round(follower.p99),
      sqliteFollowerAchievedTradesPerSecAt50k: Math.round(follower.achievedTradesPerSec),
      dynamodbLocalTradesPerSec: Math.round(dynamodbLocalTradesPerSec),
      tradesPerCommand: round(tradesPerCommand),
      commandsIngested: { sqlite: ingestCommands, dynamodbLocal: dynamoCommands },
      accounts: { sqlite: 1_000, dynamodbLocal: 50 },
      batchCommandsMax: historyLimits.batchCommandsMax,
      cores: os.cpus().length,
      loadAverage1m: round(os.loadavg()[0]!),
      seconds: round((performance.now() - t0) / 1000, 1),
    };
    console.log(JSON.stringify(result));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
