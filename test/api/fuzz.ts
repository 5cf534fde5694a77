/**
 * Malformed-request fuzzer for the API: seeded, so a failure replays exactly from its seed.
 * Requests mix bad JSON, JSON numbers where decimals belong, exponents, signs, huge values, 2 MB
 * bodies, `__proto__`/`constructor` keys, wrong types, wrong methods, odd paths and raw broken HTTP,
 * signed with a real account half of the time so that they reach validation and the engine. The
 * property: never a 5xx, always the error shape, and the server keeps serving.
 *
 * `npm run fuzz:api` runs it standalone (10,000+ requests); test/api/fuzz.test.ts runs a few hundred.
 */
import { createHmac } from "node:crypto";
import { Agent, request as httpRequest } from "node:http";
import { connect } from "node:net";
import { Prng } from "../../src/platform/prng.js";

export interface FuzzAccount {
  apiKey: string;
  apiSecret: string;
  accountId: string;
}

export interface FuzzOptions {
  url: string;
  account: FuzzAccount;
  adminToken: string;
  count: number;
  seed: number;
  concurrency?: number;
}

export interface FuzzFailure {
  index: number;
  method: string;
  path: string;
  body: string;
  status: number;
  reply: string;
}

export interface FuzzResult {
  sent: number;
  byStatus: Record<string, number>;
  failures: FuzzFailure[];
}

interface FuzzRequest {
  method: string;
  path: string;
  body: string | null;
  headers: Record<string, string>;
  /** Sent on a raw socket, bytes as they are. */
  raw?: string;
}

const symbols = [
  "BTC-USD",
  "ETH-USD",
  "ETH-BTC",
  "NOPE-USD",
  "",
  "btc-usd",
  "BTC-USD/../ETH-USD",
  "%00",
  "💥",
];
const methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "PROPFIND"];
const decimals: unknown[] = [
  "1",
  "0",
  "0.1",
  "42000.50",
  "1e5",
  "1E-3",
  "-1",
  "+1",
  ".5",
  "5.",
  " 5",
  "5 ",
  "0x10",
  "NaN",
  "Infinity",
  "1,5",
  "١٢٣",
  "9".repeat(64),
  "9".repeat(65),
  `0.${"0".repeat(62)}1`,
  "99999999999999999999999999",
  "0.000000001",
  "",
  42000.5,
  1e308,
  -1,
  0,
  true,
  null,
  [],
  {},
  ["1"],
  { $gt: "" },
];

function pick<T>(prng: Prng, items: readonly T[]): T {
  return items[prng.int(items.length)]!;
}

function randomString(prng: Prng, max: number): string {
  const alphabets = [
    "abcXYZ019_-",
    "!@#$%^&*(){}[]<>?/\\|'\"`~",
    "\u0000\u0001\u001f\u007f",
    "é漢字🙂\ud800",
    " \t\r\n",
  ];
  const alphabet = pick(prng, alphabets);
  let s = "";
  const n = prng.int(max + 1);
  for (let i = 0; i < n; i++) s += alphabet[prng.int(alphabet.length)];
  return s;
}

function maybe(prng: Prng, p = 0.5): boolean {
  return prng.chance(p);
}

function orderBody(prng: Prng): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (maybe(prng, 0.9)) body.symbol = pick(prng, symbols);
  if (maybe(prng, 0.9)) body.side = pick(prng, ["buy", "sell", "BUY", "hold", 1, null]);
  if (maybe(prng, 0.9))
    body.type = pick(prng, ["limit", "market", "stop_limit", "stop_market", "iceberg", 0]);
  if (maybe(prng, 0.8)) body.price = pick(prng, decimals);
  if (maybe(prng, 0.3)) body.stopPrice = pick(prng, decimals);
  if (maybe(prng, 0.8)) body.quantity = pick(prng, decimals);
  if (maybe(prng, 0.2)) body.quoteQuantity = pick(prng, decimals);
  if (maybe(prng, 0.3)) body.timeInForce = pick(prng, ["GTC", "IOC", "FOK", "GTD", "gtc", "", 1]);
  if (maybe(prng, 0.2)) body.expireTime = pick(prng, [Date.now() + 60_000, -1, 1.5, "soon", 1e300, 0]);
  if (maybe(prng, 0.2)) body.postOnly = pick(prng, [true, false, "true", 1, null]);
  if (maybe(prng, 0.3))
    body.clientOrderId = pick(prng, [randomString(prng, 50), "ok-id", "", 12, "a".repeat(37)]);
  if (maybe(prng, 0.2)) body.selfTradePrevention = pick(prng, ["cancel_taker", "cancel_both", "nope", null]);
  if (maybe(prng, 0.1)) body[randomString(prng, 10)] = randomString(prng, 10);
  return body;
}

/** A body: JSON of some shape, or text that is not JSON at all. */
function bodyText(prng: Prng): string {
  switch (prng.int(12)) {
    case 0:
      return "{";
    case 1:
      return `{"symbol":"BTC-USD","side":"buy","type":"limit","price":"1.00","quantity":"1"`;
    case 2:
      return '{"__proto__":{"admin":true},"symbol":"BTC-USD"}';
    case 3:
      return '{"constructor":{"prototype":{"polluted":1}}}';
    case 4:
      return '{"\\u005f_proto__":{"x":1}}';
    case 5:
      return `${"[".repeat(5000)}${"]".repeat(5000)}`;
    case 6:
      return JSON.stringify({
        asset: pick(prng, ["USD", "BTC", "DOGE", 1]),
        amount: pick(prng, decimals),
        transferId: pick(prng, ["t-1", randomString(prng, 80), 5]),
      });
    case 7:
      return randomString(prng, 200);
    case 8:
      return "null";
    case 9:
      return JSON.stringify(pick(prng, [[], "string", 1, true]));
    case 10:
      return JSON.stringify({ quantity: pick(prng, decimals), price: pick(prng, decimals) });
    default:
      return JSON.stringify(prng.chance(0.5) ? orderBody(prng) : nearlyValidOrder(prng));
  }
}

/** A valid order with at most one field broken, so that requests get past the schema into the engine. */
function nearlyValidOrder(prng: Prng): Record<string, unknown> {
  const side = prng.chance(0.5) ? "buy" : "sell";
  const body: Record<string, unknown> = {
    symbol: "ETH-USD",
    side,
    type: "limit",
    price: (2990 + prng.int(20)).toFixed(2),
    quantity: (0.001 * (1 + prng.int(100))).toFixed(3),
  };
  if (prng.chance(0.3)) body.timeInForce = pick(prng, ["GTC", "IOC", "FOK"]);
  if (prng.chance(0.2)) body.clientOrderId = `fz-${prng.int(50)}`;
  if (prng.chance(0.7)) {
    const field = pick(prng, [
      "price",
      "quantity",
      "side",
      "type",
      "symbol",
      "timeInForce",
      "postOnly",
      "stopPrice",
    ]);
    body[field] = pick(prng, decimals);
  }
  return body;
}

function path(prng: Prng, accountId: string): string {
  const id = pick(prng, ["1", accountId, "0", "-1", "abc", "99999999999999999999", "1.5", "%2e%2e", ""]);
  const orderId = pick(prng, ["1", "2", "0", "abc", "9".repeat(30), "%00", "1e3"]);
  const symbol = encodeURIComponent(pick(prng, symbols));
  const paths = [
    "/v1/orders",
    `/v1/orders/${orderId}`,
    `/v1/orders?symbol=${symbol}`,
    `/v1/orders?status=${pick(prng, ["open", "filled", "weird", ""])}&symbol=${symbol}`,
    "/v1/orders?symbol=BTC-USD&symbol=ETH-USD",
    `/v1/orders?sym=${symbol}`,
    "/v1/balances",
    `/v1/fills?limit=${pick(prng, ["1", "0", "-1", "100000", "x"])}&cursor=${pick(prng, ["1", "x", ""])}`,
    "/v1/assets",
    "/v1/markets",
    `/v1/markets/${symbol}/book?depth=${pick(prng, ["1", "0", "5000", "-3", "1e2", ""])}`,
    `/v1/markets/${symbol}/trades?limit=${pick(prng, ["10", "0", "x"])}`,
    `/v1/markets/${symbol}/ticker`,
    `/v1/markets/${symbol}/candles?interval=${pick(prng, ["1m", "2m", ""])}&from=${pick(prng, ["0", "-1", "x"])}`,
    "/v1/admin/accounts",
    `/v1/admin/accounts/${id}/deposits`,
    `/v1/admin/accounts/${id}/withdrawals`,
    `/v1/admin/accounts/${id}/balances`,
    "/v1/ws",
    "/healthz",
    "/docs",
    "//v1//orders",
    "/v1/orders/../admin/accounts",
    `/v1/${randomString(prng, 20).replace(/[^A-Za-z0-9]/g, "x")}`,
    `/v1/orders?${"a=1&".repeat(500)}`,
    `/%${pick(prng, ["zz", "", "e0%80"])}`,
  ];
  return pick(prng, paths);
}

function sign(secret: string, timestamp: string, method: string, target: string, body: string): string {
  return createHmac("sha256", secret)
    .update(timestamp + method + target + body)
    .digest("hex");
}

export function generate(prng: Prng, account: FuzzAccount, adminToken: string): FuzzRequest {
  const kind = prng.int(20);
  if (kind === 0) {
    // Raw, broken HTTP.
    const raws = [
      "GARBAGE\r\n\r\n",
      "GET /v1/assets HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
      "POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
      `GET /v1/assets HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`,
      "GET /v1/assets HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
    ];
    return { method: "RAW", path: "", body: null, headers: {}, raw: pick(prng, raws) };
  }
  // A third of the requests aim at order entry, where most of the parsing is.
  const entry = prng.chance(0.35);
  const method =
    entry && prng.chance(0.9)
      ? "POST"
      : prng.chance(0.6)
        ? pick(prng, ["POST", "PATCH", "DELETE"])
        : pick(prng, methods);
  const target = entry ? "/v1/orders" : path(prng, account.accountId);
  let body: string | null =
    method === "GET" || method === "HEAD"
      ? prng.chance(0.1)
        ? bodyText(prng)
        : null
      : entry && prng.chance(0.6)
        ? JSON.stringify(nearlyValidOrder(prng))
        : bodyText(prng);
  if (kind === 1) body = `{"symbol":"${"x".repeat(2 * 1024 * 1024)}"}`; // 2 MB
  const headers: Record<string, string> = {};
  if (body !== null) {
    headers["content-type"] = prng.chance(0.9)
      ? pick(prng, ["application/json", "application/json; charset=utf-8"])
      : pick(prng, ["text/plain", "application/x-www-form-urlencoded", "application/jsonx", ""]);
  }
  if (target.startsWith("/v1/admin")) {
    if (prng.chance(0.7)) headers.authorization = `Bearer ${prng.chance(0.9) ? adminToken : "wrong"}`;
  } else if (prng.chance(0.7)) {
    const now = Date.now();
    const timestamp = prng.chance(0.9)
      ? String(now)
      : pick(prng, [String(now - 60_000), "abc", "", "-1", "1e12"]);
    headers["x-bourse-key"] = prng.chance(0.95)
      ? account.apiKey
      : pick(prng, ["", "bk_unknown", "x".repeat(500)]);
    headers["x-bourse-timestamp"] = timestamp;
    headers["x-bourse-signature"] = prng.chance(0.9)
      ? sign(account.apiSecret, timestamp, method, target, body ?? "")
      : pick(prng, [
          "",
          "00",
          "Z".repeat(64),
          sign(account.apiSecret, timestamp, method, target, "").toUpperCase(),
        ]);
  }
  return { method, path: target, body, headers };
}

function sendRaw(url: URL, raw: string): Promise<{ status: number; reply: string }> {
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    let data = "";
    socket.setTimeout(5_000, () => socket.destroy());
    socket.on("data", (chunk) => (data += chunk.toString()));
    socket.on("close", () => resolve({ status: Number(data.split(" ")[1]) || 0, reply: data.slice(0, 300) }));
    socket.on("error", () => {});
    socket.write(raw);
  });
}

function send(agent: Agent, url: URL, r: FuzzRequest): Promise<{ status: number; reply: string }> {
  return new Promise((resolve) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, method: r.method, path: r.path, headers: r.headers, agent },
      (res) => {
        let data = "";
        res.on("data", (chunk) => {
          if (data.length < 2000) data += chunk.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, reply: data }));
        res.on("error", () => resolve({ status: res.statusCode ?? 0, reply: data }));
      },
    );
    // The server may answer (413) and close before a 2 MB body is written: that is not a failure.
    req.on("error", (error) => resolve({ status: -1, reply: error.message }));
    if (r.body !== null) req.end(r.body);
    else req.end();
  });
}

/** A reply passes when it is below 500 and, for an error with a body, in the contract's error shape. */
function acceptable(method: string, status: number, reply: string): boolean {
  if (status === -1) return true; // connection reset after an early reply to an oversized body
  if (status === 0 || status >= 500) return false;
  if (status < 400 || method === "HEAD" || reply.length === 0) return true;
  try {
    const body = JSON.parse(reply.slice(reply.indexOf("{")));
    return typeof body.error?.code === "string" && typeof body.error?.message === "string";
  } catch {
    return false;
  }
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzResult> {
  const prng = new Prng(options.seed);
  const url = new URL(options.url);
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency ?? 16 });
  const result: FuzzResult = { sent: 0, byStatus: {}, failures: [] };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < options.count) {
      const index = next++;
      const r = generate(prng, options.account, options.adminToken);
      const { status, reply } = r.raw !== undefined ? await sendRaw(url, r.raw) : await send(agent, url, r);
      result.sent++;
      result.byStatus[status] = (result.byStatus[status] ?? 0) + 1;
      const ok = r.raw !== undefined ? status !== 0 && status < 500 : acceptable(r.method, status, reply);
      if (!ok && result.failures.length < 20) {
        result.failures.push({
          index,
          method: r.method,
          path: r.path.slice(0, 200),
          body: (r.raw ?? r.body ?? "").slice(0, 300),
          status,
          reply: reply.slice(0, 300),
        });
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 16 }, worker));
  agent.destroy();
  return result;
}

/** `npm run fuzz:api [-- --count N --seed S]`: starts a node, fuzzes it, prints a summary. */
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flag = (name: string, fallback: number): number => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  const count = flag("--count", 12_000);
  const seed = flag("--seed", Date.now() >>> 0);
  const { startServer, fundedAccount, adminToken } = await import("./helpers.js");
  const server = await startServer();
  try {
    const account = await fundedAccount(server);
    const started = Date.now();
    const result = await runFuzz({ url: server.url, account, adminToken, count, seed, concurrency: 16 });
    const health = await fetch(`${server.url}/healthz`);
    console.log(
      `fuzz:api seed ${seed}: ${result.sent} requests in ${((Date.now() - started) / 1000).toFixed(1)} s, statuses ${JSON.stringify(result.byStatus)}`,
    );
    if (result.failures.length > 0 || health.status !== 200) {
      console.log(JSON.stringify(result.failures, null, 2));
      console.log(
        `FAILED: ${result.failures.length} bad replies (replay with --seed ${seed} --count ${count})`,
      );
      process.exitCode = 1;
    } else {
      console.log("no 5xx, every error in the contract's shape, server healthy");
    }
  } finally {
    await server.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  await main();
}
