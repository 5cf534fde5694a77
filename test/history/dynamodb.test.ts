/**
 * The shared history suite on DynamoDB, against DynamoDB Local started for this file (in memory,
 * on a free port, stopped at the end). Each test gets its own tables (a fresh prefix).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { DescribeTimeToLiveCommand, DynamoDBClient, QueryCommand } from "@aws-sdk/client-dynamodb";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { DynamoHistoryStore } from "../../src/history/dynamo-store.js";
import { parseHistoryUrl } from "../../src/history/open-store.js";
import { rebuildBalance } from "../../src/history/rebuild-balance.js";
import { HistoryWriter } from "../../src/history/writer.js";
import { type DynamoLocal, startDynamoLocal } from "./dynamodb-local.js";
import { ArraySource, generate, storedTradeIds, workloadConfig } from "./helpers.js";
import { historySuite } from "./suite.js";

const symbols = workloadConfig.markets.map((m) => m.symbol);

let local: DynamoLocal | null = null;
let count = 0;

before(async () => {
  local = await startDynamoLocal();
});
after(async () => {
  await local?.stop();
});

historySuite("DynamoDB Local", {
  commands: 2_500,
  freshUrl: () => local!.url(`t${++count}_`),
  crashCommands: 2_500,
  crashBatchCommands: 100,
  fresh: async () => {
    const location = parseHistoryUrl(local!.url(`t${++count}_`), "");
    if (location.kind !== "dynamodb") throw new Error("expected a DynamoDB URL");
    const store = new DynamoHistoryStore(location);
    await store.open();
    return store;
  },
});

test("DynamoDB: a batch whose items are all written but not its checkpoint is rewritten exactly (balances as of the checkpoint)", async () => {
  // Fault injection on the transport, against the real DynamoDB Local: the checkpoint write of the
  // writer's second batch fails after every item of that batch (balances included) was stored: the
  // window a crash leaves, where the store is ahead of its checkpoint.
  const inner = new NodeHttpHandler();
  let checkpointWrites = 0;
  let failAt = -1;
  const handler = {
    handle: (
      request: Parameters<NodeHttpHandler["handle"]>[0],
      options?: Parameters<NodeHttpHandler["handle"]>[1],
    ) => {
      if (request.headers["x-amz-target"] === "DynamoDB_20120810.PutItem" && ++checkpointWrites === failAt) {
        // Not a retryable error: the whole batch fails, as if the process had died in the middle of it.
        return Promise.reject(Object.assign(new Error("injected fault"), { name: "InjectedFault" }));
      }
      return inner.handle(request, options);
    },
    updateHttpClientConfig: () => {},
    httpHandlerConfigs: () => ({}),
  };
  const location = parseHistoryUrl(local!.url(`cut${++count}_`), "");
  if (location.kind !== "dynamodb") throw new Error("expected a DynamoDB URL");
  const store = new DynamoHistoryStore(location, { requestHandler: handler, maxAttempts: 1 });
  await store.open();
  const g = generate(31, 1_200, 6);
  const writer = new HistoryWriter({
    store,
    config: workloadConfig,
    source: new ArraySource(g.commands),
    batchCommandsMax: 600,
    log: () => {},
  });
  await writer.start();
  for (const c of g.commands.slice(0, 600)) writer.enqueue(c.seq, c.time, c.events);
  await writer.drain();
  failAt = checkpointWrites + 1;
  for (const c of g.commands.slice(600)) writer.enqueue(c.seq, c.time, c.events);
  await writer.drain();
  assert.ok(writer.metrics().writeRetries >= 1, "the cut batch was retried");
  await writer.close();
  assert.equal(await store.checkpoint(), 1_200);
  assert.deepEqual(
    await storedTradeIds(store, symbols),
    g.trades.map((t) => t.tradeId),
  );
  for (const sample of g.samples) {
    const rebuilt = await rebuildBalance(store, sample.accountId, sample.seq);
    for (const e of sample.balances) {
      const b = rebuilt.find((r) => r.asset === e.asset);
      assert.equal(b?.available ?? 0, e.available);
      assert.equal(b?.locked ?? 0, e.locked);
    }
  }
  await store.close();
});

test("DynamoDB: ttlDays turns on TTL on the history tables and stamps every item with expiresAt", async () => {
  const prefix = `ttl${++count}_`;
  const location = parseHistoryUrl(`${local!.url(prefix)}&ttlDays=30`, "");
  if (location.kind !== "dynamodb") throw new Error("expected a DynamoDB URL");
  const store = new DynamoHistoryStore(location);
  await store.open();
  const g = generate(12, 400, 4);
  const writer = new HistoryWriter({ store, config: workloadConfig, log: () => {} });
  await writer.start();
  for (const c of g.commands) writer.enqueue(c.seq, c.time, c.events);
  await writer.drain();
  await writer.close();
  await store.close();
  const client = new DynamoDBClient({
    region: "us-east-1",
    endpoint: local!.endpoint,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  for (const table of ["trades", "fills", "orders", "ledger"]) {
    const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: `${prefix}${table}` }));
    assert.equal(ttl.TimeToLiveDescription?.AttributeName, "expiresAt");
    assert.match(ttl.TimeToLiveDescription?.TimeToLiveStatus ?? "", /ENABL/);
  }
  const t = g.trades[0]!;
  const item = await client.send(
    new QueryCommand({
      TableName: `${prefix}trades`,
      KeyConditionExpression: "symbol = :s",
      ExpressionAttributeValues: { ":s": { S: t.symbol } },
      Limit: 1,
    }),
  );
  const first = item.Items![0]!;
  assert.equal(Number(first.expiresAt!.N), Math.floor(Number(first.time!.N) / 1000) + 30 * 86_400);
  client.destroy();
});
