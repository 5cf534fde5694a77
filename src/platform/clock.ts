/**
 * The clock port: the only place wall time enters Bourse. The sequencer stamps commands with it, the
 * snapshot policy reads it; the engine never does. The simulated twin moves only when told, and may
 * be told to move backwards, as a real wall clock does after an NTP step.
 */
export interface Clock {
  /** Wall time in ms since the Unix epoch (may step backwards: callers that need monotonic time keep their own floor). */
  nowMs(): number;
}

export class SystemClock implements Clock {
  nowMs(): number {
    return Date.now();
  }
}

export class SimulatedClock implements Clock {
  constructor(private timeMs = 1_700_000_000_000) {}

  nowMs(): number {
    return this.timeMs;
  }

  advance(ms: number): void {
    this.timeMs += ms;
  }

  set(ms: number): void {
    this.timeMs = ms;
  }
}
