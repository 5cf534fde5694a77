/**
 * The REST routes of the contract (/work/shared/spec/api.md), on fastify. Each route names its schema
 * (src/api/schemas.ts) and its guard: public, admin (bearer token) or account (HMAC signature).
 * Business logic lives in the Gateway; this file only maps HTTP onto it.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { CandleInterval } from "../marketdata/marketdata.js";
import { marketDataLimits } from "../marketdata/marketdata-limits.js";
import { type Authenticator, sameText } from "./auth.js";
import { ApiError } from "./errors.js";
import type { Gateway } from "./gateway.js";
import { apiLimits } from "./limits.js";
import type { ApiMetrics } from "./metrics.js";
import { accountName, queryInt } from "./parse.js";
import type { RateLimits } from "./rate-limit.js";
import type { ReadCache } from "./read-cache.js";
import { routeSchemas } from "./schemas.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The exact request body as received ("" when none): what the signature covers. */
    rawBody: string;
    /** The authenticated account (account routes only). */
    accountId: number;
  }
}

export interface RestContext {
  gateway: Gateway;
  /** Public market data, answered from the cache (src/api/read-cache.ts). */
  reads: ReadCache;
  auth: Authenticator;
  adminToken: string;
  rateLimits: RateLimits;
  metrics: ApiMetrics;
  openapi: unknown;
  /** Recovered and accepting orders (and not shutting down). */
  ready(): boolean;
}

type Query = Record<string, string | undefined>;
type Params = Record<string, string>;

function optionalInt(value: string | undefined, name: string): number | undefined {
  return value === undefined ? undefined : queryInt(value, name, 0, 0, Number.MAX_SAFE_INTEGER);
}

/** Every route of the API, for the 405 check of unknown method/path pairs. */
export const routeTable: readonly { pattern: RegExp; methods: readonly string[] }[] = [
  { pattern: /^\/v1\/assets$/, methods: ["GET"] },
  { pattern: /^\/v1\/markets$/, methods: ["GET"] },
  { pattern: /^\/v1\/markets\/[^/]+\/(book|trades|ticker|candles)$/, methods: ["GET"] },
  { pattern: /^\/v1\/admin\/accounts$/, methods: ["POST"] },
  { pattern: /^\/v1\/admin\/accounts\/[^/]+\/(deposits|withdrawals)$/, methods: ["POST"] },
  { pattern: /^\/v1\/admin\/accounts\/[^/]+\/(balances|ledger)$/, methods: ["GET"] },
  { pattern: /^\/v1\/orders$/, methods: ["POST", "GET", "DELETE"] },
  { pattern: /^\/v1\/orders\/[^/]+$/, methods: ["GET", "DELETE", "PATCH"] },
  { pattern: /^\/v1\/balances$/, methods: ["GET"] },
  { pattern: /^\/v1\/fills$/, methods: ["GET"] },
  { pattern: /^\/v1\/ws$/, methods: ["GET"] },
  { pattern: /^\/(healthz|readyz|metrics|docs)$/, methods: ["GET"] },
  { pattern: /^\/docs\/openapi\.json$/, methods: ["GET"] },
  { pattern: /^\/(index\.html)?$/, methods: ["GET"] },
  { pattern: /^\/assets\/.+$/, methods: ["GET"] },
];

/**
 * A synchronous guard as a callback-style hook: fastify then skips the promise an async hook costs on
 * every request (measurable at tens of thousands of requests a second).
 */
export function callbackHook(
  guard: (request: FastifyRequest, reply: FastifyReply) => void,
): (request: FastifyRequest, reply: FastifyReply, done: (error?: Error) => void) => void {
  return (request, reply, done) => {
    try {
      guard(request, reply);
    } catch (error) {
      done(error as Error);
      return;
    }
    done();
  };
}

export function registerRoutes(app: FastifyInstance, ctx: RestContext): void {
  const { gateway, reads, auth, rateLimits, metrics } = ctx;
  /** A rendered answer from the cache, sent as is. */
  const cached = (reply: FastifyReply, text: string | undefined): FastifyReply => {
    if (text === undefined) throw new ApiError("MARKET_DATA_UNAVAILABLE");
    return reply.type("application/json; charset=utf-8").send(text);
  };

  // ───────────────────────────── guards ─────────────────────────────

  const adminAuth = (request: FastifyRequest): void => {
    const header = request.headers.authorization;
    const ok = typeof header === "string" && sameText(header, `Bearer ${ctx.adminToken}`);
    if (!ok) {
      if (!rateLimits.authFailures.take(request.ip)) {
        metrics.rateLimited.inc({ limit: rateLimits.authFailures.rule.name });
        throw new ApiError("RATE_LIMITED", `rate limit ${rateLimits.authFailures.rule.name} exceeded`);
      }
      throw new ApiError("UNAUTHORIZED");
    }
  };

  const accountAuth = (request: FastifyRequest): void => {
    const ip = request.ip;
    if (rateLimits.authFailures.exhausted(ip)) {
      metrics.rateLimited.inc({ limit: rateLimits.authFailures.rule.name });
      throw new ApiError("RATE_LIMITED", `rate limit ${rateLimits.authFailures.rule.name} exceeded`);
    }
    const h = request.headers;
    const key = h["x-bourse-key"];
    let accountId: number;
    try {
      const target = request.raw.url ?? "";
      const method = request.method;
      const body = request.rawBody;
      accountId = auth.verify(
        key,
        h["x-bourse-timestamp"],
        h["x-bourse-signature"],
        (ts) => ts + method + target + body,
      );
    } catch (error) {
      rateLimits.authFailures.take(ip);
      throw error;
    }
    if (!rateLimits.key.take(key as string)) {
      metrics.rateLimited.inc({ limit: rateLimits.key.rule.name });
      throw new ApiError("RATE_LIMITED", `rate limit ${rateLimits.key.rule.name} exceeded`);
    }
    request.accountId = accountId;
  };

  const admin = { preValidation: callbackHook(adminAuth) };
  const account = { preValidation: callbackHook(accountAuth) };

  // ───────────────────────────── public market data ─────────────────────────────

  const assets = gateway.config.assets.map((a) => ({ asset: a.asset, precision: a.precision }));
  const markets = gateway.config.markets.map((m) => ({
    symbol: m.symbol,
    base: m.base.asset,
    quote: m.quote.asset,
    tickSize: m.config.tickSize,
    lotSize: m.config.lotSize,
    minQuantity: m.config.minQuantity,
    maxQuantity: m.config.maxQuantity,
    minNotional: m.config.minNotional,
    makerFeeBps: m.makerFeeBps,
    takerFeeBps: m.takerFeeBps,
  }));

  const marketOf = (request: FastifyRequest): string => {
    const symbol = (request.params as Params).symbol!;
    gateway.parser.market(symbol);
    return symbol;
  };

  app.get("/v1/assets", { schema: routeSchemas.none }, async () => assets);
  app.get("/v1/markets", { schema: routeSchemas.none }, async () => markets);

  app.get("/v1/markets/:symbol/book", { schema: routeSchemas.book }, async (request, reply) => {
    const symbol = marketOf(request);
    const q = request.query as Query;
    const depth = queryInt(q.depth, "depth", apiLimits.bookDepthDefault, 1, marketDataLimits.bookDepthMax);
    return cached(reply, await reads.book(symbol, depth));
  });

  app.get("/v1/markets/:symbol/trades", { schema: routeSchemas.trades }, async (request, reply) => {
    const symbol = marketOf(request);
    const q = request.query as Query;
    const limit = queryInt(
      q.limit,
      "limit",
      apiLimits.tradesLimitDefault,
      1,
      marketDataLimits.tradesPerMarketMax,
    );
    return cached(reply, await reads.trades(symbol, limit));
  });

  app.get("/v1/markets/:symbol/ticker", { schema: routeSchemas.ticker }, async (request, reply) =>
    cached(reply, await reads.ticker(marketOf(request))),
  );

  app.get("/v1/markets/:symbol/candles", { schema: routeSchemas.candles }, async (request, reply) => {
    const symbol = marketOf(request);
    const q = request.query as Query;
    const from = optionalInt(q.from, "from");
    const to = optionalInt(q.to, "to");
    return cached(reply, await reads.candles(symbol, q.interval as CandleInterval, from, to));
  });

  // ───────────────────────────── admin ─────────────────────────────

  // The body is optional here, so it is checked by accountName rather than by the route's schema.
  app.post("/v1/admin/accounts", { schema: routeSchemas.createAccount, ...admin }, async (request, reply) => {
    const name = accountName(request.body);
    reply.code(201);
    return gateway.createAccount(name);
  });

  app.post(
    "/v1/admin/accounts/:accountId/deposits",
    { schema: routeSchemas.transfer, ...admin },
    async (request) => gateway.transfer("deposit", (request.params as Params).accountId!, request.body),
  );

  app.post(
    "/v1/admin/accounts/:accountId/withdrawals",
    { schema: routeSchemas.transfer, ...admin },
    async (request) => gateway.transfer("withdraw", (request.params as Params).accountId!, request.body),
  );

  app.get(
    "/v1/admin/accounts/:accountId/balances",
    { schema: routeSchemas.adminBalances, ...admin },
    async (request) => gateway.adminBalances((request.params as Params).accountId!),
  );

  app.get(
    "/v1/admin/accounts/:accountId/ledger",
    { schema: routeSchemas.adminLedger, ...admin },
    async (request) => {
      const q = request.query as Query;
      const query: { asset?: string; fromSeq?: number; limit: number; cursor?: string } = {
        limit: queryInt(q.limit, "limit", apiLimits.fillsLimitDefault, 1, apiLimits.fillsLimitMax),
      };
      if (q.asset !== undefined) query.asset = q.asset;
      const fromSeq = optionalInt(q.fromSeq, "fromSeq");
      if (fromSeq !== undefined) query.fromSeq = fromSeq;
      if (q.cursor !== undefined) query.cursor = q.cursor;
      return gateway.ledger((request.params as Params).accountId!, query);
    },
  );

  // ───────────────────────────── account ─────────────────────────────

  app.post("/v1/orders", { schema: routeSchemas.placeOrder, ...account }, async (request, reply) => {
    const result = await gateway.placeOrder(request.accountId, request.body, "rest");
    reply.code(result.created ? 201 : 200);
    return result.order;
  });

  app.delete("/v1/orders/:orderId", { schema: routeSchemas.orderById, ...account }, async (request) =>
    gateway.cancelOrder(request.accountId, (request.params as Params).orderId!, "rest"),
  );

  app.delete("/v1/orders", { schema: routeSchemas.cancelAll, ...account }, async (request) =>
    gateway.cancelAll(request.accountId, (request.query as Query).symbol),
  );

  app.patch("/v1/orders/:orderId", { schema: routeSchemas.amendOrder, ...account }, async (request) =>
    gateway.amendOrder(request.accountId, (request.params as Params).orderId!, request.body),
  );

  app.get("/v1/orders/:orderId", { schema: routeSchemas.orderById, ...account }, async (request) =>
    gateway.getOrder(request.accountId, (request.params as Params).orderId!),
  );

  app.get("/v1/orders", { schema: routeSchemas.listOrders, ...account }, async (request) => {
    const q = request.query as Query;
    return gateway.listOrders(request.accountId, q.symbol, q.status);
  });

  app.get("/v1/balances", { schema: routeSchemas.none, ...account }, async (request) =>
    gateway.balances(request.accountId),
  );

  app.get("/v1/fills", { schema: routeSchemas.fills, ...account }, async (request) => {
    const q = request.query as Query;
    const query: { symbol?: string; from?: number; to?: number; limit: number; cursor?: string } = {
      limit: queryInt(q.limit, "limit", apiLimits.fillsLimitDefault, 1, apiLimits.fillsLimitMax),
    };
    if (q.symbol !== undefined) query.symbol = q.symbol;
    const from = optionalInt(q.from, "from");
    const to = optionalInt(q.to, "to");
    if (from !== undefined) query.from = from;
    if (to !== undefined) query.to = to;
    if (q.cursor !== undefined) query.cursor = q.cursor;
    return gateway.fills(request.accountId, query);
  });

  // ───────────────────────────── operations ─────────────────────────────

  app.get("/v1/ws", async () => {
    throw new ApiError("UPGRADE_REQUIRED");
  });

  app.get("/healthz", async () => ({ status: "ok" }));

  app.get("/readyz", async (_request, reply: FastifyReply) => {
    if (ctx.ready()) return { status: "ready" };
    reply.code(503);
    return { status: "not_ready" };
  });

  app.get("/metrics", async (_request, reply) => {
    reply.header("content-type", metrics.registry.contentType);
    return metrics.text();
  });

  app.get("/docs", async () => ctx.openapi);
  app.get("/docs/openapi.json", async () => ctx.openapi);
}
