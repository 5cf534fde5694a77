/**
 * `bourse history rebuild | balance | verify` as an operator runs them (child processes of the built
 * CLI) on a data directory written by the REAL journal: the balances the CLI rebuilds from the ledger at
 * random seqs must equal the engine's own balances at those seqs.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { Command } from "../../src/engine/types.js";
import type { CommandInput } from "../../src/journal/command-codec.js";
import { DurableEngine } from "../../src/journal/durable-engine.js";
import { engineFactory } from "../../src/journal/state-machine.js";
import { SimulatedClock } from "../../src/platform/clock.js";
import { RealFileSystem } from "../../src/platform/real-file-system.js";
import type { BalanceSample } from "./helpers.js";
import { Workload, workloadConfig } from "./workload.js";

const run = promisify(execFile);
const cli = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "bourse-history-cli-"));
after(() => rmSync(root, { recursive: true, force: true }));

function bourse(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, [cli, ...args], {
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  });
}

function input(c: Command): CommandInput {
  const { seq: _seq, time: _time, ...rest } = c;
  return rest as CommandInput;
}

test("history rebuild from the journal, then balance --at-seq equals the engine's balances, and verify passes", async () => {
  const dataDir = join(root, "data");
  const markets = join(root, "markets.json");
  writeFileSync(markets, JSON.stringify(workloadConfig));
  const fs = new RealFileSystem();
  const clock = new SimulatedClock(1_700_000_000_000);
  const durable = await DurableEngine.open({
    fs,
    dir: dataDir,
    factory: engineFactory(workloadConfig),
    clock,
    log: () => {},
  });
  const w = new Workload({ seed: 4242, accounts: 8 });
  const samples: BalanceSample[] = [];
  const count = 3_000;
  let pending: Promise<unknown>[] = [];
  for (let i = 1; i <= count; i++) {
    w.step();
    const c = w.lastCommand!;
    clock.set(c.time);
    pending.push(durable.submit(input(c)));
    if (i % 311 === 0) {
      const accountId = i % 9;
      samples.push({ seq: c.seq, accountId, balances: w.engine.balances(accountId) ?? [] });
    }
    if (pending.length === 200) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
  await durable.close();

  await assert.rejects(bourse("history", "rebuild", "--data-dir", dataDir, "--markets", markets), /--yes/);
  const rebuilt = await bourse("history", "rebuild", "--yes", "--data-dir", dataDir, "--markets", markets);
  assert.match(rebuilt.stdout, new RegExp(`checkpoint seq ${count}`));

  for (const sample of samples) {
    const { stdout } = await bourse(
      "history",
      "balance",
      "--account",
      String(sample.accountId),
      "--at-seq",
      String(sample.seq),
      "--data-dir",
      dataDir,
      "--json",
    );
    const got = JSON.parse(stdout) as { balances: { asset: string; available: string; locked: string }[] };
    for (const e of sample.balances) {
      const b = got.balances.find((x) => x.asset === e.asset);
      assert.equal(
        b?.available ?? "0",
        String(e.available),
        `account ${sample.accountId} ${e.asset} at ${sample.seq}`,
      );
      assert.equal(
        b?.locked ?? "0",
        String(e.locked),
        `account ${sample.accountId} ${e.asset} at ${sample.seq}`,
      );
    }
  }
  const human = await bourse(
    "history",
    "balance",
    "--account",
    "1",
    "--data-dir",
    dataDir,
    "--markets",
    markets,
  );
  assert.match(human.stdout, /USD +available/);
  const verified = await bourse("history", "verify", "--data-dir", dataDir, "--json");
  const report = JSON.parse(verified.stdout) as { ok: boolean; accounts: number; checkpoint: number };
  assert.equal(report.ok, true);
  assert.equal(report.checkpoint, count);
  assert.equal(report.accounts, 9); // the fee account and 8 traders
  await assert.rejects(
    bourse("history", "balance", "--account", "1", "--at-seq", String(count + 1), "--data-dir", dataDir),
    /beyond/,
  );
});
