/**
 * The `MarketDataBus` port: the public market data of every durable batch, from the one process that
 * matches (the engine, or the engine leader of a cluster) to every process that serves it (API nodes).
 *
 * A bus batch is what `MarketData.apply` returned for one durable batch of commands, public channels
 * only (book, trades, ticker), stamped with the journal seq of the batch's last command. Seqs increase
 * strictly from batch to batch; book updates carry their per-market `sequence` (+1 per update), so a
 * subscriber detects a lost batch either way and resyncs from a snapshot (src/cache/md-replica.ts).
 *
 * Backends: in-process (src/cache/memory-bus.ts, synchronous delivery, the default) and Redis
 * (src/cache/redis-bus.ts: a stream whose entry ids are the seqs, so a subscriber can resume after an
 * outage from the last seq it saw, and a snapshot taken at seq S joins the stream right after S).
 *
 * Publishing never blocks or fails the command path: when the backend is unreachable or behind by
 * cacheLimits.busPendingBatchesMax batches, batches are dropped and counted; subscribers see the gap.
 */
import type { BookUpdate, TickerUpdate, TradesUpdate } from "../marketdata/marketdata.js";

export type PublicUpdate = BookUpdate | TradesUpdate | TickerUpdate;

export interface BusBatch {
  /** Journal seq of the last command of the durable batch. */
  seq: number;
  updates: PublicUpdate[];
}

export interface BusSubscription {
  close(): void;
}

export interface BusSubscriber {
  /** Batches in seq order. */
  onBatch(batch: BusBatch): void;
  /**
   * The subscription could not deliver everything after `afterSeq` (the backend was unreachable, or
   * trimmed entries the subscriber had not read yet). Delivery resumes with newer batches; the
   * subscriber resyncs from snapshots.
   */
  onGap(afterSeq: number): void;
}

export interface BusStats {
  published: number;
  /** Batches dropped by the publisher (backend unreachable or too far behind). */
  dropped: number;
  delivered: number;
  gaps: number;
}

export interface MarketDataBus {
  readonly backend: string;
  /** Fire and forget: never throws, never waits for the backend. */
  publish(batch: BusBatch): void;
  /**
   * Delivers every batch with seq > fromSeq (from what the backend still holds; if it no longer holds
   * fromSeq + …, `onGap` first), then new batches as they are published. fromSeq = -1: only new ones.
   */
  subscribe(fromSeq: number, subscriber: BusSubscriber): BusSubscription;
  /** Reachable right now. */
  readonly healthy: boolean;
  readonly stats: BusStats;
  close(): Promise<void>;
}
