/**
 * The journal's pipeline tests, written against the Journal port only, so that every backend runs
 * the same ones: the file journal (test/journal/port.test.ts) and the Redis journal
 * (test/cluster/redis-journal.test.ts). A backend supplies a fresh journal on the same log for each
 * (re)open; the suite never touches files or keys itself.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import type { Command } from "../../src/engine/types.js";
import { CommandGenerator } from "../../src/journal/command-generator.js";
import { DurableEngine } from "../../src/journal/durable-engine.js";
import type { Journal } from "../../src/journal/journal.js";
import { SimulatedClock } from "../../src/platform/clock.js";
import { Prng } from "../../src/platform/prng.js";
import { cleanReplayHash, factory, quiet, submitInSeqOrder } from "./helpers.js";

export interface PortBackend {
  /** A journal on a new, empty log. */
  fresh(): Promise<void>;
  /** A journal on the current log (a new process opening it). */
  journal(bounds?: { batchCommandsMax?: number }): Journal;
}

function open(
  backend: PortBackend,
  clock: SimulatedClock,
  batchCommandsMax?: number,
): Promise<DurableEngine> {
  const journal = backend.journal(batchCommandsMax === undefined ? {} : { batchCommandsMax });
  return DurableEngine.open({ journal, factory, clock, log: quiet });
}

export function journalPortSuite(backend: PortBackend): void {
  it("acknowledges commands once durable, in seq order, and recovers exactly them after a close", async () => {
    await backend.fresh();
    const clock = new SimulatedClock();
    const engine = await open(backend, clock);
    const committed = await submitInSeqOrder(engine, clock, 2, 2_000);
    const hash = engine.stateHash();
    await engine.close();
    const reopened = await open(backend, clock);
    assert.equal(reopened.lastSeq, committed.length);
    assert.equal(reopened.stateHash(), hash);
    assert.equal(cleanReplayHash(committed.map((c) => c.command as Command)), hash);
    await reopened.close();
  });

  it("reads back exactly the committed commands from any seq", async () => {
    await backend.fresh();
    const clock = new SimulatedClock();
    const engine = await open(backend, clock, 7);
    const generator = new CommandGenerator(new Prng(3));
    const inputs = [...generator.setup(), ...Array.from({ length: 300 }, () => generator.next())];
    const committed = await Promise.all(inputs.map((input) => engine.submit(input)));
    await engine.close();
    const journal = backend.journal();
    try {
      await journal.recover({ factory, warn: quiet });
      for (const from of [1, 2, 8, 150, committed.length]) {
        const read: Command[] = [];
        const end = await journal.read(from, (cmd) => read.push(cmd), from + 40);
        const expected = committed.map((c) => c.command).filter((c) => c.seq >= from && c.seq <= from + 40);
        assert.deepEqual(read, expected, `read from seq ${from}`);
        assert.equal(end.lastSeq, Math.min(from + 40, committed.length));
      }
    } finally {
      await journal.release();
    }
  });

  it("refuses a command it cannot store, without consuming a seq", async () => {
    await backend.fresh();
    const engine = await open(backend, new SimulatedClock());
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
    await backend.fresh();
    const clock = new SimulatedClock(2_000_000);
    const engine = await open(backend, clock);
    const a = await engine.submit({ type: "tick" });
    clock.set(1_000_000);
    const b = await engine.submit({ type: "tick" });
    assert.equal(b.command.time, a.command.time);
    await engine.close();
    const reopened = await open(backend, clock);
    const c = await reopened.submit({ type: "tick" });
    assert.ok(c.command.time >= a.command.time);
    assert.equal(c.command.seq, 3);
    await reopened.close();
  });
}
