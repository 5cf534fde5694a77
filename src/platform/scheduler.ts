/**
 * The scheduler port: "run this soon, after the current burst of work". Group commit uses it to let
 * every command that arrives in the same turn of the event loop join one batch. The real one is
 * setImmediate; the simulated one runs tasks only when the simulation says so, in a seeded order.
 */
export interface Scheduler {
  schedule(task: () => void): void;
}

export const immediateScheduler: Scheduler = {
  schedule(task) {
    setImmediate(task);
  },
};

export class ManualScheduler implements Scheduler {
  private tasks: (() => void)[] = [];

  schedule(task: () => void): void {
    this.tasks.push(task);
  }

  get pending(): number {
    return this.tasks.length;
  }

  /** Runs the tasks queued so far (tasks they queue wait for the next call). */
  runPending(): void {
    const tasks = this.tasks;
    this.tasks = [];
    for (const task of tasks) task();
  }

  /** Drops every queued task: a crash. */
  clear(): void {
    this.tasks = [];
  }
}
