/**
 * `--demo`: demo accounts and bots make the book and the tape move.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { request, startServer } from "./helpers.js";

describe("demo", () => {
  it("quotes every default market and trades", async () => {
    const server = await startServer({ demo: true });
    try {
      const deadline = Date.now() + 10_000;
      let traded = new Set<string>();
      while (traded.size < 3 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        traded = new Set();
        for (const symbol of ["BTC-USD", "ETH-USD", "ETH-BTC"]) {
          const trades = await request(server.url, "GET", `/v1/markets/${symbol}/trades?limit=1`);
          if (trades.body.length > 0) traded.add(symbol);
        }
      }
      assert.equal(traded.size, 3, "every market traded");
      const book = await request(server.url, "GET", "/v1/markets/BTC-USD/book?depth=5");
      assert.ok(book.body.bids.length > 0 && book.body.asks.length > 0, "both sides quoted");
    } finally {
      await server.close();
    }
  });
});
