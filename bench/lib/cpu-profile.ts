/**
 * CPU profiles of chosen regions only (the timed runs), through the in-process inspector, so that a
 * profile holds the engine's work and its garbage collection, not the stream generation or the
 * harness around it. `node --cpu-prof` profiles the whole process instead.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import path from "node:path";

export class RegionProfiler {
  private readonly session = new Session();
  private running = false;

  constructor(
    private readonly dir: string,
    /** Sampling interval in µs (V8's default is 1000). */
    intervalUs = 100,
  ) {
    mkdirSync(dir, { recursive: true });
    this.session.connect();
    this.post("Profiler.enable");
    this.post("Profiler.setSamplingInterval", { interval: intervalUs });
  }

  /** The in-process session answers synchronously; anything else is a bug here. */
  private post(method: string, params?: object): unknown {
    let result: unknown;
    let error: Error | null = null;
    let answered = false;
    this.session.post(method, params, (err, res) => {
      error = err;
      result = res;
      answered = true;
    });
    if (!answered) throw new Error(`cpu-profile: ${method} did not answer synchronously`);
    if (error !== null) throw error;
    return result;
  }

  start(): void {
    if (this.running) return;
    this.post("Profiler.start");
    this.running = true;
  }

  /** Stops and writes `<dir>/<name>.cpuprofile`; returns its path. */
  stop(name: string): string {
    const { profile } = this.post("Profiler.stop") as { profile: unknown };
    this.running = false;
    const file = path.join(this.dir, `${name}.cpuprofile`);
    writeFileSync(file, JSON.stringify(profile));
    return file;
  }

  close(): void {
    this.post("Profiler.disable");
    this.session.disconnect();
  }
}
