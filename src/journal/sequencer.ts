/**
 * The sequencer: gives each command its sequence number and timestamp before the engine sees it.
 * Seq goes up by one per command; time comes from the injected clock but never goes backwards, not
 * even across a restart (recovery hands over the last journaled time) or a wall-clock step back.
 */
import type { Clock } from "../platform/clock.js";

export class Sequencer {
  constructor(
    private readonly clock: Clock,
    private lastSeq: number,
    private lastTime: number,
  ) {}

  get seq(): number {
    return this.lastSeq;
  }

  get time(): number {
    return this.lastTime;
  }

  /** The seq the next command gets. */
  peekSeq(): number {
    return this.lastSeq + 1;
  }

  /** The time the next command gets: now, or the last time if the clock went back. */
  peekTime(): number {
    const now = Math.floor(this.clock.nowMs());
    return Math.max(now, this.lastTime);
  }

  /** The command stamped (seq, time) was accepted. */
  advance(seq: number, time: number): void {
    if (seq !== this.lastSeq + 1 || time < this.lastTime) {
      throw new Error(`sequencer: (${seq}, ${time}) does not follow (${this.lastSeq}, ${this.lastTime})`);
    }
    this.lastSeq = seq;
    this.lastTime = time;
  }
}
