import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Command } from "../../src/engine/types.js";
import { CommandDecoder, CommandEncoder } from "../../src/journal/command-codec.js";
import { CommandGenerator } from "../../src/journal/command-generator.js";
import { crc32c } from "../../src/journal/crc32c.js";
import {
  decodeSegmentHeader,
  encodeSegmentHeader,
  scanRecords,
  sealRecord,
} from "../../src/journal/format.js";
import { recordHeaderBytes } from "../../src/journal/journal-limits.js";
import { Sequencer } from "../../src/journal/sequencer.js";
import { SimulatedClock } from "../../src/platform/clock.js";
import { Prng } from "../../src/platform/prng.js";
import { RealFileSystem } from "../../src/platform/real-file-system.js";
import { SimulatedFileSystem } from "../../src/platform/simulated-file-system.js";
import { tempDir } from "./helpers.js";

describe("crc32c", () => {
  it("matches the standard check value and is incremental", () => {
    const bytes = new TextEncoder().encode("123456789");
    assert.equal(crc32c(bytes), 0xe3069283);
    assert.equal(crc32c(bytes, 4, 9, crc32c(bytes, 0, 4)), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
  });
});

describe("command codec", () => {
  it("round-trips every generated command exactly, bigints and odd strings included", () => {
    const generator = new CommandGenerator(new Prng(1));
    const encoder = new CommandEncoder();
    const decoder = new CommandDecoder();
    const bytes = new Uint8Array(2_048);
    const view = new DataView(bytes.buffer);
    const inputs = [
      ...generator.setup(),
      ...Array.from({ length: 5_000 }, () => generator.next()),
      { type: "deposit", accountId: -0, asset: "ÉTH", amount: -(2n ** 200n), transferId: "日本語 🚀" },
      { type: "create_account", name: "Zoë", apiKey: "k_123", sealedSecret: "v1.abc/+=" },
      { type: "create_account", apiKey: "" },
      { type: "create_account", name: "x".repeat(64), sealedSecret: "s" },
      { type: "amend", accountId: 1.5, orderId: Number.NaN, quantity: Number.MAX_VALUE, price: -1 },
    ] as const;
    for (const [i, input] of inputs.entries()) {
      const end = encoder.encode(input, bytes, view, 10, bytes.length);
      const cmd = decoder.decode(bytes, view, 10, end, i + 1, 1_000 + i);
      assert.deepEqual(cmd, { ...input, seq: i + 1, time: 1_000 + i } as Command);
    }
  });

  it("refuses what it cannot store exactly", () => {
    const encoder = new CommandEncoder();
    const bytes = new Uint8Array(2_048);
    const view = new DataView(bytes.buffer);
    const place = { type: "place", side: "up" } as unknown as Command;
    assert.throws(() => encoder.encode(place, bytes, view, 0, bytes.length), /JOURNAL_INVALID_COMMAND/);
  });
});

describe("record format", () => {
  it("chains records, and finds every kind of damage", () => {
    const bytes = new Uint8Array(4_096);
    const view = new DataView(bytes.buffer);
    const encoder = new CommandEncoder();
    let at = 0;
    let chain = 0;
    for (let seq = 1; seq <= 10; seq++) {
      const end = encoder.encode({ type: "tick" }, bytes, view, at + recordHeaderBytes, bytes.length);
      chain = sealRecord(bytes, view, at, end, seq, 100 + seq, chain);
      at = end;
    }
    const journal = bytes.slice(0, at);
    const scan = (b: Uint8Array) => scanRecords(b, 0, { nextSeq: 1, chain: 0, time: 0 }, null);
    assert.deepEqual(scan(journal), { kind: "end", offset: at });
    assert.equal(scan(journal.subarray(0, at - 3)).kind, "torn");
    const flipped = journal.slice();
    flipped[at - 1]! ^= 1;
    assert.equal(scan(flipped).kind, "corrupt");
    const header = encodeSegmentHeader({ firstSeq: 42, prevChain: 7, createdMs: 1 });
    assert.deepEqual(decodeSegmentHeader(header), { firstSeq: 42, prevChain: 7, createdMs: 1 });
    header[20]! ^= 4;
    assert.equal(typeof decodeSegmentHeader(header), "string");
  });
});

describe("sequencer", () => {
  it("never goes backwards", () => {
    const clock = new SimulatedClock(1_000);
    const s = new Sequencer(clock, 10, 5_000);
    assert.equal(s.peekSeq(), 11);
    assert.equal(s.peekTime(), 5_000);
    clock.set(6_000.7);
    assert.equal(s.peekTime(), 6_000);
    s.advance(11, 6_000);
    assert.throws(() => s.advance(13, 6_000));
    assert.throws(() => s.advance(12, 5_999));
  });
});

describe("simulated file system", () => {
  it("loses unsynced bytes and unsynced names at a crash, keeps synced ones", async () => {
    const fs = new SimulatedFileSystem(new Prng(1), { autoSync: true });
    fs.mkdirp("/d");
    const f = fs.openAppend("/d/a", true);
    f.append(new Uint8Array([1, 2, 3]));
    await f.sync();
    await fs.syncDir("/d");
    fs.autoSync = false;
    f.append(new Uint8Array(1_000).fill(9));
    fs.writeFile("/d/b", new Uint8Array([5]));
    for (let i = 0; i < 20; i++) {
      const copy = fs.readFile("/d/a");
      assert.ok(copy.length >= 3);
    }
    fs.crash();
    const a = fs.readFile("/d/a");
    assert.deepEqual([...a.subarray(0, 3)], [1, 2, 3]);
    assert.ok(
      a.subarray(3).every((b) => b === 9),
      "a torn write keeps a prefix of what was written",
    );
  });

  it("tears at random points across seeds", () => {
    const sizes = new Set<number>();
    for (let seed = 0; seed < 50; seed++) {
      const fs = new SimulatedFileSystem(new Prng(seed));
      fs.mkdirp("/d");
      fs.settle();
      const f = fs.openAppend("/d/a", true);
      fs.settle();
      f.append(new Uint8Array(100).fill(1));
      fs.crash();
      sizes.add(fs.readFile("/d/a").length);
    }
    assert.ok(sizes.size > 5 && sizes.has(0));
  });
});

describe("real file system", () => {
  it("appends, syncs, renames and lists", async () => {
    const dir = tempDir("fs");
    const fs = new RealFileSystem();
    const f = fs.openAppend(`${dir}/x`, true);
    f.append(new Uint8Array([1, 2]));
    await f.sync();
    f.close();
    fs.rename(`${dir}/x`, `${dir}/y`);
    await fs.syncDir(dir);
    assert.deepEqual(fs.list(dir), ["y"]);
    assert.deepEqual([...fs.read(`${dir}/y`, 1, 10)], [2]);
    fs.truncate(`${dir}/y`, 1);
    assert.equal(fs.size(`${dir}/y`), 1);
  });
});
