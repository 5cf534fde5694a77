/**
 * `npm run failover:redis`: the failover-under-load proof with more rounds than CI runs.
 *   node dist/test/cluster/failover-main.js [--rounds 100] [--seed 1] [--lease-ms 600]
 * Prints one line per round, then one JSON object with the report.
 */
import { runFailover } from "./failover.js";

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

const started = performance.now();
const report = await runFailover({
  rounds: Number(option("rounds", "100")),
  seed: Number(option("seed", "1")),
  leaseMs: Number(option("lease-ms", "600")),
  log: (line) => process.stdout.write(`${line}\n`),
});
process.stdout.write(
  `${JSON.stringify({ ...report, failoverMs: undefined, takeoverMs: undefined, seconds: (performance.now() - started) / 1000 })}\n`,
);
