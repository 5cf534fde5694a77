/**
 * The error catalog: every engine code is in it unchanged, and every code is documented in
 * docs/errors.md (fastify's habit: a test fails when a code is added without documentation).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { ApiError, errorCatalog } from "../../src/api/errors.js";
import { engineCodes } from "../../src/engine/codes.js";

const docs = readFileSync(new URL("../../../docs/errors.md", import.meta.url), "utf8");
/** Table rows of docs/errors.md by code: the trimmed cells (a formatter may pad them). */
const rows = new Map(
  docs
    .split("\n")
    .filter((line) => /^\|\s*`[A-Z_]+`\s*\|/.test(line))
    .map((line) => {
      const cells = line
        .split("|")
        .slice(1, -1)
        .map((c) => c.trim());
      return [cells[0]!.replaceAll("`", ""), cells] as const;
    }),
);

describe("error catalog", () => {
  it("holds every engine code with the engine's status and message", () => {
    for (const [code, info] of Object.entries(engineCodes)) {
      const entry = errorCatalog.get(code as never);
      assert.ok(entry, `${code} is in the catalog`);
      assert.equal(entry.status, info.status, code);
      assert.equal(entry.message, info.message, code);
    }
  });

  it("documents every code in docs/errors.md with its HTTP status", () => {
    for (const entry of errorCatalog.values()) {
      const cells = rows.get(entry.code);
      assert.ok(cells, `docs/errors.md has a row for ${entry.code}`);
      assert.equal(
        cells[1],
        String(entry.status),
        `docs/errors.md gives ${entry.code} status ${entry.status}`,
      );
    }
  });

  it("documents no code that does not exist", () => {
    const documented = [...docs.matchAll(/^\|\s*`([A-Z_]+)`\s*\|/gm)].map((m) => m[1]!);
    for (const code of documented) assert.ok(errorCatalog.has(code as never), `${code} is in the catalog`);
    assert.equal(new Set(documented).size, documented.length, "each code is documented once");
  });

  it("builds replies of the contract's shape", () => {
    const error = new ApiError("INSUFFICIENT_FUNDS");
    assert.equal(error.status, 400);
    assert.deepEqual(error.body(), {
      error: { code: "INSUFFICIENT_FUNDS", message: "available balance is too low" },
    });
    assert.throws(() => new ApiError("NO_SUCH_CODE" as never));
  });
});
