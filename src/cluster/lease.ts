/**
 * The leader lease: a Redis key with a TTL (SET PX, taken and renewed by the functions in
 * src/journal/redis-functions.ts), and the epoch that goes up at every takeover in the same atomic
 * step. The lease is for liveness only (who should be leader, and when to give up waiting for a dead
 * one); safety comes from the epoch, which the log's append function checks on every batch.
 *
 * The leader renews every ttl/3. It considers itself leader only until `sentAt + ttl` of its last
 * successful renewal (measured from when the renewal was sent, on the monotonic clock): past that
 * it stops accepting even if Redis is unreachable, because a standby may already have taken over.
 */
import { performance } from "node:perf_hooks";
import { type EpochStart, type RedisLog, replyCode } from "../journal/redis-log.js";

export interface LeaseOptions {
  log: RedisLog;
  nodeId: string;
  ttlMs: number;
  /** Published with the lease: where API nodes send commands. */
  address: string;
}

export type LeaseLoss = "fenced" | "expired";

export class LeaderLease {
  private timer: NodeJS.Timeout | null = null;
  private epochValue = 0;
  private validUntil = 0;
  private stopped = false;

  constructor(private readonly options: LeaseOptions) {}

  get epoch(): number {
    return this.epochValue;
  }

  /** Still the leader by the lease's own (conservative) clock. */
  get valid(): boolean {
    return !this.stopped && this.epochValue > 0 && performance.now() < this.validUntil;
  }

  /**
   * Takes the lease if it is free (or held by `deadHolder`, a leader seen dead): a new epoch, the old
   * leader fenced. Null when someone (else) holds it.
   */
  async tryAcquire(deadHolder = ""): Promise<EpochStart | null> {
    const sentAt = performance.now();
    try {
      const start = await this.options.log.acquire(
        this.options.nodeId,
        this.options.ttlMs,
        this.options.address,
        deadHolder,
      );
      this.epochValue = start.epoch;
      this.validUntil = sentAt + this.options.ttlMs;
      return start;
    } catch (error) {
      if (replyCode(error) === "HELD") return null;
      throw error;
    }
  }

  /** Renews every ttl/3 until stopped; `onLost` runs once when the lease is lost (fenced, or not renewed in time). */
  keepRenewing(onLost: (why: LeaseLoss, detail: string) => void): void {
    const period = Math.max(10, Math.floor(this.options.ttlMs / 3));
    let lost = false;
    const lose = (why: LeaseLoss, detail: string): void => {
      if (lost || this.stopped) return;
      lost = true;
      this.stop();
      onLost(why, detail);
    };
    const renew = async (): Promise<void> => {
      const sentAt = performance.now();
      try {
        await this.options.log.renew(this.options.nodeId, this.epochValue, this.options.ttlMs, period);
        this.validUntil = sentAt + this.options.ttlMs;
      } catch (error) {
        if (replyCode(error) === "FENCED") lose("fenced", (error as Error).message);
      }
      if (!this.stopped && performance.now() >= this.validUntil)
        lose("expired", `not renewed within ${this.options.ttlMs} ms`);
    };
    const tick = (): void => {
      void renew().finally(() => {
        if (!this.stopped) this.timer = setTimeout(tick, period);
      });
    };
    this.timer = setTimeout(tick, period);
  }

  /** A planned handover: frees the lease now instead of letting it expire. */
  async release(): Promise<boolean> {
    this.stop();
    return this.options.log.release(this.options.nodeId, this.epochValue);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
