/**
 * Named rate limits: token buckets per key (a client IP, an API key). A bucket refills at `perSecond`
 * tokens a second up to `burst`; a request takes one token or is refused (429 RATE_LIMITED, with the
 * limit's name in the message). Limiters track at most apiLimits.rateLimitKeysMax keys; past it the
 * least recently seen keys are forgotten (a forgotten key starts again with a full bucket).
 */
import { apiLimits } from "./limits.js";

export interface RateLimitRule {
  readonly name: string;
  /** Tokens added per second; 0 turns the limit off. */
  readonly perSecond: number;
  readonly burst: number;
}

interface Bucket {
  tokens: number;
  atMs: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly rule: RateLimitRule,
    private readonly nowMs: () => number = Date.now,
    private readonly keysMax: number = apiLimits.rateLimitKeysMax,
  ) {}

  get enabled(): boolean {
    return this.rule.perSecond > 0;
  }

  /** True when `key` has no whole token left (nothing is taken). */
  exhausted(key: string): boolean {
    if (this.rule.perSecond <= 0) return false;
    const bucket = this.buckets.get(key);
    if (bucket === undefined) return false;
    const now = this.nowMs();
    const tokens = Math.min(
      this.rule.burst,
      bucket.tokens + ((now - bucket.atMs) * this.rule.perSecond) / 1000,
    );
    return tokens < 1;
  }

  /** Takes `cost` tokens for `key`; false when the bucket is short (then nothing is taken). */
  take(key: string, cost = 1): boolean {
    if (this.rule.perSecond <= 0) return true;
    const now = this.nowMs();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= this.keysMax) this.forgetOldest();
      bucket = { tokens: this.rule.burst, atMs: now };
      this.buckets.set(key, bucket);
    } else if (now > bucket.atMs) {
      bucket.tokens = Math.min(
        this.rule.burst,
        bucket.tokens + ((now - bucket.atMs) * this.rule.perSecond) / 1000,
      );
      bucket.atMs = now;
    }
    if (bucket.tokens < cost) return false;
    bucket.tokens -= cost;
    return true;
  }

  /** Drops the oldest tenth of the keys (Map keeps insertion order), so eviction is amortized. */
  private forgetOldest(): void {
    let n = Math.max(1, Math.floor(this.keysMax / 10));
    for (const key of this.buckets.keys()) {
      this.buckets.delete(key);
      if (--n === 0) break;
    }
  }
}

export interface RateLimitSettings {
  /** Every HTTP request and WebSocket message, per client IP. */
  ipRequestsPerSecond: number;
  /** Every signed request and authenticated WebSocket op, per API key. */
  keyRequestsPerSecond: number;
  /** Failed authentications per client IP (slows down key and signature guessing). */
  authFailuresPerIpPerSecond: number;
}

export const defaultRateLimits: RateLimitSettings = {
  ipRequestsPerSecond: apiLimits.ipRequestsPerSecondDefault,
  keyRequestsPerSecond: apiLimits.keyRequestsPerSecondDefault,
  authFailuresPerIpPerSecond: apiLimits.authFailuresPerIpPerSecondDefault,
};

export class RateLimits {
  readonly ip: RateLimiter;
  readonly key: RateLimiter;
  readonly authFailures: RateLimiter;

  constructor(settings: RateLimitSettings, nowMs: () => number = Date.now) {
    const rule = (name: string, perSecond: number): RateLimitRule => ({
      name,
      perSecond,
      burst: perSecond * 2,
    });
    this.ip = new RateLimiter(rule("ipRequests", settings.ipRequestsPerSecond), nowMs);
    this.key = new RateLimiter(rule("keyRequests", settings.keyRequestsPerSecond), nowMs);
    this.authFailures = new RateLimiter(
      rule("authFailuresPerIp", settings.authFailuresPerIpPerSecond),
      nowMs,
    );
  }
}
