/**
 * Durability end to end: stop the node (or kill it) and start it again on the same data directory;
 * acknowledged orders, balances and API keys are all back. Also runs `bourse start` as a real child
 * process: --port/--data-dir, the admin token printed once, SIGTERM exiting 0, SIGKILL losing nothing
 * that was acknowledged.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { startBourse } from "../../src/node/bourse.js";
import { resolveConfig } from "../../src/node/config.js";
import { type Account, fundedAccount, limit, request, signed, startServer } from "./helpers.js";

const mainJs = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

interface Child {
  process: ChildProcess;
  url: string;
  output: () => string;
  exited: Promise<number | null>;
}

async function spawnNode(dataDir: string, env: Record<string, string> = {}): Promise<Child> {
  const child = spawn(process.execPath, [mainJs, "start", "--port", "0", "--data-dir", dataDir], {
    env: { ...process.env, BOURSE_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const deadline = Date.now() + 15_000;
  for (;;) {
    const match = /listening on (http:\/\/127\.0\.0\.1:[0-9]+)/.exec(output);
    if (match) return { process: child, url: match[1]!, output: () => output, exited };
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`bourse start did not come up:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("durability", () => {
  const dirs: string[] = [];
  const tempDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), "bourse-durability-"));
    dirs.push(dir);
    return dir;
  };
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it("a restart on the same data directory brings back orders, balances and API keys", async () => {
    const dataDir = tempDir();
    const first = await startServer({ dataDir });
    const maker = await fundedAccount(first);
    const taker = await fundedAccount(first);
    const resting = await signed(
      first,
      maker,
      "POST",
      "/v1/orders",
      limit("BTC-USD", "sell", "50000.00", "1.0000", { clientOrderId: "rest-1" }),
    );
    const filled = await signed(
      first,
      taker,
      "POST",
      "/v1/orders",
      limit("BTC-USD", "buy", "50000.00", "0.2500", { clientOrderId: "gone-1" }),
    );
    assert.equal(filled.body.status, "filled");
    const stop = await signed(first, taker, "POST", "/v1/orders", {
      symbol: "BTC-USD",
      side: "buy",
      type: "stop_limit",
      price: "60000.00",
      stopPrice: "55000.00",
      quantity: "0.1000",
    });
    const balancesBefore = await signed(first, maker, "GET", "/v1/balances");
    const bookBefore = await request(first.url, "GET", "/v1/markets/BTC-USD/book");
    await first.stop();

    const second = await startServer({ dataDir });
    try {
      // The same API key and secret authenticate: credentials are as durable as balances.
      const balancesAfter = await signed(second, maker, "GET", "/v1/balances");
      assert.equal(balancesAfter.status, 200);
      assert.deepEqual(balancesAfter.body, balancesBefore.body);
      const adminView = await second.admin("GET", `/v1/admin/accounts/${taker.accountId}/balances`);
      assert.equal(adminView.status, 200);
      const bookAfter = await request(second.url, "GET", "/v1/markets/BTC-USD/book");
      assert.deepEqual(bookAfter.body.bids, bookBefore.body.bids);
      assert.deepEqual(bookAfter.body.asks, bookBefore.body.asks);
      assert.ok(bookAfter.body.sequence >= bookBefore.body.sequence, "the book sequence never goes back");

      const open = await signed(second, maker, "GET", `/v1/orders/${resting.body.orderId}`);
      assert.equal(open.status, 200);
      assert.equal(open.body.status, "partially_filled");
      assert.equal(open.body.filledQuantity, "0.2500");
      const stopAfter = await signed(second, taker, "GET", `/v1/orders/${stop.body.orderId}`);
      assert.equal(stopAfter.body.status, "untriggered");

      // A repeated clientOrderId: an open order is returned; a closed one the API no longer holds is 409.
      const repeatOpen = await signed(
        second,
        maker,
        "POST",
        "/v1/orders",
        limit("BTC-USD", "sell", "50000.00", "1.0000", { clientOrderId: "rest-1" }),
      );
      assert.equal(repeatOpen.status, 200);
      assert.equal(repeatOpen.body.orderId, resting.body.orderId);
      const repeatClosed = await signed(
        second,
        taker,
        "POST",
        "/v1/orders",
        limit("BTC-USD", "buy", "50000.00", "0.2500", { clientOrderId: "gone-1" }),
      );
      assert.equal(repeatClosed.status, 409);
      assert.equal(repeatClosed.body.error.code, "DUPLICATE_CLIENT_ORDER_ID");
      assert.match(repeatClosed.body.error.message, new RegExp(`order ${filled.body.orderId}\\b`));

      const next = await signed(
        second,
        taker,
        "POST",
        "/v1/orders",
        limit("BTC-USD", "buy", "40000.00", "0.1000"),
      );
      assert.equal(next.status, 201);
      assert.ok(Number(next.body.orderId) > Number(stop.body.orderId), "order ids continue after a restart");
      const cancel = await signed(second, maker, "DELETE", `/v1/orders/${resting.body.orderId}`);
      assert.equal(cancel.status, 200);
    } finally {
      await second.stop();
    }
  });

  it("one node per data directory; a start that fails releases the directory", async () => {
    const dataDir = tempDir();
    const first = await startServer({ dataDir });
    try {
      // Another process on the same directory is refused (the journal's LOCK holds this process's pid).
      const second = spawn(process.execPath, [mainJs, "start", "--port", "0", "--data-dir", dataDir], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      second.stdout!.on("data", (c) => (output += c.toString()));
      second.stderr!.on("data", (c) => (output += c.toString()));
      const code = await new Promise<number | null>((resolve) => second.once("exit", resolve));
      assert.equal(code, 1, output);
      assert.match(output, /in use by process/);
      const { port } = new URL(first.url);
      const otherDir = tempDir();
      // A port already in use fails the start after recovery: the journal and its LOCK are released.
      const base = resolveConfig({ port, host: "127.0.0.1", dataDir: otherDir }, {});
      await assert.rejects(
        startBourse({ ...base, adminToken: "x", logLevel: "silent" }, { logger: pino({ level: "silent" }) }),
        /EADDRINUSE/,
      );
      const retry = await startServer({ dataDir: otherDir });
      await retry.stop();
    } finally {
      await first.stop();
    }
  });

  it("`bourse start` in a child process: token printed once, SIGTERM exits 0, SIGKILL loses no ack", async () => {
    const dataDir = tempDir();
    const first = await spawnNode(dataDir);
    assert.match(first.output(), /Admin token/);
    const token = /\n {2}(bat_[0-9a-f]+)\n/.exec(first.output())![1]!;
    const server = {
      url: first.url,
      admin: (method: string, path: string, body?: unknown) =>
        request(first.url, method, path, body, { authorization: `Bearer ${token}` }),
    };
    const created = await server.admin("POST", "/v1/admin/accounts", { name: "child" });
    assert.equal(created.status, 201);
    const account = created.body as Account;
    const deposit = await server.admin("POST", `/v1/admin/accounts/${account.accountId}/deposits`, {
      asset: "USD",
      amount: "1000",
      transferId: "child-1",
    });
    assert.equal(deposit.status, 200);
    first.process.kill("SIGTERM");
    assert.equal(await first.exited, 0, first.output());
    assert.match(first.output(), /bourse stopped/);

    const second = await spawnNode(dataDir);
    assert.doesNotMatch(second.output(), /Admin token/, "the token is printed at first start only");
    const placed = await signed(
      { url: second.url },
      account,
      "POST",
      "/v1/orders",
      limit("ETH-USD", "buy", "100.00", "1.000"),
    );
    assert.equal(placed.status, 201, placed.text);
    // Acknowledged means durable: a kill -9 right after the reply loses nothing.
    second.process.kill("SIGKILL");
    await second.exited;

    const third = await spawnNode(dataDir, { BOURSE_ADMIN_TOKEN: "another-token-from-env" });
    try {
      const order = await signed({ url: third.url }, account, "GET", `/v1/orders/${placed.body.orderId}`);
      assert.equal(order.status, 200);
      assert.equal(order.body.status, "open");
      const balances = await request(
        third.url,
        "GET",
        `/v1/admin/accounts/${account.accountId}/balances`,
        undefined,
        {
          authorization: "Bearer another-token-from-env",
        },
      );
      assert.equal(balances.body[0].locked, "100.200000");
    } finally {
      third.process.kill("SIGTERM");
      assert.equal(await third.exited, 0);
    }
  });
});
