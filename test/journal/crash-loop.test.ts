import assert from "node:assert/strict";
import fs from "node:fs";
import { it } from "node:test";
import { runCrashLoop } from "./crash-loop.js";
import { tempDir } from "./helpers.js";

it("real processes: 12 rounds of kill -9 under load lose no acknowledged command", async () => {
  const dir = tempDir("crash-ci");
  try {
    const result = await runCrashLoop({
      dir,
      rounds: 12,
      rate: 4_000,
      seed: 7,
      log: (line) => console.log(line),
    });
    assert.equal(result.rounds, 12);
    assert.ok(result.acked > 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
