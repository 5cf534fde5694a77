import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { tempDir } from "./helpers.js";

const bourse = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const driver = fileURLToPath(new URL("../../src/journal/load-driver.js", import.meta.url));

function run(args: string[]): { code: number; out: string } {
  const r = spawnSync(process.execPath, [bourse, ...args], { encoding: "utf8" });
  return { code: r.status ?? -1, out: r.stdout + r.stderr };
}

describe("bourse journal verify | inspect | repair, bourse snapshot", () => {
  it("verifies, inspects, snapshots, detects damage and repairs it", () => {
    const dir = tempDir("cli");
    try {
      const load = spawnSync(
        process.execPath,
        [driver, "--data-dir", dir, "--rate", "3000", "--duration-ms", "800", "--snapshotter", "none"],
        {
          encoding: "utf8",
        },
      );
      assert.equal(load.status, 0, load.stderr);
      let r = run(["journal", "verify", "--data-dir", dir]);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /ok: last seq \d+, state hash [0-9a-f]{64}/);
      r = run(["journal", "inspect", "--data-dir", dir, "--limit", "5"]);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /seq 1 .* create_account/);
      const segment = fs.readdirSync(dir).find((f) => f.startsWith("segment-"))!;
      const bytes = fs.readFileSync(`${dir}/${segment}`);
      bytes[Math.floor(bytes.length / 2)]! ^= 0x10;
      fs.writeFileSync(`${dir}/${segment}`, bytes);
      r = run(["journal", "verify", "--data-dir", dir]);
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, new RegExp(`PROBLEM: ${segment} at byte offset \\d+`));
      r = run(["journal", "repair", "--data-dir", dir]);
      assert.equal(r.code, 1, r.out);
      assert.match(r.out, /Run again with --yes/);
      r = run(["journal", "repair", "--data-dir", dir, "--yes"]);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /repaired: truncated/);
      r = run(["journal", "verify", "--data-dir", dir]);
      assert.equal(r.code, 0, r.out);
      r = run(["snapshot", "--data-dir", dir]);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /snapshot snapshot-\d+\.snap: seq \d+/);
      r = run(["journal", "verify", "--data-dir", dir]);
      assert.match(r.out, /valid, matches the replay/);
      assert.equal(run(["journal", "verify", "--help"]).code, 0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
