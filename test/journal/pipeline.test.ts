import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Command } from "../../src/engine/types.js";
import { CommandGenerator } from "../../src/journal/command-generator.js";
import { DurableEngine } from "../../src/journal/durable-engine.js";
import { InlineSnapshotter } from "../../src/journal/snapshotter.js";
import { verifyJournal } from "../../src/journal/verify.js";
import { SimulatedClock } from "../../src/platform/clock.js";
import { Prng } from "../../src/platform/prng.js";
import { SimulatedFileSystem } from "../../src/platform/simulated-file-system.js";
import { cleanReplayHash, factory, quiet, submitInSeqOrder } from "./helpers.js";

function open(fs: SimulatedFileSystem, clock: SimulatedClock, extra = {}): Promise<DurableEngine> {
  return DurableEngine.open({
    fs,
    dir: "/data",
    factory,
    clock,
    log: quiet,
    snapshotter: (r) => new InlineSnapshotter({ fs, dir: "/data", factory, ...r }),
    segmentBytesMax: 64 * 1024,
    batchBytesMax: 8 * 1024,
    ...extra,
  });
}

describe("durable engine", () => {
  it("acknowledges commands only once durable, and recovers them after a clean close", async () => {
    const fs = new SimulatedFileSystem(new Prng(1), { autoSync: true });
    fs.mkdirp("/data");
    const clock = new SimulatedClock();
    const engine = await open(fs, clock);
    const committed = await submitInSeqOrder(engine, clock, 2, 2_000);
    const hash = engine.stateHash();
    await engine.requestSnapshot();
    await engine.close();
    const reopened = await open(fs, clock);
    assert.equal(reopened.lastSeq, committed.length);
    assert.equal(reopened.stateHash(), hash);
    assert.equal(cleanReplayHash(committed.map((c) => c.command as Command)), hash);
    assert.ok(reopened.recovery.snapshot !== null);
    await reopened.close();
  });

  it("holds every output until the batch's sync completes", async () => {
    const fs = new SimulatedFileSystem(new Prng(3));
    fs.mkdirp("/data");
    fs.autoSync = true;
    const clock = new SimulatedClock();
    const engine = await open(fs, clock, { snapshotter: null });
    fs.autoSync = false;
    const seen: number[] = [];
    engine.onCommit((batch) => seen.push(...batch.map((c) => c.command.seq)));
    const acked: number[] = [];
    for (let i = 0; i < 5; i++)
      engine.submit({ type: "create_account" }).then((c) => acked.push(c.command.seq));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(acked, []);
    assert.deepEqual(seen, []);
    assert.ok(fs.syncsInFlight > 0);
    fs.completeSyncs(true);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(seen, [1, 2, 3, 4, 5]);
    assert.deepEqual(acked, [1, 2, 3, 4, 5]);
    engine.abandon();
  });

  it("fails stop on an fsync error: nothing pending is acknowledged, nothing more accepted", async () => {
    const fs = new SimulatedFileSystem(new Prng(4), { autoSync: true });
    fs.mkdirp("/data");
    let fatal: Error | null = null;
    const engine = await open(fs, new SimulatedClock(), {
      snapshotter: null,
      onFatal: (e: Error) => {
        fatal = e;
      },
    });
    await engine.submit({ type: "create_account" });
    fs.failNextSync();
    await assert.rejects(engine.submit({ type: "create_account" }), /JOURNAL_FAILED/);
    assert.ok(fatal !== null);
    await assert.rejects(engine.submit({ type: "tick" }), /JOURNAL_FAILED/);
  });

  it("refuses a command it cannot store, without consuming a seq", async () => {
    const fs = new SimulatedFileSystem(new Prng(5), { autoSync: true });
    fs.mkdirp("/data");
    const engine = await open(fs, new SimulatedClock(), { snapshotter: null });
    await assert.rejects(
      engine.submit({ type: "deposit", accountId: 1, asset: "USD", amount: 1, transferId: "x".repeat(300) }),
      /JOURNAL_COMMAND_TOO_LARGE/,
    );
    await assert.rejects(
      engine.submit({ type: "deposit", accountId: 1, asset: "USD", amount: 1, transferId: "\ud800" }),
      /JOURNAL_INVALID_COMMAND/,
    );
    const c = await engine.submit({ type: "create_account" });
    assert.equal(c.command.seq, 1);
    await engine.close();
  });

  it("keeps time monotonic across a clock step back and a restart", async () => {
    const fs = new SimulatedFileSystem(new Prng(6), { autoSync: true });
    fs.mkdirp("/data");
    const clock = new SimulatedClock(2_000_000);
    const engine = await open(fs, clock, { snapshotter: null });
    const a = await engine.submit({ type: "tick" });
    clock.set(1_000_000);
    const b = await engine.submit({ type: "tick" });
    assert.equal(b.command.time, a.command.time);
    await engine.close();
    const reopened = await open(fs, clock, { snapshotter: null });
    const c = await reopened.submit({ type: "tick" });
    assert.ok(c.command.time >= a.command.time);
    assert.equal(c.command.seq, 3);
    await reopened.close();
  });

  it("retention removes covered segments; verify then replays from the oldest snapshot kept", async () => {
    const fs = new SimulatedFileSystem(new Prng(8), { autoSync: true });
    fs.mkdirp("/data");
    const clock = new SimulatedClock();
    const engine = await open(fs, clock, { segmentBytesMax: 9_000, snapshotsRetained: 2 });
    const generator = new CommandGenerator(new Prng(9));
    const inputs = [...generator.setup(), ...Array.from({ length: 3_000 }, () => generator.next())];
    for (let i = 0; i < inputs.length; i++) {
      clock.advance(1);
      const ack = engine.submit(inputs[i]!);
      if (i % 700 === 699) {
        await ack;
        await engine.requestSnapshot();
      }
    }
    await engine.close();
    const names = fs.files().map((f) => f.slice("/data/".length));
    assert.ok(!names.includes("segment-0000000000000001.journal"), "the first segment was retired");
    assert.equal(names.filter((n) => n.startsWith("snapshot-")).length, 2);
    const report = await verifyJournal(fs, "/data", factory);
    assert.ok(report.ok, JSON.stringify(report.problems));
    assert.match(report.replayedFrom, /^snapshot-/);
    assert.equal(report.stateHash, engine.stateHash());
    assert.ok(report.snapshots.every((s) => s.matchesReplay !== false));
  });
});
