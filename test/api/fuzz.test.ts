/**
 * A few hundred malformed requests against the real node (npm run fuzz:api sends 10,000+): never a
 * 5xx, every error in the contract's shape, and the node still serves afterwards. WebSocket frames
 * get the same treatment.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import WebSocket from "ws";
import { Prng } from "../../src/platform/prng.js";
import { runFuzz } from "./fuzz.js";
import {
  type Account,
  adminToken,
  fundedAccount,
  request,
  startServer,
  type TestServer,
  WsClient,
} from "./helpers.js";

describe("fuzz", () => {
  let server: TestServer;
  let account: Account;

  before(async () => {
    server = await startServer();
    account = await fundedAccount(server);
  });
  after(async () => server.close());

  for (const seed of [1, 2, 3]) {
    it(`HTTP: 150 malformed requests, seed ${seed}`, async () => {
      const result = await runFuzz({
        url: server.url,
        account,
        adminToken,
        count: 150,
        seed,
        concurrency: 8,
      });
      assert.deepEqual(result.failures, [], `seed ${seed}`);
      assert.equal(result.sent, 150);
    });
  }

  it("WebSocket: malformed frames get error replies, never a crash", async () => {
    const prng = new Prng(7);
    const ws = await WsClient.open(server.wsUrl);
    await ws.auth(account);
    const frames = [
      "{",
      "null",
      "[]",
      '"text"',
      '{"op":1}',
      '{"op":"subscribe"}',
      '{"op":"subscribe","channel":"book","symbol":{"x":1}}',
      '{"op":"order.place"}',
      '{"op":"order.place","params":null}',
      '{"op":"order.place","params":{"__proto__":{"x":1}}}',
      '{"op":"order.place","params":{"symbol":"BTC-USD","side":"buy","type":"limit","price":1e5,"quantity":"1"}}',
      '{"op":"order.cancel","params":{"orderId":123}}',
      '{"op":"order.amend","params":{"orderId":"1","quantity":-1}}',
      '{"op":"auth","key":null}',
      `{"op":"ping","id":"${"x".repeat(1000)}"}`,
      '{"op":"ping","id":{"nested":true}}',
    ];
    for (let i = 0; i < 100; i++) ws.sendRaw(frames[prng.int(frames.length)]!);
    ws.ws.send(Buffer.from([0xff, 0xfe, 0x00]), { binary: true });
    const pong = await ws.send({ op: "ping" });
    assert.ok(pong.result, "the connection still answers");
    assert.ok(ws.anonymous.length > 0);
    for (const reply of ws.anonymous) assert.equal(typeof reply.error.code, "string");
    // A frame over the size limit closes that connection only.
    const big = new WebSocket(server.wsUrl);
    await new Promise((resolve) => big.once("open", resolve));
    const closed = new Promise<number>((resolve) => big.once("close", (code) => resolve(code)));
    big.send("x".repeat(128 * 1024));
    assert.equal(await closed, 1009);
    await ws.close();
    const health = await request(server.url, "GET", "/healthz");
    assert.equal(health.status, 200);
  });
});
