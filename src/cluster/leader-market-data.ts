/**
 * The engine leader's market data (the ElastiCache role of a cluster): while a node leads, every
 * durable batch's events go through MarketData and the public updates are published on the bus, with
 * snapshots of every market written to the cache (src/cache/md-publisher.ts). API nodes serve them
 * (src/cache/md-replica.ts). The cache and bus connections live as long as the node; the MarketData
 * lives for one term: a new leader starts it from its own state, so book sequences jump to the
 * journal seq of the takeover and every API node resyncs from the new snapshots.
 *
 * Nothing here can slow or refuse a command: the bus and the cache drop (and count) what they cannot
 * deliver while Redis is unreachable, and the publisher rewrites every snapshot when it returns.
 */
import type { MarketDataBus, PublicUpdate } from "../cache/bus.js";
import type { Cache } from "../cache/cache.js";
import { MarketDataPublisher } from "../cache/md-publisher.js";
import { openNodeCache } from "../cache/open-bus.js";
import { type EngineConfig, settleConfig } from "../engine/config.js";
import type { Engine } from "../engine/engine.js";
import { type CommittedCommand, eventsOf } from "../journal/durable-engine.js";
import { MarketData } from "../marketdata/marketdata.js";

/** How often the ticker's 24 h window is moved on without trades. */
const clockEveryMs = 1_000;

export class LeaderMarketData {
  private term: { marketData: MarketData; publisher: MarketDataPublisher; clock: NodeJS.Timeout } | null =
    null;

  private constructor(
    private readonly config: EngineConfig,
    readonly cache: Cache,
    readonly bus: MarketDataBus,
  ) {}

  /**
   * An unreachable cache at start does not keep the engine from starting (matching never depends on
   * the cache): it starts unreachable, the publisher drops and counts, and rewrites every snapshot
   * once Redis answers. A refused password or certificate is a configuration error and stops here.
   */
  static async open(
    url: string,
    config: EngineConfig,
    log: (line: string) => void = () => {},
  ): Promise<LeaderMarketData> {
    const { cache, bus } = await openNodeCache(url);
    if (!cache.healthy || !bus.healthy)
      log(`market data: the cache ${cache.backend} is not reachable yet; publishing once it is`);
    return new LeaderMarketData(config, cache, bus);
  }

  /** The node became leader with this engine state (everything up to its lastSeq is durable). */
  lead(engine: Engine): void {
    this.stop();
    const settled = settleConfig(this.config);
    const marketData = new MarketData(settled, { accountMessages: false });
    const dump = engine.dump();
    marketData.init(dump.lastSeq, dump.orders, dump.markets);
    const publisher = new MarketDataPublisher({
      marketData,
      bus: this.bus,
      cache: this.cache,
      symbols: settled.markets.map((m) => m.symbol),
    });
    publisher.start(dump.lastSeq);
    const clock = setInterval(() => marketData.advanceTime(Date.now()), clockEveryMs);
    clock.unref();
    this.term = { marketData, publisher, clock };
  }

  /** One durable batch of the leader's output gate. */
  committed(batch: readonly CommittedCommand[]): void {
    const term = this.term;
    if (term === null || batch.length === 0) return;
    const updates = term.marketData.apply(eventsOf(batch)) as PublicUpdate[];
    term.publisher.publish(batch[batch.length - 1]!.command.seq, updates);
  }

  /** The term ended (stepped down, fenced, closing). */
  stop(): void {
    const term = this.term;
    if (term === null) return;
    this.term = null;
    clearInterval(term.clock);
    void term.publisher.close();
  }

  async close(): Promise<void> {
    this.stop();
    await this.bus.close().catch(() => {});
    await this.cache.close().catch(() => {});
  }
}
