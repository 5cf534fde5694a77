/**
 * `npm run crash:journal`: 200 rounds of the real-process crash loop (kill -9 under load, restart,
 * check). node dist/test/journal/crash.js [--rounds N] [--rate R] [--seed S] [--data-dir DIR]
 */
import fs from "node:fs";
import { runCrashLoop } from "./crash-loop.js";
import { tempDir } from "./helpers.js";

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

const dir = option("data-dir", "") || tempDir("crash");
const t0 = performance.now();
try {
  const result = await runCrashLoop({
    dir,
    rounds: Number(option("rounds", "200")),
    rate: Number(option("rate", "5000")),
    seed: Number(option("seed", "1")),
    log: (line) => console.log(line),
  });
  console.log(
    `crash loop: ${result.rounds} rounds, ${result.kills} kill -9, ${result.acked} acknowledged commands checked, ` +
      `none lost; journal at seq ${result.lastSeq}; ${((performance.now() - t0) / 1000).toFixed(0)} s (data: ${dir})`,
  );
  if (!option("data-dir", "")) fs.rmSync(dir, { recursive: true, force: true });
} catch (error) {
  console.error(
    `crash loop FAILED: ${(error as Error).message}\n(data kept in ${dir}; replay with --seed ${option("seed", "1")})`,
  );
  process.exitCode = 1;
}
