/**
 * Ack latency in open loop: command i is due at t0 + i/rate and its latency runs from then to its
 * release by the output gate, so a backlog counts against the figures (no coordinated omission).
 * The journal benches (file and Redis) drive their DurableEngine with it.
 */
import * as hdr from "hdr-histogram-js";
import type { CommandInput } from "../../src/journal/command-codec.js";
import type { DurableEngine } from "../../src/journal/durable-engine.js";

export interface AckLatency {
  offeredPerSec: number;
  achievedPerSec: number;
  count: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

/**
 * Sends rate × seconds commands on schedule, yielding with `pause` between sends. Returns the figures
 * and the histogram (µs; the caller destroys it).
 */
export async function openLoopAcks(
  engine: DurableEngine,
  next: () => CommandInput,
  rate: number,
  seconds: number,
  pause: () => Promise<void>,
): Promise<{ latency: AckLatency; histogram: hdr.Histogram }> {
  const h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000,
    numberOfSignificantValueDigits: 3,
  });
  const total = Math.floor(rate * seconds);
  const t0 = performance.now() + 5;
  let sent = 0;
  let done = 0;
  while (done < total) {
    const now = performance.now();
    const due = Math.min(total, Math.floor(((now - t0) * rate) / 1000));
    while (sent < due) {
      const scheduled = t0 + (sent * 1000) / rate;
      engine.submitWith(next(), (error) => {
        if (error) throw error;
        done++;
        h.recordValue(Math.max(1, Math.round((performance.now() - scheduled) * 1000)));
      });
      sent++;
    }
    await pause();
    if (engine.failed) throw engine.failed;
  }
  const elapsed = performance.now() - t0;
  return {
    latency: {
      offeredPerSec: rate,
      achievedPerSec: Math.round((total / elapsed) * 1000),
      count: total,
      p50Ms: h.getValueAtPercentile(50) / 1000,
      p99Ms: h.getValueAtPercentile(99) / 1000,
      p999Ms: h.getValueAtPercentile(99.9) / 1000,
      maxMs: h.maxValue / 1000,
    },
    histogram: h,
  };
}
