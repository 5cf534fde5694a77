/**
 * `npm run sim:journal`: the deterministic simulation over many seeds (10,000 by default).
 *   node dist/test/journal/simulate.js [--seeds N] [--from S] [--seed S]
 * A failing seed prints itself and the command that replays it.
 */
import { runSeed, runSeeds } from "./simulation.js";

function option(name: string): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : undefined;
}

const single = option("seed");
if (single !== undefined) {
  console.log(JSON.stringify(await runSeed(single)));
} else {
  const count = option("seeds") ?? 10_000;
  const from = option("from") ?? 1;
  const t0 = performance.now();
  try {
    const reports = await runSeeds(from, count, (done) => {
      if (done % 500 === 0) process.stderr.write(`  ${done}/${count} seeds\n`);
    });
    const sum = (k: "acked" | "crashes" | "faults" | "snapshots" | "commands") =>
      reports.reduce((s, r) => s + r[k], 0);
    console.log(
      `journal simulation: ${count} seeds (${from}..${from + count - 1}) passed in ${((performance.now() - t0) / 1000).toFixed(1)} s: ` +
        `${sum("commands")} commands, ${sum("acked")} acknowledged, ${sum("crashes")} crashes, ` +
        `${sum("faults")} injected faults, ${sum("snapshots")} snapshots`,
    );
  } catch (error) {
    console.error((error as Error).message);
    process.exitCode = 1;
  }
}
