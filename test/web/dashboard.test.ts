/**
 * The dashboard end to end, in Debian's Chromium (playwright-core, headless) against the real Bourse
 * node: log in with a fresh account, place a limit order and see it in the book and in open orders,
 * amend it, cancel it, cross a new one from a second account in a second tab and see the trade in the
 * tape and in fills; client-side tick/lot validation; the book's gap → REST resync → live path and the
 * WebSocket's reconnect. Any console error, page error or failed request fails the test. Screenshots go
 * to test-artifacts/web/.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import type { ConsoleMessage, Locator, Page, Request, WebSocketRoute } from "playwright-core";
import {
  type Account,
  artifactPath,
  type Browser,
  chromiumPath,
  fundedAccount,
  launchChromium,
  signed,
  startWebServer,
  type WebServer,
} from "./harness.js";

const haveChromium = existsSync(chromiumPath);
// In CI the browser is installed by scripts/ensure-chromium.sh: a missing one is a failure, not a skip.
const skip = !haveChromium && process.env.CI === undefined ? `no Chromium at ${chromiumPath}` : false;

interface PageStats {
  symbol: string;
  sequence: number;
  bookState: string;
  bookUpdates: number;
  gaps: number;
  resyncs: number;
  socket: string;
  socketOpens: number;
}

const stats = (page: Page): Promise<PageStats> =>
  page.evaluate(() => (globalThis as unknown as { bourse: { stats(): PageStats } }).bourse.stats());

/** Polls `check` until it holds (or fails with `what` and the last value seen). */
async function until<T>(
  what: string,
  read: () => Promise<T>,
  check: (v: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await read();
    if (check(last)) return last;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const text = async (locator: Locator): Promise<string> => (await locator.textContent()) ?? "";
const connectionState = (page: Page): Promise<string | null> =>
  page.getByTestId("connection").getAttribute("data-state");

function bidRow(page: Page, price: string): Locator {
  return page.locator(`[data-testid="book-bids"] .lrow[data-price="${price}"]`);
}

/**
 * Problems a page reported: console errors, uncaught errors, failed requests, HTTP errors, and any
 * request to another origin (everything is bundled and served by Bourse itself).
 */
function watch(page: Page, name: string, problems: string[], origin: string): void {
  page.on("request", (r: Request) => {
    if (!r.url().startsWith(`${origin}/`) && !r.url().startsWith("data:")) {
      problems.push(`${name} request to another origin: ${r.url()}`);
    }
  });
  page.on("console", (m: ConsoleMessage) => {
    if (m.type() === "error") problems.push(`${name} console: ${m.text()}`);
  });
  page.on("pageerror", (e: Error) => problems.push(`${name} page error: ${e.message}`));
  page.on("requestfailed", (r: Request) =>
    problems.push(`${name} request failed: ${r.url()} ${r.failure()?.errorText}`),
  );
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`${name} HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
  });
}

async function logIn(page: Page, account: Account): Promise<void> {
  await page.getByTestId("login").click();
  await page.getByTestId("login-key").fill(account.apiKey);
  await page.getByTestId("login-secret").fill(account.apiSecret);
  await page.getByTestId("login-submit").click();
  await until(
    "the account id in the header",
    () => text(page.getByTestId("account")),
    (t) => t.includes(`Account #${account.accountId}`),
  );
}

async function enterOrder(page: Page, side: "buy" | "sell", price: string, quantity: string): Promise<void> {
  await page.getByTestId(`side-${side}`).click();
  await page.getByTestId("entry-type").selectOption("limit");
  await page.getByTestId("entry-price").fill(price);
  await page.getByTestId("entry-quantity").fill(quantity);
  await page.getByTestId("entry-submit").click();
}

describe("dashboard in Chromium", { skip, timeout: 120_000 }, () => {
  let server: WebServer;
  let browser: Browser;
  let page: Page;
  let maker: Account;
  let alice: Account;
  let bob: Account;
  const problems: string[] = [];
  const orderPosts: string[] = [];
  const started = Date.now();

  const noProblems = (): void => assert.deepEqual(problems, [], "the page reported errors");

  before(async () => {
    server = await startWebServer();
    [maker, alice, bob] = await Promise.all([
      fundedAccount(server, "maker"),
      fundedAccount(server, "alice"),
      fundedAccount(server, "bob"),
    ]);
    // A market to look at: three levels a side around 60,000, and two trades for the tape and candles.
    const place = async (account: Account, body: object): Promise<void> => {
      const r = await signed(server, account, "POST", "/v1/orders", body);
      assert.equal(r.status, 201, JSON.stringify(r.body));
    };
    for (const [side, prices] of [
      ["buy", ["59990.00", "59980.00", "59970.00"]],
      ["sell", ["60010.00", "60020.00", "60030.00"]],
    ] as const) {
      for (const price of prices) {
        await place(maker, { symbol: "BTC-USD", side, type: "limit", price, quantity: "0.2500" });
      }
    }
    await place(bob, {
      symbol: "BTC-USD",
      side: "buy",
      type: "market",
      quantity: "0.0500",
      timeInForce: "IOC",
    });
    await place(bob, {
      symbol: "BTC-USD",
      side: "sell",
      type: "market",
      quantity: "0.0300",
      timeInForce: "IOC",
    });
    browser = await launchChromium();
    page = await browser.context.newPage();
    watch(page, "alice", problems, server.url);
    page.on("request", (r) => {
      if (r.method() === "POST" && r.url().endsWith("/v1/orders")) orderPosts.push(r.postData() ?? "");
    });
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    process.stdout.write(`# dashboard suite: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  });

  it("serves the dashboard at / with its assets, content types, caching and CSP", async () => {
    const index = await fetch(`${server.url}/`, { headers: { "accept-encoding": "gzip" } });
    assert.equal(index.status, 200);
    assert.match(index.headers.get("content-type") ?? "", /^text\/html/);
    assert.equal(index.headers.get("cache-control"), "no-cache");
    assert.match(index.headers.get("content-security-policy") ?? "", /default-src 'self'/);
    const html = await index.text();
    const assets = [...html.matchAll(/(?:src|href)="\.?(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    assert.ok(assets.some((a) => a.endsWith(".js")) && assets.some((a) => a.endsWith(".css")), html);
    assert.doesNotMatch(html, /https?:\/\/(?!www\.w3\.org)/, "no asset from another origin");
    for (const asset of assets) {
      const r = await fetch(server.url + asset, { headers: { "accept-encoding": "br" } });
      assert.equal(r.status, 200, asset);
      assert.match(
        r.headers.get("content-type") ?? "",
        asset.endsWith(".js") ? /^text\/javascript/ : /^text\/css/,
      );
      assert.equal(r.headers.get("cache-control"), "public, max-age=31536000, immutable");
      const etag = r.headers.get("etag")!;
      await r.arrayBuffer();
      const again = await fetch(server.url + asset, { headers: { "if-none-match": etag } });
      assert.equal(again.status, 304);
    }
    const missing = await fetch(`${server.url}/assets/nope.js`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, "NOT_FOUND");
    const api = await fetch(`${server.url}/v1/markets`);
    assert.equal(api.status, 200, "the API is untouched");
    await api.arrayBuffer();
  });

  it("shows the live market: book, trades, ticker, candles, depth", async () => {
    await page.goto(`${server.url}/`);
    await until(
      "live",
      () => connectionState(page),
      (s) => s === "live",
    );
    await bidRow(page, "59990.00").waitFor();
    await page.locator('[data-testid="book-asks"] .lrow[data-price="60010.00"]').waitFor();
    await until(
      "two trades in the tape",
      () => page.locator('[data-testid="trades"] .trow:not([hidden])').count(),
      (n) => n === 2,
    );
    assert.equal(await text(page.getByTestId("ticker-last")), "59,990.00");
    await page.getByTestId("candles").locator("canvas").first().waitFor();
    await page.waitForTimeout(200);
    await page.screenshot({ path: artifactPath("01-market.png") });
    noProblems();
  });

  it("logs in with a fresh account: balances over the signed API and the account stream", async () => {
    await logIn(page, alice);
    await until(
      "USD balance",
      () => text(page.locator('[data-testid="balance"][data-asset="USD"]')),
      (t) => t.includes("1,000,000.000000"),
    );
    assert.match(await text(page.getByTestId("entry-submit")), /Buy BTC/);
    noProblems();
  });

  it("refuses a price off the tick and a quantity off the lot before sending anything", async () => {
    await enterOrder(page, "buy", "59950.005", "0.0100");
    await until(
      "tick error",
      () => text(page.getByTestId("entry-message")),
      (t) => t.includes("multiple of 0.01"),
    );
    assert.match((await page.getByTestId("entry-price").getAttribute("class")) ?? "", /invalid/);
    await enterOrder(page, "buy", "59950.00", "0.00015");
    await until(
      "lot error",
      () => text(page.getByTestId("entry-message")),
      (t) => t.includes("multiple of 0.0001"),
    );
    await enterOrder(page, "buy", "1.00", "0.0001");
    await until(
      "min notional",
      () => text(page.getByTestId("entry-message")),
      (t) => t.includes("at least 1.00"),
    );
    assert.deepEqual(orderPosts, [], "nothing was sent");
    noProblems();
  });

  it("places a limit order: in the book and in open orders", async () => {
    await enterOrder(page, "buy", "59950.00", "0.0100");
    await until(
      "placed",
      () => text(page.getByTestId("entry-message")),
      (t) => t.includes("placed"),
    );
    assert.equal(orderPosts.length, 1);
    assert.deepEqual(JSON.parse(orderPosts[0]!), {
      symbol: "BTC-USD",
      side: "buy",
      type: "limit",
      price: "59950.00",
      quantity: "0.0100",
      timeInForce: "GTC",
    });
    const row = page.getByTestId("open-order");
    await until(
      "one open order",
      () => row.count(),
      (n) => n === 1,
    );
    assert.equal(await text(row.getByTestId("order-price")), "59,950.00");
    assert.equal(await text(row.getByTestId("order-quantity")), "0.0100");
    await bidRow(page, "59950.00").waitFor();
    assert.equal(await text(bidRow(page, "59950.00").locator(".lqty")), "0.0100");
    assert.equal(await text(bidRow(page, "59950.00").locator(".lmine")), "●");
    assert.match(await text(page.getByTestId("tab-orders")), /Open orders \(1\)/);
    // The hold shows in the balances: 59950 × 0.01 = 599.50 plus the fee at 20 bp, 1.199 → 600.699000.
    await until(
      "USD locked",
      () => text(page.locator('[data-testid="balance"][data-asset="USD"]')),
      (t) => t.includes("600.699000"),
    );
    await page.screenshot({ path: artifactPath("02-order-placed.png") });
    noProblems();
  });

  it("amends the order's price and quantity (PATCH)", async () => {
    const row = page.getByTestId("open-order");
    await row.getByTestId("amend").click();
    await row.getByTestId("amend-price").fill("59960.00");
    await row.getByTestId("amend-quantity").fill("0.0200");
    await page.screenshot({ path: artifactPath("03-amending.png") });
    await row.getByTestId("amend-save").click();
    await until(
      "amended price",
      () => text(row.getByTestId("order-price")),
      (t) => t === "59,960.00",
    );
    assert.equal(await text(row.getByTestId("order-quantity")), "0.0200");
    await bidRow(page, "59960.00").waitFor();
    assert.equal(await text(bidRow(page, "59960.00").locator(".lqty")), "0.0200");
    await bidRow(page, "59950.00").waitFor({ state: "detached" });
    noProblems();
  });

  it("cancels it: gone from open orders and from the book", async () => {
    await page.getByTestId("open-order").getByTestId("cancel").click();
    await until(
      "no open order",
      () => page.getByTestId("open-order").count(),
      (n) => n === 0,
    );
    await bidRow(page, "59960.00").waitFor({ state: "detached" });
    await until(
      "USD unlocked",
      () => text(page.locator('[data-testid="balance"][data-asset="USD"]')),
      (t) => t.includes("1,000,000.000000"),
    );
    noProblems();
  });

  it("a second account crosses a new order from another tab: the trade shows in the tape and in fills", async () => {
    await enterOrder(page, "buy", "59995.00", "0.0150");
    await bidRow(page, "59995.00").waitFor();
    await until(
      "best bid in the ticker",
      () => text(page.getByTestId("ticker-bid")),
      (t) => t === "59,995.00",
    );

    const second = await browser.context.newPage();
    watch(second, "bob", problems, server.url);
    await second.goto(`${server.url}/#BTC-USD`);
    await until(
      "bob live",
      () => connectionState(second),
      (s) => s === "live",
    );
    await logIn(second, bob);
    await enterOrder(second, "sell", "59995.00", "0.0150");
    await until(
      "bob filled",
      () => text(second.getByTestId("entry-message")),
      (t) => t.includes("filled at 59995.00"),
    );

    // Alice's tab: the trade on top of the tape, her order gone, the fill in her history.
    const top = page.locator('[data-testid="trades"] .trow').first();
    await until(
      "the trade in alice's tape",
      () => text(top),
      (t) => t.includes("59,995.00") && t.includes("0.0150"),
    );
    await until(
      "no open order",
      () => page.getByTestId("open-order").count(),
      (n) => n === 0,
    );
    await bidRow(page, "59995.00").waitFor({ state: "detached" });
    assert.equal(await text(page.getByTestId("ticker-last")), "59,995.00");
    await page.getByTestId("tab-fills").click();
    const fill = page.getByTestId("fill").first();
    await until(
      "alice's fill",
      () => text(fill),
      (t) => t.includes("59,995.00") && t.includes("0.0150"),
    );
    assert.match(await text(fill), /Maker/);
    assert.match(await text(fill), /Buy/);
    await until(
      "BTC credited",
      () => text(page.locator('[data-testid="balance"][data-asset="BTC"]')),
      (t) => t.includes("100.01500000"),
    );
    await page.screenshot({ path: artifactPath("04-traded-maker.png") });

    // Bob's tab: his fill as taker.
    await second.getByTestId("tab-fills").click();
    await until(
      "bob's fill",
      () => text(second.getByTestId("fill").first()),
      (t) => t.includes("Taker"),
    );
    await second.screenshot({ path: artifactPath("05-traded-taker.png") });
    await second.close();
    noProblems();
  });

  it("pages fills through /v1/fills with the cursor", async () => {
    // 55 more fills for alice: she sweeps 55 small ETH-USD asks at once (a page holds 50).
    for (let i = 0; i < 55; i++) {
      const r = await signed(server, maker, "POST", "/v1/orders", {
        symbol: "ETH-USD",
        side: "sell",
        type: "limit",
        price: (3000 + i).toFixed(2),
        quantity: "0.001",
      });
      assert.equal(r.status, 201);
    }
    const r = await signed(server, alice, "POST", "/v1/orders", {
      symbol: "ETH-USD",
      side: "buy",
      type: "limit",
      price: "3100.00",
      quantity: "0.055",
      timeInForce: "IOC",
    });
    assert.equal(r.status, 201);
    assert.equal(r.body.status, "filled");
    // The live fills arrived on the orders channel; a reload starts from the first REST page.
    await page.reload();
    await until(
      "logged in again from sessionStorage",
      () => text(page.getByTestId("account")),
      (t) => t.includes(`Account #${alice.accountId}`),
    );
    await page.getByTestId("tab-fills").click();
    await until(
      "first page",
      () => page.getByTestId("fill").count(),
      (n) => n === 50,
    );
    await page.getByTestId("fills-more").click();
    await until(
      "second page",
      () => page.getByTestId("fill").count(),
      (n) => n === 56,
    );
    await page.getByTestId("fills-more").waitFor({ state: "hidden" });
    await page.getByTestId("tab-orders").click();
    noProblems();
  });

  it("switches candle interval and market", async () => {
    await page.getByTestId("interval-5m").click();
    await until(
      "5m active",
      () => page.getByTestId("interval-5m").getAttribute("class"),
      (c) => /active/.test(c ?? ""),
    );
    await page.getByTestId("market-ETH-USD").click();
    await until(
      "ETH-USD",
      () => stats(page),
      (s) => s.symbol === "ETH-USD" && s.bookState === "live",
    );
    assert.equal(new URL(page.url()).hash, "#ETH-USD");
    assert.match(await text(page.getByTestId("entry-submit")), /Buy ETH/);
    await page.getByTestId("market-BTC-USD").click();
    await until(
      "BTC-USD",
      () => stats(page),
      (s) => s.symbol === "BTC-USD" && s.bookState === "live",
    );
    await page.getByTestId("interval-1m").click();
    noProblems();
  });

  it("on a sequence gap shows resyncing, reloads the book over REST, and goes live again", async () => {
    const viewer = await browser.context.newPage();
    watch(viewer, "viewer", problems, server.url);
    let dropNext = false;
    let route: WebSocketRoute | undefined;
    await viewer.routeWebSocket(/\/v1\/ws$/, (ws) => {
      route = ws;
      const upstream = ws.connectToServer();
      upstream.onMessage((message) => {
        if (dropNext && typeof message === "string" && message.includes('"type":"update"')) {
          dropNext = false;
          return;
        }
        ws.send(message);
      });
    });
    // Slow the REST snapshot down so that the resyncing state can be seen (and photographed).
    let snapshots = 0;
    await viewer.route(/\/v1\/markets\/BTC-USD\/book/, async (r) => {
      snapshots++;
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      await r.continue();
    });
    await viewer.goto(`${server.url}/#BTC-USD`);
    await until(
      "viewer live",
      () => connectionState(viewer),
      (s) => s === "live",
    );
    dropNext = true;
    const place = async (price: string): Promise<void> => {
      const r = await signed(server, maker, "POST", "/v1/orders", {
        symbol: "BTC-USD",
        side: "buy",
        type: "limit",
        price,
        quantity: "0.0300",
      });
      assert.equal(r.status, 201);
    };
    await place("59900.00"); // this update is dropped…
    await place("59890.00"); // …so this one shows a gap
    await until(
      "resyncing",
      () => connectionState(viewer),
      (s) => s === "resyncing",
      5_000,
    );
    await viewer.screenshot({ path: artifactPath("06-resyncing.png") });
    await until(
      "live again",
      () => connectionState(viewer),
      (s) => s === "live",
      5_000,
    );
    await bidRow(viewer, "59900.00").waitFor();
    await bidRow(viewer, "59890.00").waitFor();
    const after = await stats(viewer);
    assert.equal(snapshots, 1);
    assert.ok(after.gaps >= 1 && after.resyncs === 1, JSON.stringify(after));

    // The connection drops: reconnecting, then live with a fresh snapshot and the channels back.
    route!.close({ code: 1012, reason: "test restart" });
    await until(
      "reconnecting",
      () => connectionState(viewer),
      (s) => s === "reconnecting",
      5_000,
    );
    await viewer.screenshot({ path: artifactPath("07-reconnecting.png") });
    await until(
      "live after reconnect",
      () => connectionState(viewer),
      (s) => s === "live",
      10_000,
    );
    await place("59880.00");
    await bidRow(viewer, "59880.00").waitFor();
    assert.equal((await stats(viewer)).socketOpens, 2);
    await viewer.close();
    noProblems();
  });

  it("logs out: the account panels are emptied and the session forgotten", async () => {
    await page.getByTestId("logout").click();
    await page.getByTestId("login").waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
    assert.match(await text(page.getByTestId("entry-submit")), /Log in to trade/);
    await until(
      "live",
      () => connectionState(page),
      (s) => s === "live",
    );
    noProblems();
  });
});
