/**
 * The `bourse` command: --help on every subcommand, and `bourse accounts …` against a running server.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { adminToken, startServer, type TestServer } from "./helpers.js";

const run = promisify(execFile);
const mainJs = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));
const bourse = (...args: string[]) =>
  run(process.execPath, [mainJs, ...args], { env: { ...process.env, BOURSE_ADMIN_TOKEN: "" } });

describe("bourse CLI", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(async () => server.close());

  it("has --help on every command", async () => {
    const top = await bourse("--help");
    for (const command of ["start", "accounts", "journal"])
      assert.match(top.stdout, new RegExp(`\\b${command}\\b`));
    const start = await bourse("start", "--help");
    for (const flag of ["--port", "--data-dir", "--host", "--markets", "--tls-cert", "--tls-key", "--demo"]) {
      assert.match(start.stdout, new RegExp(flag));
    }
    for (const sub of ["create", "deposit", "withdraw", "balances"]) {
      const help = await bourse("accounts", sub, "--help");
      assert.match(help.stdout, /--url/);
      assert.match(help.stdout, /--admin-token/);
    }
  });

  it("creates an account, deposits, withdraws and lists balances on a running server", async () => {
    const connection = ["--url", server.url, "--admin-token", adminToken];
    const created = JSON.parse((await bourse("accounts", "create", "--name", "cli", ...connection)).stdout);
    assert.match(created.accountId, /^[0-9]+$/);
    assert.match(created.apiSecret, /^[0-9a-f]{64}$/);
    const deposit = JSON.parse(
      (
        await bourse(
          "accounts",
          "deposit",
          created.accountId,
          "USD",
          "12.5",
          "--transfer-id",
          "cli-1",
          ...connection,
        )
      ).stdout,
    );
    assert.deepEqual(deposit, { asset: "USD", available: "12.500000", locked: "0.000000" });
    await bourse("accounts", "withdraw", created.accountId, "USD", "2.5", ...connection);
    const balances = JSON.parse(
      (await bourse("accounts", "balances", created.accountId, ...connection)).stdout,
    );
    assert.equal(balances[0].available, "10.000000");
    await assert.rejects(bourse("accounts", "balances", "999999", ...connection), /UNKNOWN_ACCOUNT/);
    await assert.rejects(
      bourse("accounts", "balances", "1", "--url", server.url, "--admin-token", "wrong"),
      /UNAUTHORIZED/,
    );
  });
});
