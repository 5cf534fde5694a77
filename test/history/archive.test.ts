/**
 * Archive round trip on the embedded store: closed days leave SQLite for gzip JSON-lines files with a
 * checksum manifest (through the CLI, as an operator would), balances still rebuild from the opening
 * balances, a damaged file is refused, and restoring brings back exactly the same content.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { dayOf, verifyPeriod } from "../../src/history/archive.js";
import type { HistoryStore } from "../../src/history/history-store.js";
import { rebuildBalance } from "../../src/history/rebuild-balance.js";
import { SqliteHistoryStore } from "../../src/history/sqlite-store.js";
import { all, generate, workloadConfig } from "./helpers.js";
import { writeAll } from "./suite.js";

const run = promisify(execFile);
const cli = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const root = mkdtempSync(join(tmpdir(), "bourse-history-archive-"));
after(() => rmSync(root, { recursive: true, force: true }));
const symbols = workloadConfig.markets.map((m) => m.symbol);

function bourse(...args: string[]): Promise<{ stdout: string }> {
  return run(process.execPath, [cli, ...args]);
}

/** Everything the store answers about the history, for comparison before and after. */
async function content(store: HistoryStore, accounts: number, orderIds: number[]): Promise<unknown> {
  const out: Record<string, unknown> = {};
  for (const symbol of symbols)
    out[`trades ${symbol}`] = await all((c) =>
      store.trades({ symbol, limit: 250, ...(c ? { cursor: c } : {}) }),
    );
  for (let a = 0; a <= accounts; a++) {
    out[`fills ${a}`] = await all((c) =>
      store.fills({ accountId: a, limit: 250, ...(c ? { cursor: c } : {}) }),
    );
    out[`ledger ${a}`] = await all((c) =>
      store.ledger({ accountId: a, ascending: true, limit: 250, ...(c ? { cursor: c } : {}) }),
    );
  }
  for (const id of orderIds) {
    out[`order ${id}`] = await store.order(id);
    out[`order events ${id}`] = await all((c) =>
      store.orderEvents({ orderId: id, limit: 50, ...(c ? { cursor: c } : {}) }),
    );
  }
  return out;
}

test("archive closed days to verified gzip files, rebuild from opening balances, restore: identical content", async () => {
  const g = generate(777, 4_000);
  const dataDir = join(root, "data");
  const path = join(dataDir, "history", "history.sqlite");
  const store = new SqliteHistoryStore(path);
  await store.open();
  await writeAll(store, g);
  const orderIds = [...g.finalOrders.keys()].filter((_, i) => i % 25 === 0);
  const before = await content(store, g.accounts, orderIds);
  // The workload moves a day forward every third of its commands: archive the first two days.
  const firstDay = dayOf(g.commands[0]!.time);
  const lastDay = dayOf(g.commands[Math.floor(g.commands.length * 0.7)]!.time);
  assert.notEqual(firstDay, lastDay, "the workload spans several days");
  await store.close();

  // Through the CLI, as an operator would.
  const archived = JSON.parse(
    (await bourse("history", "archive", "--before", lastDay, "--data-dir", dataDir, "--json")).stdout,
  ) as {
    directory: string;
    periods: { period: string; files: { name: string; rows: number }[] }[];
  };
  assert.ok(archived.periods.length >= 2, `several days archived (${archived.periods.map((p) => p.period)})`);
  assert.equal(archived.periods[0]!.period, firstDay);
  const dir = archived.directory;
  const names = readdirSync(join(dir, firstDay)).sort();
  assert.ok(names.includes("manifest.json") && names.includes("ledger.jsonl.gz"));
  assert.ok(
    names.some((n) => /^trades-[A-Z]+-[A-Z]+\.jsonl\.gz$/.test(n)) &&
      names.some((n) => n.startsWith("orders-")),
  );
  const manifest = JSON.parse(readFileSync(join(dir, firstDay, "manifest.json"), "utf8")) as {
    files: { sha256: string }[];
  };
  assert.ok(manifest.files.every((f) => /^[0-9a-f]{64}$/.test(f.sha256)));

  await store.open();
  const archivedDays = new Set(archived.periods.map((p) => p.period));
  const remaining = await all((c) =>
    store.trades({ symbol: "BTC-USD", limit: 500, ...(c ? { cursor: c } : {}) }),
  );
  assert.ok(
    remaining.length > 0 && remaining.every((t) => !archivedDays.has(dayOf(t.time))),
    "archived trades left the store",
  );
  // Balances still rebuild (from the opening balances) and equal the engine's; before the archive, refused.
  const last = g.samples.at(-1)!;
  const rebuilt = await rebuildBalance(store, last.accountId, last.seq);
  for (const e of last.balances)
    assert.equal(rebuilt.find((b) => b.asset === e.asset)?.available ?? 0, e.available);
  const early = g.samples.find(
    (s) => archivedDays.has(dayOf(g.commands[s.seq - 1]!.time)) && s.accountId !== 0,
  )!;
  await assert.rejects(rebuildBalance(store, early.accountId, early.seq), /archived/);
  // A damaged copy is refused.
  const damaged = join(root, "damaged", firstDay);
  mkdirSync(damaged, { recursive: true });
  for (const n of names) copyFileSync(join(dir, firstDay, n), join(damaged, n));
  const ledgerFile = join(damaged, "ledger.jsonl.gz");
  const bytes = readFileSync(ledgerFile);
  bytes[bytes.length >> 1] ^= 0xff;
  writeFileSync(ledgerFile, bytes);
  await assert.rejects(verifyPeriod(damaged), /does not match its manifest/);
  await store.close();

  const restored = await bourse("history", "restore", "--all", "--data-dir", dataDir);
  assert.match(restored.stdout, new RegExp(`restored ${firstDay}`));
  await store.open();
  assert.deepEqual(await content(store, g.accounts, orderIds), before);
  const again = await rebuildBalance(store, early.accountId, early.seq);
  for (const e of early.balances)
    assert.equal(again.find((b) => b.asset === e.asset)?.available ?? 0, e.available);
  // Restoring twice changes nothing.
  assert.match(
    (await bourse("history", "restore", "--period", firstDay, "--data-dir", dataDir)).stdout,
    /already restored/,
  );
  await store.close();
});
