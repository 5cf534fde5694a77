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
 * Two shapes of node (docs/cache.md, "Run modes"):
 *   - all-in-one (`bourse start`): the file journal in the data directory, the engine, market data and
 *     the API in this process; public reads from the in-process cache, fan-out on the in-process bus;
 *   - API node of a cluster (`bourse api`, or `bourse start --journal redis://…`): commands go to the
 *     engine leader (src/cluster/remote-pipeline.ts), the node's private views follow the command log
 *     in Redis, and public market data comes from the cache and bus (`--cache redis://…`: a replica
 *     joined to the engine's snapshots, src/cache/md-replica.ts) or, without one, from the log.
 *
 * The dashboard (src/web-server/) is served by the same HTTP server, same origin as the API.
 * Everything runs on the main thread except fdatasync (libuv's pool) and snapshots (a worker):
 * docs/api.md ("Two cores") gives the measurement behind that choice.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import pino, { type Logger } from "pino";
import { Authenticator, parseMasterKey } from "../api/auth.js";
import { Gateway } from "../api/gateway.js";
import { ApiMetrics } from "../api/metrics.js";
import { BalanceView, OrderStore } from "../api/order-store.js";
import { RequestParser } from "../api/parse.js";
import { RateLimits } from "../api/rate-limit.js";
import { ReadCache } from "../api/read-cache.js";
import { ApiServer } from "../api/server.js";
import type { PublicUpdate } from "../cache/bus.js";
import { MarketDataReplica } from "../cache/md-replica.js";
import { MemoryMarketDataBus } from "../cache/memory-bus.js";
import { MemoryCache } from "../cache/memory-cache.js";
import { openNodeCache } from "../cache/open-bus.js";
import type { PublicMarketData } from "../cache/public-market-data.js";
import { RemotePipeline } from "../cluster/remote-pipeline.js";
import { defaultConfig, type EngineConfig, type SettledConfig, settleConfig } from "../engine/config.js";
import type { Engine } from "../engine/engine.js";
import type { EngineEvent } from "../engine/types.js";
import type { HistoryStore } from "../history/history-store.js";
import { JournalEventSource } from "../history/journal-source.js";
import { createHistoryStore } from "../history/open-store.js";
import { RedisLogEventSource } from "../history/redis-log-source.js";
import { HistoryWriter } from "../history/writer.js";
import type { CommitListener } from "../journal/durable-engine.js";
import { parseRedisLocation } from "../journal/open-journal.js";
import { cacheLimits } from "../limits.js";
import { MarketData } from "../marketdata/marketdata.js";
import { Views } from "../marketdata/views.js";
import { defaultDashboardRoot, registerDashboard } from "../web-server/dashboard.js";
import { defaultMarketsFile, loadMarkets, type NodeConfig, NodeConfigError } from "./config.js";
import { type Demo, startDemo } from "./demo.js";
import { JournalPipeline } from "./journal-pipeline.js";
import type { CommandPipeline } from "./pipeline.js";
import { loadAdminToken, loadMasterKey, masterKeyFile } from "./secrets.js";

export const version = "0.1.0";

export interface BourseNode {
  readonly url: string;
  readonly port: number;
  readonly adminToken: string;
  readonly pipeline: CommandPipeline;
  readonly gateway: Gateway;
  readonly api: ApiServer;
  /** "all-in-one" or "api" (an API node of a cluster). */
  readonly mode: "all-in-one" | "api";
  /** Where public reads come from: MarketData next to the engine, or a replica from the cache and bus. */
  readonly marketData: PublicMarketData;
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
  else if (config.journal !== null && !existsSync(join(config.dataDir, masterKeyFile))) {
    // Every API node must open the secrets the others sealed: a key generated here would not.
    throw new NodeConfigError(
      "an API node of a cluster needs the cluster's master key: set BOURSE_MASTER_KEY (the same on every node) or put it in <data dir>/master.key",
    );
  }
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
  const pipeline: FeedPipeline =
    config.journal === null
      ? await JournalPipeline.open({
          dataDir: config.dataDir,
          config: markets,
          log: (m) => log.info(m),
          onFatal,
        })
      : await RemotePipeline.open({ journal: config.journal, config: markets, log: (m) => log.info(m) });
  let history: HistorySide | undefined;
  try {
    history = await startHistory(config, log, markets, pipeline);
    return await assemble(config, log, settled, tls, pipeline, history);
  } catch (error) {
    // Nothing was answered yet: release the journal and its LOCK so that a retry can open it.
    await pipeline.close().catch(() => {});
    if (history !== undefined) {
      await history.writer.close().catch(() => {});
      await history.store.close().catch(() => {});
      await history.source?.close().catch(() => {});
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
  pipeline: FeedPipeline,
): Promise<HistorySide> {
  const store = await createHistoryStore(config.historyUrl ?? undefined, config.dataDir);
  // What the writer reads back when it is behind: the file journal, or an API node's command log in Redis.
  let redisSource: RedisLogEventSource | undefined;
  if (config.journal !== null) {
    const location = parseRedisLocation(config.journal);
    redisSource = new RedisLogEventSource({
      url: location.url,
      namespace: location.namespace,
      clientName: "bourse-api-history",
      config: markets,
      warn: (m) => log.warn(m),
    });
  }
  const writer = new HistoryWriter({
    store,
    config: markets,
    source:
      redisSource ??
      new JournalEventSource({ dir: config.dataDir, config: markets, warn: (m) => log.warn(m) }),
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
    await redisSource?.close().catch(() => {});
    throw error;
  }
  pipeline.onCommit((batch) => writer.enqueueCommitted(batch));
  log.info(
    `history: ${store.backend} store at checkpoint ${writer.lastCheckpoint()}, journal at ${pipeline.durableSeq}`,
  );
  return { writer, store, ...(redisSource === undefined ? {} : { source: redisSource }) };
}

interface HistorySide {
  writer: HistoryWriter;
  store: HistoryStore;
  /** An API node's reader of the command log (closed after the writer). */
  source?: { close(): Promise<void> };
}

/** Everything above the command path, once it is recovered and this process owns the data directory. */
async function assemble(
  config: NodeConfig,
  log: Logger,
  settled: SettledConfig,
  tls: { cert: Buffer; key: Buffer } | undefined,
  pipeline: FeedPipeline,
  history: HistorySide,
): Promise<BourseNode> {
  const engine = pipeline.engine;
  const mode = config.journal === null ? "all-in-one" : "api";
  // ── secrets: created under the LOCK, so two processes never race to generate them
  const masterKey = loadMasterKey(config.dataDir, config.masterKey);
  const admin = loadAdminToken(config.dataDir, config.adminToken);

  // ── durable views, seeded from the recovered state, then fed by the output gate only
  const orders = new OrderStore();
  const balances = new BalanceView(settled.assets.map((a) => a.asset));
  // Account messages are built by the WebSocket gateway, for subscribed accounts only (src/api/account-feed.ts).
  const dump = engine.dump();
  orders.seed(dump);
  balances.seed(dump);
  const views = new Views(settled);
  const market = await openMarketData(config, log, settled, dump);

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
    marketData: () => ({
      cacheHits: market.reads.stats.hits,
      renders: market.reads.stats.renders,
      ...(market.replica === undefined ? {} : { replica: market.replica() }),
    }),
    history: () => {
      const m = history.writer.metrics();
      return { lagMs: history.writer.lagMs, lagCommands: m.lagCommands, failed: m.failed };
    },
  });
  const gateway = new Gateway({
    config: settled,
    pipeline,
    views,
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
    marketData: market.reader,
    reads: market.reads,
    views,
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

  // ── output gate fan-out: durable views first, then market data (through the bus and the read
  // cache) and account messages to WebSocket subscribers, in that order for every batch
  await market.connect({
    updates: (updates) => {
      market.reads.invalidate(updates);
      server.ws.publish(updates, noEvents);
    },
    resync: (symbol) => {
      market.reads.bump(symbol);
      server.ws.resync(symbol);
    },
  });
  pipeline.onDurable((events) => {
    balances.apply(events);
    orders.apply(events);
    if (events.length > 0) market.apply(events, events[events.length - 1]!.seq);
    server.ws.publish(noUpdates, events);
  });
  const port = await server.listen(config.host, config.port);

  // ── time: GTD orders expire without other traffic; the ticker's 24 h window follows the clock
  const clock = setInterval(() => {
    market.advanceTime(Date.now());
    if (orders.gtdOrders > 0 && pipeline.ready) pipeline.submit({ type: "tick" }).catch(() => {});
  }, 1_000);
  clock.unref();
  const url = `${tls === undefined ? "http" : "https"}://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`;
  log.info(
    `bourse ${version} ${mode === "api" ? "API node " : ""}listening on ${url} (market data: ${market.description}; data dir ${config.dataDir}, markets ${settled.markets
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
    mode,
    marketData: market.reader,
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
        await market.close().catch((error: Error) => log.error(`market data: close: ${error.message}`));
        // After the journal: what the writer has queued is written; anything else is read back at the next start.
        await history.writer.close().catch((error: Error) => log.error(`history: close: ${error.message}`));
        await history.store
          .close()
          .catch((error: Error) => log.error(`history store: close: ${error.message}`));
        await history.source?.close().catch(() => {});
        log.info("bourse stopped: every acknowledged command is durable, snapshot taken");
      })();
      return closed;
    },
  };
}

const noEvents: readonly EngineEvent[] = [];
const noUpdates: readonly PublicUpdate[] = [];

/** What the node needs of its command pipeline beyond the gateway's port: the history's feed. */
type FeedPipeline = CommandPipeline & {
  readonly durableSeq: number;
  onCommit(listener: CommitListener): () => void;
};

interface MarketDataSide {
  readonly reader: PublicMarketData;
  readonly reads: ReadCache;
  readonly description: string;
  /** An API node's replica: resyncs, gaps, stale. */
  readonly replica?: () => { resyncs: number; gaps: number; stale: boolean };
  /** Where the node's WebSocket fan-out and read cache hear of updates and resyncs. */
  connect(sink: {
    updates(updates: readonly PublicUpdate[]): void;
    resync(symbol: string): void;
  }): Promise<void>;
  /** Every durable batch's events (a no-op when market data comes from the bus). */
  apply(events: readonly EngineEvent[], seq: number): void;
  advanceTime(now: number): void;
  close(): Promise<void>;
}

/**
 * Public market data of this node. Next to the engine (all-in-one), or on an API node without a cache
 * URL: MarketData derived from the durable events, delivered on the in-process bus. On an API node
 * with `--cache redis://…`: a replica of the engine's market data from the Redis cache and bus.
 */
async function openMarketData(
  config: NodeConfig,
  log: Logger,
  settled: SettledConfig,
  dump: ReturnType<Engine["dump"]>,
): Promise<MarketDataSide> {
  const local = new MemoryCache();
  if (config.journal !== null && config.cacheUrl !== null) {
    // An unreachable cache at start does not keep the node from taking orders: its replica stays
    // stale (public reads answer MARKET_DATA_UNAVAILABLE) until Redis answers.
    const { cache, bus } = await openNodeCache(config.cacheUrl);
    const replica = new MarketDataReplica({ config: settled, bus, cache, log: (m) => log.info(m) });
    // While the replica resyncs (a gap, or the cache's Redis unreachable) what it holds may be behind:
    // REST answers MARKET_DATA_UNAVAILABLE (retry) rather than an old book presented as the current
    // one. WebSocket subscribers get a fresh snapshot when the resync completes.
    const reads = new ReadCache(local, replica, () => !replica.stale);
    return {
      reader: replica,
      reads,
      description: `replica of the engine's, from the ${cache.backend} cache and bus`,
      replica: () => ({ resyncs: replica.stats.resyncs, gaps: replica.stats.gaps, stale: replica.stale }),
      async connect(sink) {
        replica.onUpdates((updates) => sink.updates(updates));
        replica.onResync((symbol) => sink.resync(symbol));
        const synced = replica.start();
        const waited = await Promise.race([
          synced.then(() => true),
          new Promise<boolean>((resolve) =>
            setTimeout(() => resolve(false), cacheLimits.replicaStartWaitMs).unref(),
          ),
        ]);
        if (!waited)
          log.warn(
            `market data: not synced from the cache after ${cacheLimits.replicaStartWaitMs} ms (is an engine leader running with --cache?); public reads answer MARKET_DATA_UNAVAILABLE until it is`,
          );
      },
      apply() {},
      advanceTime() {},
      async close() {
        await replica.close();
        await bus.close();
        await cache.close();
        await local.close();
      },
    };
  }
  if (config.cacheUrl !== null && config.journal === null) {
    log.warn(
      "--cache is for the nodes of a cluster (bourse engine / bourse api): an all-in-one node keeps its cache in process",
    );
  }
  const marketData = new MarketData(settled, { accountMessages: false });
  marketData.init(dump.lastSeq, dump.orders, dump.markets);
  const bus = new MemoryMarketDataBus();
  const reads = new ReadCache(local, marketData);
  return {
    reader: marketData,
    reads,
    description: "in process",
    async connect(sink) {
      bus.subscribe(-1, {
        onBatch: (batch) => sink.updates(batch.updates),
        onGap: () => {},
      });
    },
    apply(events, seq) {
      const updates = marketData.apply(events) as PublicUpdate[];
      if (updates.length > 0) bus.publish({ seq, updates });
    },
    advanceTime(now) {
      marketData.advanceTime(now);
    },
    async close() {
      await bus.close();
      await local.close();
    },
  };
}
