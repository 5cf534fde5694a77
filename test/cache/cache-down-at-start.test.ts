/**
 * The cache's Redis is down when the cluster starts (real processes): the engine and the API node
 * start anyway and take orders (matching never depends on the cache); public REST reads answer
 * 503 MARKET_DATA_UNAVAILABLE rather than a book nobody synced; once the cache's Redis starts, the
 * leader publishes, the API node's replica syncs, and GET /book shows the orders placed meanwhile.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { signed } from "../api/helpers.js";
import { startRedis } from "../cluster/redis-servers.js";
import {
  accountVisible,
  clusterSecrets,
  createAccount,
  restBook,
  startApi,
  startEngine,
  stopCacheCluster,
  until,
} from "./cluster-nodes.js";
import { startCacheRedis } from "./redis-instances.js";

it("starts and takes orders with the cache down; market data follows once the cache is up", async () => {
  const journalRedis = await startRedis();
  const cacheRedis = await startCacheRedis();
  await cacheRedis.stop({ keep: true });
  const secrets = clusterSecrets();
  const journal = `${journalRedis.url}?durability=aof-always&replicas=0&namespace=t2`;
  const cache = `${cacheRedis.url}?namespace=t2`;
  const engine = await startEngine({ journal, cache, nodeId: "e1", secrets });
  const api = await startApi({ name: "api", journal, cache, secrets });
  try {
    const trader = await createAccount(api);
    await accountVisible(api, trader);
    const placed = await signed(api, trader, "POST", "/v1/orders", {
      symbol: "BTC-USD",
      side: "buy",
      type: "limit",
      price: "100.00",
      quantity: "0.0100",
    });
    assert.equal(placed.status, 201, placed.text);

    const unsynced = await restBook(api, "BTC-USD");
    assert.equal(unsynced.status, 503, unsynced.text);
    assert.equal(unsynced.body.error.code, "MARKET_DATA_UNAVAILABLE");

    await cacheRedis.restart();
    let last = unsynced;
    const synced = await until(async () => {
      last = await restBook(api, "BTC-USD");
      return last.status === 200 && last.body.bids.length === 1;
    }, 20_000);
    assert.ok(synced, `GET /book after the cache started: ${last.status} ${last.text}`);
    assert.deepEqual(last.body.bids, [["100.00", "0.0100"]]);
  } finally {
    await stopCacheCluster({
      watchers: [],
      wsTraders: [],
      apis: [api],
      engine,
      servers: [cacheRedis, journalRedis],
    });
  }
});
