/**
 * The one wiring module: a Bourse node assembled in the order of the architecture diagram
 * (/work/shared/spec/architecture.md, "The path of an order"):
 *
 *   client ─REST/WS─▶ gateway (auth, validation, rate limit)          src/api/
 *                        │ command
 *                        ▼
 *                   sequencer → journal (group commit) ∥ engine       src/journal/ DurableEngine
 *                        │
 *                        ▼ output gate: only durable batches leave
 *        ┌───────────────┼──────────────────────────┐
 *        ▼               ▼                          ▼
 *   client replies   durable views + market data   history writer → history store
 *   (order acks)     (WS fan-out)                 (async, batched; GET /v1/fills, admin ledger)
 *
 * The dashboard (src/web-server/) is served by the same HTTP server, same origin as the API.
 * Everything runs on the main thread except fdatasync (libuv's pool) and snapshots (a worker):
 * docs/api.md ("Two cores") gives the measurement behind that choice.
 */
import { readFileSync } from "node:fs";
import pino, { type Logger } from "pino";
import { Authenticator, parseMasterKey } from "../api/auth.js";
import { Gateway } from "../api/gateway.js";
import { ApiMetrics } from "../api/metrics.js";
import { BalanceView, OrderStore } from "../api/order-store.js";
import { RequestParser } from "../api/parse.js";
import { RateLimits } from "../api/rate-limit.js";
import { ApiServer } from "../api/server.js";
import { defaultConfig, type EngineConfig, type SettledConfig, settleConfig } from "../engine/config.js";
import type { HistoryStore } from "../history/history-store.js";
import { JournalEventSource } from "../history/journal-source.js";
import { createHistoryStore } from "../history/open-store.js";
import { HistoryWriter } from "../history/writer.js";
import { MarketData } from "../marketdata/marketdata.js";
import { defaultDashboardRoot, registerDashboard } from "../web-server/dashboard.js";
import { defaultMarketsFile, loadMarkets, type NodeConfig } from "./config.js";
import { type Demo, startDemo } from "./demo.js";
import { JournalPipeline } from "./journal-pipeline.js";
import type { CommandPipeline } from "./pipeline.js";
import { loadAdminToken, loadMasterKey } from "./secrets.js";

export const version = "0.1.0";

export interface BourseNode {
  readonly url: string;
  readonly port: number;
  readonly adminToken: string;
  readonly pipeline: CommandPipeline;
  readonly gateway: Gateway;
  readonly api: ApiServer;
  /** The history writer (durable events → history store) and its store. */
  readonly history: HistoryWriter;
  readonly historyStore: HistoryStore;
  /** Stop accepting, drain in-flight commands, snapshot, release the data directory. */
  close(): Promise<void>;
}

export interface StartOptions {
  /** Where log lines and the one-time admin token go (default: pino to stdout). */
  logger?: Logger;
  /** Called when the journal fails (fail-stop). Default: log and exit(1). */
  onFatal?: (error: Error) => void;
}

function marketsOf(config: NodeConfig, log: Logger): EngineConfig {
  if (config.marketsFile !== null) return loadMarkets(config.marketsFile);
  const file = defaultMarketsFile();
  try {
    return loadMarkets(file);
  } catch {
    log.warn(`no readable ${file}: using the built-in markets BTC-USD, ETH-USD, ETH-BTC`);
    return defaultConfig;
  }
}

export async function startBourse(config: NodeConfig, options: StartOptions = {}): Promise<BourseNode> {
  const log = options.logger ?? pino({ level: config.logLevel, base: null });

  // ── configuration, checked before anything is opened
  const markets = marketsOf(config, log);
  const settled = settleConfig(markets);
  if (config.masterKey !== null) parseMasterKey(config.masterKey);
  const tls =
    config.tls === null
      ? undefined
      : { cert: readFileSync(config.tls.certPath), key: readFileSync(config.tls.keyPath) };

  // ── sequencer → journal ∥ engine → output gate: takes the data directory's LOCK, then recovers
  const onFatal =
    options.onFatal ??
    ((error: Error) => {
      log.fatal(`journal failed, stopping (restart recovers every acknowledged command): ${error.message}`);
      process.exit(1);
    });
  const pipeline = await JournalPipeline.open({
    dataDir: config.dataDir,
    config: markets,
    log: (m) => log.info(m),
    onFatal,
  });
  let history: { writer: HistoryWriter; store: HistoryStore } | undefined;
  try {
    history = await startHistory(config, log, markets, pipeline);
    return await assemble(config, log, settled, tls, pipeline, history);
  } catch (error) {
    // Nothing was answered yet: release the journal and its LOCK so that a retry can open it.
    await pipeline.close().catch(() => {});
    if (history !== undefined) {
      await history.writer.close().catch(() => {});
      await history.store.close().catch(() => {});
    }
    throw error;
  }
}

/**
 * The history writer (docs/history.md, "Wiring", option A): in process, fed by the output gate, and
 * reading back from the journal whatever it did not store (after a restart, or when its queue
 * overflowed). Started before the API listens, so that every command after the recovered journal
 * reaches it live. A failure of the history does not stop matching: it is logged, shown in /metrics
 * (bourse_history_failed, bourse_history_lag_ms) and caught up from the journal at the next start.
 */
async function startHistory(
  config: NodeConfig,
  log: Logger,
  markets: EngineConfig,
  pipeline: JournalPipeline,
): Promise<{ writer: HistoryWriter; store: HistoryStore }> {
  const store = await createHistoryStore(config.historyUrl ?? undefined, config.dataDir);
  const writer = new HistoryWriter({
    store,
    config: markets,
    source: new JournalEventSource({ dir: config.dataDir, config: markets, warn: (m) => log.warn(m) }),
    log: (m) => log.info(m),
    onFatal: (error) =>
      log.error(
        `history writer stopped (matching goes on; restart to catch up from the journal): ${error.message}`,
      ),
  });
  try {
    await writer.start(pipeline.durableSeq);
  } catch (error) {
    await store.close().catch(() => {});
    throw error;
  }
  pipeline.onCommit((batch) => writer.enqueueCommitted(batch));
  log.info(
    `history: ${store.backend} store at checkpoint ${writer.lastCheckpoint()}, journal at ${pipeline.durableSeq}`,
  );
  return { writer, store };
}

/** Everything above the command path, once it is recovered and this process owns the data directory. */
async function assemble(
  config: NodeConfig,
  log: Logger,
  settled: SettledConfig,
  tls: { cert: Buffer; key: Buffer } | undefined,
  pipeline: CommandPipeline,
  history: { writer: HistoryWriter; store: HistoryStore },
): Promise<BourseNode> {
  const engine = pipeline.engine;
  // ── secrets: created under the LOCK, so two processes never race to generate them
  const masterKey = loadMasterKey(config.dataDir, config.masterKey);
  const admin = loadAdminToken(config.dataDir, config.adminToken);

  // ── durable views, seeded from the recovered state, then fed by the output gate only
  const orders = new OrderStore();
  const balances = new BalanceView(settled.assets.map((a) => a.asset));
  // Account messages are built by the WebSocket gateway, for subscribed accounts only (src/api/account-feed.ts).
  const marketData = new MarketData(settled, { accountMessages: false });
  const dump = engine.dump();
  orders.seed(dump);
  balances.seed(dump);
  marketData.init(dump.lastSeq, dump.orders, dump.markets);

  // ── gateway: auth, validation, rate limits, metrics
  // Credentials live in the engine (journaled with create_account), sealed under the master key.
  const auth = new Authenticator(masterKey, (apiKey) => {
    const account = engine.accountForApiKey(apiKey);
    return account === undefined ? undefined : { accountId: account.id, sealedSecret: account.sealedSecret };
  });
  const journalFigures = pipeline instanceof JournalPipeline ? pipeline.figures : undefined;
  let api: ApiServer | undefined;
  const metrics = new ApiMetrics({
    pipelineQueueDepth: () => pipeline.stats.queueDepth,
    commandsTotal: () => pipeline.stats.commandsTotal,
    wsConnections: () => api?.ws.connectionCount ?? 0,
    wsBufferedBytes: () => api?.ws.bufferedBytes ?? 0,
    journal: () => journalFigures?.take(),
    history: () => {
      const m = history.writer.metrics();
      return { lagMs: history.writer.lagMs, lagCommands: m.lagCommands, failed: m.failed };
    },
  });
  const gateway = new Gateway({
    config: settled,
    pipeline,
    views: marketData.views,
    parser: new RequestParser(settled),
    orders,
    balances,
    auth,
    masterKey,
    metrics,
    history: history.store,
  });
  api = new ApiServer({
    gateway,
    marketData,
    auth,
    adminToken: admin.token,
    rateLimits: new RateLimits(config.rateLimits),
    metrics,
    logger: log,
    ...(tls === undefined ? {} : { tls }),
    version,
    ready: () => pipeline.ready,
  });
  const server = api;
  // The dashboard (web/, built into dist/dashboard/) on the same origin as the API it signs requests to.
  try {
    const dashboard = registerDashboard(server.app, { root: defaultDashboardRoot() });
    if (!dashboard.built) log.info(`dashboard not built (npm run build:web); / explains how`);
  } catch (error) {
    log.warn(`dashboard not served: ${(error as Error).message}`);
  }

  // ── output gate fan-out: durable views first, then market data to WebSocket subscribers
  pipeline.onDurable((events) => {
    balances.apply(events);
    orders.apply(events);
    server.ws.publish(marketData.apply(events), events);
  });

  const port = await server.listen(config.host, config.port);

  // ── time: GTD orders expire without other traffic; the ticker's 24 h window follows the clock
  const clock = setInterval(() => {
    marketData.advanceTime(Date.now());
    if (orders.gtdOrders > 0 && pipeline.ready) pipeline.submit({ type: "tick" }).catch(() => {});
  }, 1_000);
  clock.unref();
  const url = `${tls === undefined ? "http" : "https"}://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`;
  log.info(
    `bourse ${version} listening on ${url} (data dir ${config.dataDir}, markets ${settled.markets
      .map((m) => m.symbol)
      .join(", ")})`,
  );
  if (admin.created) {
    // Written straight to the terminal, not through the logger, so that log shipping never carries it.
    process.stdout.write(
      `\n  Admin token (printed this once; kept in ${admin.path}, mode 0600):\n  ${admin.token}\n\n`,
    );
  }

  let demo: Demo | undefined;
  if (config.demo) demo = await startDemo(gateway, settled, pipeline, log);

  let closed: Promise<void> | undefined;
  return {
    url,
    port,
    adminToken: admin.token,
    pipeline,
    gateway,
    api: server,
    history: history.writer,
    historyStore: history.store,
    close(): Promise<void> {
      closed ??= (async () => {
        clearInterval(clock);
        await demo?.stop();
        await server.close();
        await pipeline.close();
        // After the journal: what the writer has queued is written; anything else is read back at the next start.
        await history.writer.close().catch((error: Error) => log.error(`history: close: ${error.message}`));
        await history.store
          .close()
          .catch((error: Error) => log.error(`history store: close: ${error.message}`));
        log.info("bourse stopped: every acknowledged command is durable, snapshot taken");
      })();
      return closed;
    },
  };
}
