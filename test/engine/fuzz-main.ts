/**
 * `npm run fuzz:engine -- --commands N --seed S [--config default|test|both] [--check-every K]`
 *
 * The differential test at length: N seeded commands (default 1,000,000) through the reference
 * model and the fast engine, events compared after every command and dumps every 1,000; invariants
 * every K commands (default 10,000). Prints progress, then one final line; exits 1 on the first
 * difference with everything needed to replay it (the same seed and N replay it exactly).
 */
import { parseArgs } from "node:util";
import { defaultConfig, type EngineConfig } from "../../src/engine/config.js";
import { Engine } from "../../src/engine/engine.js";
import { type DifferentialStats, runDifferential } from "./differential.js";
import { testConfig } from "./generator.js";

const { values } = parseArgs({
  options: {
    commands: { type: "string", default: "1000000" },
    seed: { type: "string" },
    config: { type: "string", default: "both" },
    "check-every": { type: "string", default: "10000" },
  },
});

const commands = Number(values.commands);
// Without --seed, a fresh one each run (printed, so that a failure can be replayed).
const seed = values.seed === undefined ? Date.now() % 2 ** 32 : Number(values.seed);
const checkEvery = Number(values["check-every"]);
if (!Number.isSafeInteger(commands) || commands <= 0 || !Number.isSafeInteger(seed) || !(checkEvery >= 0)) {
  console.error("usage: fuzz-main --commands N --seed S [--config default|test|both] [--check-every K]");
  process.exit(2);
}
const configs: [string, EngineConfig][] = [];
if (values.config !== "test") configs.push(["default", defaultConfig]);
if (values.config !== "default") configs.push(["test", testConfig]);

function line(stats: DifferentialStats): string {
  return `${stats.commands} commands, ${stats.events} events, ${stats.trades} trades, ${Object.values(stats.rejected).reduce((a, b) => a + b, 0)} rejections`;
}

let total = 0;
const started = Date.now();
for (const [name, config] of configs) {
  // Split the commands between the configurations; each stream has its own seed derived from S.
  const share =
    Math.floor(commands / configs.length) + (name === configs[0]![0] ? commands % configs.length : 0);
  const streamSeed = name === "default" ? seed : (seed ^ 0x5bd1e995) >>> 0;
  const t0 = Date.now();
  console.log(`fuzz:engine ${name} markets, seed ${streamSeed}, ${share} commands`);
  try {
    const stats = runDifferential({
      seed: streamSeed,
      commands: share,
      config,
      subject: (c) => new Engine(c),
      checkEvery,
      progressEvery: 100_000,
      onProgress: (done, s) =>
        done < share &&
        console.log(`  ${done} / ${share}: ${line(s)}, ${((Date.now() - t0) / 1000).toFixed(1)} s`),
    });
    total += stats.commands;
    console.log(`  done: ${line(stats)}, ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } catch (error) {
    console.error((error as Error).message);
    console.log(
      `fuzz:engine FAILED on the ${name} markets (seed ${streamSeed}); replay: --seed ${seed} --commands ${commands} --config ${values.config}`,
    );
    process.exit(1);
  }
}
console.log(
  `fuzz:engine ok: seed ${seed}, ${total} commands identical on engine and reference, ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
