/**
 * Corruption: ≥ 1,000 random bit flips and truncations in segments, snapshots and the seal. Every
 * one must be reported by `journal verify`, and recovery must either stop with a
 * JournalCorruptionError or rebuild exactly the undamaged state (a damaged snapshot is skipped for
 * an older one, loudly). Nothing damaged is ever accepted silently.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CommandGenerator } from "../../src/journal/command-generator.js";
import { DurableEngine } from "../../src/journal/durable-engine.js";
import { JournalCorruptionError } from "../../src/journal/errors.js";
import { recover } from "../../src/journal/recovery.js";
import { InlineSnapshotter } from "../../src/journal/snapshotter.js";
import { verifyJournal } from "../../src/journal/verify.js";
import { SimulatedClock } from "../../src/platform/clock.js";
import { Prng } from "../../src/platform/prng.js";
import { SimulatedFileSystem } from "../../src/platform/simulated-file-system.js";
import { factory, quiet } from "./helpers.js";

const dir = "/data";

/** A journal of a few segments and snapshots; sealed (clean shutdown) or left as after a crash. */
async function buildJournal(sealed: boolean): Promise<{ files: Map<string, Uint8Array>; hash: string }> {
  const fs = new SimulatedFileSystem(new Prng(7), { autoSync: true });
  fs.mkdirp(dir);
  const clock = new SimulatedClock();
  const engine = await DurableEngine.open({
    fs,
    dir,
    factory,
    clock,
    log: quiet,
    snapshotter: (r) => new InlineSnapshotter({ fs, dir, factory, ...r }),
    snapshotsRetained: 2,
    segmentBytesMax: 12_000,
    batchBytesMax: 4_096,
    batchCommandsMax: 16,
  });
  const generator = new CommandGenerator(new Prng(8));
  const inputs = [...generator.setup(), ...Array.from({ length: 1_500 }, () => generator.next())];
  const acks: Promise<unknown>[] = [];
  for (let i = 0; i < inputs.length; i++) {
    clock.advance(3);
    acks.push(engine.submit(inputs[i]!));
    if (i % 100 === 99) await new Promise((r) => setImmediate(r));
    if (i === 700 || i === 1_100) await engine.requestSnapshot();
  }
  await Promise.all(acks);
  const hash = engine.stateHash();
  if (sealed) await engine.close();
  else engine.abandon();
  const files = new Map<string, Uint8Array>();
  for (const path of fs.files()) files.set(path, fs.readFile(path));
  return { files, hash };
}

function restore(files: Map<string, Uint8Array>): SimulatedFileSystem {
  const fs = new SimulatedFileSystem(new Prng(9), { autoSync: true });
  fs.mkdirp(dir);
  for (const [path, bytes] of files) fs.writeFile(path, bytes);
  fs.settle();
  return fs;
}

async function damageAndCheck(
  files: Map<string, Uint8Array>,
  hash: string,
  random: Prng,
  truncate: boolean,
): Promise<string> {
  const fs = restore(files);
  const targets = [...files.keys()];
  const path = random.pick(targets);
  const size = files.get(path)!.length;
  let what: string;
  if (truncate) {
    const cut = random.int(size);
    fs.corruptTruncate(path, cut);
    what = `${path} truncated to ${cut} of ${size} bytes`;
  } else {
    const bit = random.int(size * 8);
    fs.flipBit(path, bit);
    what = `${path} bit ${bit} flipped`;
  }
  const report = await verifyJournal(fs, dir, factory);
  assert.ok(!report.ok && report.problems.length > 0, `verify missed it: ${what}`);
  try {
    const result = await recover({ fs, dir, factory, mode: "start" });
    assert.equal(
      result.machine.stateHash(),
      hash,
      `recovery accepted damage and built another state: ${what}`,
    );
    return "recovered-intact";
  } catch (error) {
    assert.ok(
      error instanceof JournalCorruptionError,
      `recovery failed without naming the damage: ${what}: ${error}`,
    );
    assert.match(error.message, /journal corruption in \S+ at byte offset -?\d+/);
    return "stopped";
  }
}

describe("journal corruption", () => {
  it("detects every one of 1,200 random bit flips and truncations (clean-shutdown journal)", async () => {
    const { files, hash } = await buildJournal(true);
    assert.ok([...files.keys()].filter((f) => f.includes("segment-")).length >= 3, "several segments");
    assert.ok([...files.keys()].filter((f) => f.includes("snapshot-")).length === 2, "two snapshots");
    const random = new Prng(10);
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 1_200; i++) {
      const outcome = await damageAndCheck(files, hash, random, i % 3 === 2);
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    console.log(`corruption (sealed): ${JSON.stringify(Object.fromEntries(outcomes))}`);
  });

  it("detects every one of 400 random bit flips in a journal left by a crash", async () => {
    const { files, hash } = await buildJournal(false);
    const random = new Prng(11);
    for (let i = 0; i < 400; i++) await damageAndCheck(files, hash, random, false);
  });

  it("repair truncates at the damage, and the journal starts again", async () => {
    const { files } = await buildJournal(true);
    const fs = restore(files);
    const segment = [...files.keys()].filter((f) => f.includes("segment-")).at(-1)!;
    fs.flipBit(segment, 8 * 200);
    await assert.rejects(recover({ fs, dir, factory, mode: "start" }), JournalCorruptionError);
    const repaired = await recover({ fs, dir, factory, mode: "repair", warn: quiet });
    assert.ok(repaired.repaired.length > 0);
    const again = await recover({ fs, dir, factory, mode: "start" });
    assert.equal(again.tail.lastSeq, repaired.tail.lastSeq);
    assert.ok((await verifyJournal(fs, dir, factory)).ok);
  });

  it("truncates a torn tail after a crash, and says so", async () => {
    const { files, hash } = await buildJournal(false);
    const fs = restore(files);
    const segment = [...files.keys()].filter((f) => f.includes("segment-")).at(-1)!;
    const size = files.get(segment)!.length;
    fs.corruptWrite(segment, files.get(segment)!.subarray(0, size - 5));
    const warnings: string[] = [];
    const result = await recover({ fs, dir, factory, mode: "start", warn: (m) => warnings.push(m) });
    assert.ok(result.torn !== null);
    assert.notEqual(result.machine.stateHash(), hash);
    assert.match(warnings.join("\n"), /torn tail in segment-\d+\.journal at offset \d+/);
    assert.ok(fs.size(`${dir}/${segment.split("/").at(-1)}`) < size - 5);
  });
});
