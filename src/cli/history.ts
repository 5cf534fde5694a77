/**
 * `bourse history balance | verify | rebuild | archive | restore`: the auditor's and operator's tools
 * for the long-term history (docs/history.md).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { defaultConfig, type EngineConfig, settleConfig } from "../engine/config.js";
import { formatAmount } from "../engine/decimal.js";
import type { Int } from "../engine/int.js";
import type { HistoryStore } from "../history/history-store.js";
import { createHistoryStore } from "../history/open-store.js";
import { rebuildBalance } from "../history/rebuild-balance.js";
import { defaultMarketsFile, loadMarkets } from "../node/config.js";

interface StoreOptions {
  dataDir: string;
  history?: string;
  markets?: string;
  json?: boolean;
}

function withStore(command: Command): Command {
  return command
    .option("--data-dir <dir>", "the data directory (env BOURSE_DATA_DIR; default ./data)")
    .option(
      "--history <url>",
      "history store URL: sqlite:<path> or dynamodb://… (env BOURSE_HISTORY_URL; default SQLite in the data directory)",
    )
    .option("--markets <file>", "markets configuration (env BOURSE_MARKETS; default config/markets.json)");
}

function dataDirOf(o: StoreOptions): string {
  return o.dataDir ?? process.env.BOURSE_DATA_DIR ?? "./data";
}

function historyUrlOf(o: StoreOptions): string | undefined {
  const url = o.history ?? process.env.BOURSE_HISTORY_URL;
  return url === "" ? undefined : url;
}

function marketsOf(o: StoreOptions): EngineConfig {
  const file = o.markets ?? process.env.BOURSE_MARKETS;
  if (file !== undefined && file !== "") return loadMarkets(file);
  const installed = defaultMarketsFile();
  return existsSync(installed) ? loadMarkets(installed) : defaultConfig;
}

async function openStore(o: StoreOptions): Promise<HistoryStore> {
  const store = await createHistoryStore(historyUrlOf(o), dataDirOf(o));
  await store.open();
  return store;
}

function integer(text: string, what: string): number {
  if (!/^[0-9]{1,16}$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new Error(`${what}: "${text}" is not a non-negative integer`);
  }
  return Number(text);
}

function decimal(units: Int, asset: string, precisionOf: Map<string, number>): string {
  const precision = precisionOf.get(asset);
  return precision === undefined ? String(units) : formatAmount(units, precision);
}

async function balance(o: StoreOptions & { account: string; atSeq?: string }): Promise<void> {
  const accountId = integer(o.account, "--account");
  const store = await openStore(o);
  try {
    const checkpoint = await store.checkpoint();
    const atSeq = o.atSeq === undefined ? checkpoint : integer(o.atSeq, "--at-seq");
    if (atSeq > checkpoint) {
      throw new Error(`the history holds commands up to seq ${checkpoint}; --at-seq ${atSeq} is beyond it`);
    }
    const rebuilt = await rebuildBalance(store, accountId, atSeq);
    if (o.json) {
      console.log(
        JSON.stringify({
          accountId,
          atSeq,
          checkpoint,
          balances: rebuilt.map((b) => ({
            asset: b.asset,
            available: String(b.available),
            locked: String(b.locked),
            lastSeq: b.lastSeq,
            entries: b.entries,
            totals: Object.fromEntries(Object.entries(b.totals).map(([k, v]) => [k, String(v)])),
          })),
        }),
      );
      return;
    }
    const precisionOf = new Map(settleConfig(marketsOf(o)).assets.map((a) => [a.asset, a.precision]));
    console.log(
      `account ${accountId} at seq ${atSeq} (history checkpoint ${checkpoint}), rebuilt from its ledger:`,
    );
    if (rebuilt.length === 0) console.log("  no balance movement");
    for (const b of rebuilt) {
      console.log(
        `  ${b.asset.padEnd(6)} available ${decimal(b.available, b.asset, precisionOf).padStart(28)}  ` +
          `locked ${decimal(b.locked, b.asset, precisionOf).padStart(28)}  (${b.entries} entries, last at seq ${b.lastSeq})`,
      );
    }
  } finally {
    await store.close();
  }
}

async function verify(o: StoreOptions): Promise<void> {
  const store = await openStore(o);
  let accounts = 0;
  let entries = 0;
  const problems: string[] = [];
  try {
    const checkpoint = await store.checkpoint();
    let after = -1;
    for (;;) {
      const ids = await store.accounts(after, 500);
      if (ids.length === 0) break;
      for (const accountId of ids) {
        accounts++;
        try {
          const rebuilt = await rebuildBalance(store, accountId, checkpoint);
          const stored = new Map((await store.balances(accountId)).map((b) => [b.asset, b]));
          for (const b of rebuilt) {
            entries += b.entries;
            const s = stored.get(b.asset);
            if (s === undefined || s.available !== b.available || s.locked !== b.locked) {
              problems.push(
                `account ${accountId} ${b.asset}: ledger sums to ${String(b.available)}/${String(b.locked)}, ` +
                  `balance table says ${s ? `${String(s.available)}/${String(s.locked)}` : "nothing"}`,
              );
            }
          }
        } catch (error) {
          problems.push(`account ${accountId}: ${(error as Error).message}`);
        }
      }
      after = ids[ids.length - 1]!;
    }
    if (o.json)
      console.log(JSON.stringify({ ok: problems.length === 0, checkpoint, accounts, entries, problems }));
    else {
      for (const p of problems) console.log(`problem: ${p}`);
      console.log(
        `${problems.length === 0 ? "ok" : "FAILED"}: checkpoint seq ${checkpoint}, ${accounts} accounts, ` +
          `${entries} ledger entries, every running balance matches the engine's reported one`,
      );
    }
    if (problems.length > 0) process.exitCode = 1;
  } finally {
    await store.close();
  }
}

async function rebuild(o: StoreOptions & { yes?: boolean }): Promise<void> {
  if (!o.yes) {
    throw new Error(
      "rebuild empties the history store and refills it from the journal; run it again with --yes",
    );
  }
  const dataDir = dataDirOf(o);
  const config = marketsOf(o);
  const [
    { acquireLock },
    { recover },
    { engineFactory },
    { RealFileSystem },
    { JournalEventSource },
    { HistoryWriter },
  ] = await Promise.all([
    import("../journal/data-dir-lock.js"),
    import("../journal/recovery.js"),
    import("../journal/state-machine.js"),
    import("../platform/real-file-system.js"),
    import("../history/journal-source.js"),
    import("../history/writer.js"),
  ]);
  if (!existsSync(dataDir)) throw new Error(`no data directory at ${dataDir}`);
  // No node may write this history meanwhile: take the data directory's lock (refused while one runs).
  const release = acquireLock(dataDir);
  const store = await openStore(o);
  try {
    const tail = await recover({
      fs: new RealFileSystem(),
      dir: dataDir,
      factory: engineFactory(config),
      mode: "readOnly",
      warn: (m) => console.error(m),
    });
    const lastSeq = tail.tail.lastSeq;
    await store.reset();
    const started = performance.now();
    let shown = 0;
    const writer = new HistoryWriter({
      store,
      config,
      source: new JournalEventSource({ dir: dataDir, config }),
      log: () => {},
      onWritten: (b) => {
        if (process.stderr.isTTY && b.lastSeq - shown >= 100_000) {
          shown = b.lastSeq;
          process.stderr.write(`\r  seq ${b.lastSeq} / ${lastSeq}`);
        }
      },
    });
    await writer.start(lastSeq);
    await writer.drain();
    await writer.close();
    if (shown > 0) process.stderr.write("\n");
    const m = writer.metrics();
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `rebuilt: ${m.commandsWritten} commands, ${m.tradesWritten} trades, checkpoint seq ${m.checkpointSeq} ` +
        `in ${seconds.toFixed(1)} s`,
    );
  } finally {
    await store.close();
    release();
  }
}

async function sqliteStoreFor(o: StoreOptions, what: string) {
  const store = await openStore(o);
  const { SqliteHistoryStore } = await import("../history/sqlite-store.js");
  if (!(store instanceof SqliteHistoryStore)) {
    await store.close();
    throw new Error(
      `${what} works on the embedded SQLite history; on DynamoDB, retention is TTL (ttlDays=… in the history URL) ` +
        "and long-term copies are DynamoDB's export to S3 (docs/history.md)",
    );
  }
  return store;
}

function archiveDirOf(o: StoreOptions & { out?: string; from?: string }): string {
  return o.out ?? o.from ?? join(dataDirOf(o), "history", "archive");
}

async function archive(o: StoreOptions & { before: string; out?: string }): Promise<void> {
  const { archiveBefore, parseDay } = await import("../history/archive.js");
  const before = parseDay(o.before);
  const store = await sqliteStoreFor(o, "archive");
  try {
    const dir = archiveDirOf(o);
    const result = await archiveBefore(store, before, dir);
    if (o.json) console.log(JSON.stringify({ directory: dir, ...result }));
    else {
      for (const p of result.periods) {
        const rows = p.files.reduce((n, f) => n + f.rows, 0);
        const bytes = p.files.reduce((n, f) => n + f.bytes, 0);
        console.log(
          `archived ${p.period}: ${p.files.length} files, ${rows} rows, ${bytes} bytes (verified) in ${join(dir, p.period)}`,
        );
      }
      if (result.periods.length === 0) console.log("nothing to archive");
      if (result.openFromTime !== null) {
        console.log(
          `days from ${new Date(result.openFromTime).toISOString().slice(0, 10)} on are not closed yet (the history has not passed their end)`,
        );
      }
    }
  } finally {
    await store.close();
  }
}

async function restore(o: StoreOptions & { period?: string; all?: boolean; from?: string }): Promise<void> {
  const { archivedPeriods, restorePeriod, parseDay } = await import("../history/archive.js");
  if ((o.period === undefined) === (o.all !== true)) throw new Error("give --period <YYYY-MM-DD> or --all");
  const store = await sqliteStoreFor(o, "restore");
  try {
    const dir = archiveDirOf(o);
    let periods: string[];
    if (o.all)
      periods = archivedPeriods(store)
        .filter((p) => p.state === "archived")
        .map((p) => p.period);
    else {
      parseDay(o.period!);
      periods = [o.period!];
    }
    for (const period of periods) {
      const known = archivedPeriods(store).find((p) => p.period === period);
      const r = await restorePeriod(store, known?.directory ?? join(dir, period));
      console.log(
        r.rows === 0
          ? `${period}: already restored`
          : `restored ${period}: ${r.rows} rows (checksums verified)`,
      );
    }
    if (periods.length === 0) console.log("nothing archived");
  } finally {
    await store.close();
  }
}

export function registerHistoryCommands(program: Command): void {
  const history = program
    .command("history")
    .description(
      "the long-term trade history: balances rebuilt from the ledger, verify, rebuild, archive (docs/history.md)",
    );
  withStore(
    history
      .command("balance")
      .description(
        "rebuild an account's balances at a seq from nothing but its ledger (every movement summed from zero)",
      )
      .requiredOption("--account <id>", "account id")
      .option("--at-seq <seq>", "journal sequence number (default: the history's checkpoint)")
      .option("--json", "machine-readable output (amounts as integer strings in the asset's smallest unit)"),
  ).action(balance);
  withStore(
    history
      .command("verify")
      .description(
        "rebuild every account's balances from its ledger and check them against the stored balances",
      )
      .option("--json", "machine-readable output"),
  ).action(verify);
  withStore(
    history
      .command("rebuild")
      .description(
        "empty the history store and refill it from the journal and snapshots (no node may be running)",
      )
      .option("--yes", "really empty and refill it"),
  ).action(rebuild);
  withStore(
    history
      .command("archive")
      .description(
        "move closed days before a date to gzip JSON-lines files (per day and symbol, with a SHA-256 manifest), verify them, then remove them from the store (SQLite; DynamoDB uses TTL)",
      )
      .requiredOption("--before <date>", "archive the closed days before this UTC date (YYYY-MM-DD)")
      .option("--out <dir>", "archive directory (default <data-dir>/history/archive)")
      .option("--json", "machine-readable output"),
  ).action(archive);
  withStore(
    history
      .command("restore")
      .description("bring archived days back into the store (checksums verified first)")
      .option("--period <date>", "the archived day (YYYY-MM-DD)")
      .option("--all", "every archived day")
      .option(
        "--from <dir>",
        "archive directory (default: where the day was archived, else <data-dir>/history/archive)",
      ),
  ).action(restore);
}
