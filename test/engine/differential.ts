/**
 * The differential loop, shared by the unit tests (100k commands) and `npm run fuzz:engine` (1M):
 * one seeded command stream through the reference model and, when given, the fast engine; their
 * events must be identical per command and their dumps identical every `compareEvery` commands
 * and at the end. Invariants are checked on both every `checkEvery` commands.
 *
 * On the first difference it throws a DifferenceError whose message holds everything needed to
 * reproduce it: the seed, the command index, the command and both event lists.
 */
import { deepStrictEqual } from "node:assert/strict";
import { defaultConfig, type EngineConfig } from "../../src/engine/config.js";
import type { EngineModel } from "../../src/engine/dump.js";
import type { Command, EngineEvent } from "../../src/engine/types.js";
import { ReferenceEngine } from "../reference/reference-engine.js";
import { CommandGenerator, type Scenario } from "./generator.js";
import { checkInvariants, SupplyTracker } from "./invariants.js";

export interface DifferentialOptions {
  seed: number;
  commands: number;
  config?: EngineConfig;
  /** The engine under test; without it only the reference runs (invariants still checked). */
  subject?: (config: EngineConfig) => EngineModel;
  /** Compare dumps every this many commands (and after the last). Default 1,000. */
  compareEvery?: number;
  /** Check invariants every this many commands (0: only at the end). Default 0. */
  checkEvery?: number;
  /** Generator scenarios to leave out (see generator.ts). */
  without?: readonly Scenario[];
  /** Commands to leave out of the stream: for exploring past a difference already reported. */
  skip?: (command: Command) => boolean;
  onProgress?: (done: number, stats: DifferentialStats) => void;
  progressEvery?: number;
}

export interface DifferentialStats {
  commands: number;
  events: number;
  trades: number;
  /** Rejections by code. */
  rejected: Record<string, number>;
  /** Order events by reason. */
  reasons: Record<string, number>;
  /** Commands by type. */
  commandTypes: Record<string, number>;
  duplicateOrders: number;
  duplicateTransfers: number;
  /** Events carrying an amount beyond 2^53 (a bigint). */
  bigintEvents: number;
}

export class DifferenceError extends Error {
  override name = "DifferenceError";
}

/** JSON with bigints shown as `123n`, for failure messages. */
export function show(value: unknown): string {
  return JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? `${v}n` : v), 2);
}

/** Up to `max` paths where two JSON-like values differ, each with both values. */
export function differences(
  expected: unknown,
  actual: unknown,
  max = 12,
  path = "$",
  out: string[] = [],
): string[] {
  if (out.length >= max) return out;
  if (typeof expected === "object" && expected !== null && typeof actual === "object" && actual !== null) {
    const keys = new Set([...Object.keys(expected), ...Object.keys(actual)]);
    for (const key of keys) {
      differences(
        (expected as Record<string, unknown>)[key],
        (actual as Record<string, unknown>)[key],
        max,
        `${path}.${key}`,
        out,
      );
    }
    return out;
  }
  if (expected !== actual) out.push(`${path}: reference ${show(expected)}, engine ${show(actual)}`);
  return out;
}

/** One event per line, the first that differs from `other` marked. */
function eventLines(events: readonly EngineEvent[], other?: readonly EngineEvent[]): string {
  const first = other === undefined ? -1 : firstDifference(events, other);
  return events
    .map(
      (e, i) =>
        `${i === first ? "  >>" : "    "} ${JSON.stringify(e, (_k, v) => (typeof v === "bigint" ? `${v}n` : v))}`,
    )
    .join("\n");
}

function firstDifference(a: readonly EngineEvent[], b: readonly EngineEvent[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    try {
      deepStrictEqual(a[i], b[i]);
    } catch {
      return i;
    }
  }
  return -1;
}

function count(record: Record<string, number>, key: string): void {
  record[key] = (record[key] ?? 0) + 1;
}

function tally(stats: DifferentialStats, command: Command, events: readonly EngineEvent[]): void {
  stats.commands += 1;
  stats.events += events.length;
  count(stats.commandTypes, command.type);
  for (const e of events) {
    if (e.type === "trade") stats.trades += 1;
    else if (e.type === "rejected") count(stats.rejected, e.code);
    else if (e.type === "order") count(stats.reasons, e.reason);
    else if (e.type === "duplicate_order") stats.duplicateOrders += 1;
    else if (e.type === "transfer" && e.duplicate) stats.duplicateTransfers += 1;
    for (const value of Object.values(e)) {
      if (typeof value === "bigint") {
        stats.bigintEvents += 1;
        break;
      }
    }
  }
}

export function runDifferential(options: DifferentialOptions): DifferentialStats {
  const config = options.config ?? defaultConfig;
  const compareEvery = options.compareEvery ?? 1000;
  const checkEvery = options.checkEvery ?? 0;
  const progressEvery = options.progressEvery ?? 100_000;
  const generator = new CommandGenerator({ seed: options.seed, config, without: options.without ?? [] });
  const reference = new ReferenceEngine(config);
  const subject = options.subject?.(config);
  const supply = new SupplyTracker();
  const stats: DifferentialStats = {
    commands: 0,
    events: 0,
    trades: 0,
    rejected: {},
    reasons: {},
    commandTypes: {},
    duplicateOrders: 0,
    duplicateTransfers: 0,
    bigintEvents: 0,
  };
  const where = (i: number, command: Command) =>
    `seed ${options.seed}, command index ${i} (seq ${command.seq}), config ${config === defaultConfig ? "defaultConfig" : config.markets.map((m) => m.symbol).join(",")}`;
  for (let i = 0; i < options.commands; i++) {
    const command = generator.next();
    if (options.skip?.(command)) {
      generator.observe([]);
      continue;
    }
    const expected: EngineEvent[] = [];
    reference.apply(structuredClone(command), expected);
    if (subject !== undefined) {
      const actual: EngineEvent[] = [];
      try {
        subject.apply(structuredClone(command), actual);
      } catch (error) {
        throw new DifferenceError(
          `${where(i, command)}: the engine threw ${(error as Error).stack}\n` +
            `command: ${JSON.stringify(command, (_k, v) => (typeof v === "bigint" ? `${v}n` : v))}\n` +
            `reference events:\n${eventLines(expected)}`,
        );
      }
      try {
        deepStrictEqual(actual, expected);
      } catch {
        throw new DifferenceError(
          `${where(i, command)}: events differ from event ${firstDifference(expected, actual)}\n` +
            `command: ${JSON.stringify(command, (_k, v) => (typeof v === "bigint" ? `${v}n` : v))}\n` +
            `reference events:\n${eventLines(expected, actual)}\nengine events:\n${eventLines(actual, expected)}`,
        );
      }
    }
    generator.observe(expected);
    supply.observe(expected);
    tally(stats, command, expected);
    const last = i === options.commands - 1;
    if (subject !== undefined && ((i + 1) % compareEvery === 0 || last)) {
      const expectedDump = reference.dump();
      const actualDump = subject.dump();
      try {
        deepStrictEqual(actualDump, expectedDump);
      } catch {
        throw new DifferenceError(
          `${where(i, command)}: dumps differ after the command\ncommand: ${show(command)}\n` +
            differences(expectedDump, actualDump).join("\n"),
        );
      }
    }
    if ((checkEvery > 0 && (i + 1) % checkEvery === 0) || last) {
      for (const [name, model] of [
        ["reference", reference],
        ["engine", subject],
      ] as const) {
        if (model === undefined) continue;
        try {
          checkInvariants(model.dump(), generator.config, supply.supply);
        } catch (error) {
          throw new DifferenceError(
            `${where(i, command)}: ${name}: ${(error as Error).message}\ncommand: ${show(command)}`,
          );
        }
      }
    }
    if (options.onProgress !== undefined && (i + 1) % progressEvery === 0) options.onProgress(i + 1, stats);
  }
  return stats;
}
