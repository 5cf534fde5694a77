/**
 * Prometheus metrics of the node (GET /metrics). One registry per server, so that tests can run
 * several servers in one process. Histograms are in seconds, the Prometheus convention.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

const latencyBuckets = [
  0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

export interface MetricSources {
  /** Commands submitted and not yet durable. */
  pipelineQueueDepth(): number;
  /** Commands applied since start. */
  commandsTotal(): number;
  /** Open WebSocket connections and bytes queued to them. */
  wsConnections(): number;
  wsBufferedBytes(): number;
  /** Journal figures when the pipeline exposes them (fsync seconds, records per batch). */
  journal?(): { fsyncSeconds: number[]; batchRecords: number[] } | undefined;
  /** The history writer (src/history/writer.ts), when the node runs one. */
  history?(): { lagMs: number; lagCommands: number; failed: boolean };
  /** Public reads answered from the read cache, and (API node) the market-data replica's state. */
  marketData?(): {
    cacheHits: number;
    renders: number;
    replica?: { resyncs: number; gaps: number; stale: boolean };
  };
}

export class ApiMetrics {
  readonly registry = new Registry();
  readonly httpDuration: Histogram<"method" | "route" | "status">;
  readonly orderAck: Histogram<"transport" | "outcome">;
  readonly wsMessages: Counter<"op">;
  readonly rateLimited: Counter<"limit">;
  readonly journalFsync: Histogram;
  readonly journalBatch: Histogram;
  /** Labelled children of the hot histograms, so that an observation does not hash its labels. */
  private readonly ackChildren = new Map<string, { observe(value: number): void }>();
  private readonly httpChildren = new Map<string, { observe(value: number): void }>();
  private lastCommands = 0;
  private lastCommandsAt = Date.now();

  constructor(private readonly sources: MetricSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: "bourse_process_" });
    this.httpDuration = new Histogram({
      name: "bourse_http_request_duration_seconds",
      help: "HTTP request latency, from the request's arrival to the reply's end",
      labelNames: ["method", "route", "status"],
      buckets: latencyBuckets,
      registers,
    });
    this.orderAck = new Histogram({
      name: "bourse_order_ack_seconds",
      help: "Order command latency from its arrival at the gateway to its durable acknowledgment",
      labelNames: ["transport", "outcome"],
      buckets: latencyBuckets,
      registers,
    });
    this.wsMessages = new Counter({
      name: "bourse_ws_messages_total",
      help: "WebSocket client messages by op",
      labelNames: ["op"],
      registers,
    });
    this.rateLimited = new Counter({
      name: "bourse_rate_limited_total",
      help: "Requests refused by a named rate limit",
      labelNames: ["limit"],
      registers,
    });
    this.journalFsync = new Histogram({
      name: "bourse_journal_fsync_seconds",
      help: "Journal group-commit fdatasync latency",
      buckets: latencyBuckets,
      registers,
    });
    this.journalBatch = new Histogram({
      name: "bourse_journal_batch_records",
      help: "Commands per journal group-commit batch",
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192],
      registers,
    });
    new Gauge({
      name: "bourse_pipeline_queue_depth",
      help: "Commands submitted and not yet durable",
      registers,
      collect() {
        this.set(sources.pipelineQueueDepth());
      },
    });
    new Gauge({
      name: "bourse_ws_connections",
      help: "Open WebSocket connections",
      registers,
      collect() {
        this.set(sources.wsConnections());
      },
    });
    new Gauge({
      name: "bourse_ws_buffered_bytes",
      help: "Bytes queued to WebSocket clients, all connections",
      registers,
      collect() {
        this.set(sources.wsBufferedBytes());
      },
    });
    new Counter({
      name: "bourse_engine_commands_total",
      help: "Commands applied by the engine since start",
      registers,
      collect() {
        this.reset();
        this.inc(sources.commandsTotal());
      },
    });
    const history = sources.history;
    if (history !== undefined) {
      new Gauge({
        name: "bourse_history_lag_ms",
        help: "Age of the oldest durable command not yet in the history store, ms (0 when caught up)",
        registers,
        collect() {
          this.set(history().lagMs);
        },
      });
      new Gauge({
        name: "bourse_history_lag_commands",
        help: "Durable commands not yet in the history store",
        registers,
        collect() {
          this.set(history().lagCommands);
        },
      });
      new Gauge({
        name: "bourse_history_failed",
        help: "1 when the history writer has stopped on an error (matching goes on; see the log)",
        registers,
        collect() {
          this.set(history().failed ? 1 : 0);
        },
      });
    }
    const marketData = sources.marketData;
    if (marketData !== undefined) {
      const gauge = (name: string, help: string, read: () => number | undefined): void => {
        new Gauge({
          name,
          help,
          registers,
          collect() {
            const value = read();
            if (value !== undefined) this.set(value);
          },
        });
      };
      gauge(
        "bourse_read_cache_hits",
        "Public reads answered from the read cache (since start)",
        () => marketData().cacheHits,
      );
      gauge(
        "bourse_read_cache_renders",
        "Public reads rendered and cached (misses, since start)",
        () => marketData().renders,
      );
      // Only API nodes have a replica: an all-in-one node does not show these at all.
      if (marketData().replica !== undefined) {
        gauge(
          "bourse_marketdata_resyncs",
          "API node: market-data resyncs from the cache (since start)",
          () => marketData().replica?.resyncs,
        );
        gauge(
          "bourse_marketdata_gaps",
          "API node: gaps seen on the market-data bus (since start)",
          () => marketData().replica?.gaps,
        );
        gauge("bourse_marketdata_stale", "API node: 1 while market data is being resynced", () => {
          const replica = marketData().replica;
          return replica === undefined ? undefined : replica.stale ? 1 : 0;
        });
      }
    }
    const metrics = this;
    new Gauge({
      name: "bourse_engine_commands_per_second",
      help: "Commands applied per second since the previous scrape",
      registers,
      collect() {
        this.set(metrics.commandsRate());
      },
    });
  }

  private commandsRate(): number {
    const now = Date.now();
    const total = this.sources.commandsTotal();
    const seconds = (now - this.lastCommandsAt) / 1000;
    const rate = seconds > 0 ? (total - this.lastCommands) / seconds : 0;
    this.lastCommands = total;
    this.lastCommandsAt = now;
    return rate;
  }

  observeAck(transport: string, outcome: string, seconds: number): void {
    const key = `${transport} ${outcome}`;
    let child = this.ackChildren.get(key);
    if (child === undefined) {
      child = this.orderAck.labels(transport, outcome);
      this.ackChildren.set(key, child);
    }
    child.observe(seconds);
  }

  observeHttp(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${route} ${status}`;
    let child = this.httpChildren.get(key);
    if (child === undefined) {
      // Bounded: methods × routes of the table × statuses of the catalog.
      child = this.httpDuration.labels(method, route, String(status));
      this.httpChildren.set(key, child);
    }
    child.observe(seconds);
  }

  /** Pulls the journal's figures gathered since the last scrape. */
  collectJournal(): void {
    const figures = this.sources.journal?.();
    if (figures === undefined) return;
    for (const s of figures.fsyncSeconds) this.journalFsync.observe(s);
    for (const n of figures.batchRecords) this.journalBatch.observe(n);
  }

  async text(): Promise<string> {
    this.collectJournal();
    return this.registry.metrics();
  }
}
