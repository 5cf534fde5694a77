/**
 * The OpenAPI 3.1 description served at GET /docs, written as a typed object (no swagger plugin is
 * installed) from the same schemas the routes validate with, so the two cannot drift apart.
 */
import { errorCatalog } from "./errors.js";
import {
  balanceSchema,
  bookSchema,
  candleSchema,
  createAccountBody,
  errorSchema,
  fillSchema,
  ledgerEntrySchema,
  marketSchema,
  orderSchema,
  routeSchemas,
  tickerSchema,
  tradeSchema,
} from "./schemas.js";

type Json = Record<string, unknown>;

interface Operation {
  summary: string;
  security?: "admin" | "account";
  params?: Json;
  query?: Json;
  body?: Json;
  replies: Record<number, { description: string; schema?: Json }>;
}

const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });
const arrayOf = (schema: Json): Json => ({ type: "array", items: schema });

function parameters(where: "path" | "query", schema: Json | undefined): Json[] {
  const properties = (schema?.properties ?? {}) as Record<string, Json>;
  const required = new Set((schema?.required ?? []) as string[]);
  return Object.entries(properties).map(([name, s]) => ({
    name,
    in: where,
    required: where === "path" || required.has(name),
    schema: s,
  }));
}

function operation(op: Operation): Json {
  const responses: Json = {};
  for (const [status, reply] of Object.entries(op.replies)) {
    responses[status] = {
      description: reply.description,
      ...(reply.schema === undefined ? {} : { content: { "application/json": { schema: reply.schema } } }),
    };
  }
  responses.default = {
    description: "an error of the catalog (docs/errors.md)",
    content: { "application/json": { schema: ref("Error") } },
  };
  const result: Json = {
    summary: op.summary,
    parameters: [...parameters("path", op.params), ...parameters("query", op.query)],
    responses,
  };
  if (op.body !== undefined) {
    result.requestBody = { required: true, content: { "application/json": { schema: op.body } } };
  }
  if (op.security === "admin") result.security = [{ adminToken: [] }];
  if (op.security === "account") {
    result.security = [{ apiKey: [], apiTimestamp: [], apiSignature: [] }];
  }
  return result;
}

const s = routeSchemas;

export function buildOpenApi(version: string): Json {
  return {
    openapi: "3.1.0",
    info: {
      title: "Bourse trading API",
      version,
      description:
        "Version 1 of the Bourse native API. Every price, quantity, amount and fee is a decimal string; " +
        "ids are strings; times are integer ms since the epoch. Commands are answered only once durable. " +
        "WebSocket: GET /v1/ws (ops subscribe, unsubscribe, auth, order.place, order.cancel, order.amend, " +
        "order.cancel_all, ping). Error codes: " +
        [...errorCatalog.keys()].join(", "),
    },
    servers: [{ url: "/" }],
    components: {
      securitySchemes: {
        adminToken: { type: "http", scheme: "bearer", description: "the admin token" },
        apiKey: { type: "apiKey", in: "header", name: "X-Bourse-Key" },
        apiTimestamp: {
          type: "apiKey",
          in: "header",
          name: "X-Bourse-Timestamp",
          description: "client time in ms; rejected when more than 5,000 ms from server time",
        },
        apiSignature: {
          type: "apiKey",
          in: "header",
          name: "X-Bourse-Signature",
          description:
            "lowercase hex HMAC-SHA256(apiSecret, timestamp + METHOD + pathWithQuery + body), body '' when none",
        },
      },
      schemas: {
        Error: errorSchema,
        Order: orderSchema,
        Fill: fillSchema,
        AccountFill: {
          allOf: [
            fillSchema,
            {
              type: "object",
              properties: {
                orderId: { type: "string" },
                symbol: { type: "string" },
                side: { type: "string" },
              },
            },
          ],
        },
        LedgerEntry: ledgerEntrySchema,
        Balance: balanceSchema,
        Market: marketSchema,
        Book: bookSchema,
        Trade: tradeSchema,
        Ticker: tickerSchema,
        Candle: candleSchema,
      },
    },
    paths: {
      "/v1/assets": {
        get: operation({
          summary: "assets and their precision",
          replies: {
            200: {
              description: "assets",
              schema: arrayOf({
                type: "object",
                properties: { asset: { type: "string" }, precision: { type: "integer" } },
              }),
            },
          },
        }),
      },
      "/v1/markets": {
        get: operation({
          summary: "markets",
          replies: { 200: { description: "markets", schema: arrayOf(ref("Market")) } },
        }),
      },
      "/v1/markets/{symbol}/book": {
        get: operation({
          summary: "L2 order book, best first, aggregated per price",
          params: s.book.params,
          query: s.book.querystring,
          replies: { 200: { description: "book", schema: ref("Book") } },
        }),
      },
      "/v1/markets/{symbol}/trades": {
        get: operation({
          summary: "recent trades, newest first",
          params: s.trades.params,
          query: s.trades.querystring,
          replies: { 200: { description: "trades", schema: arrayOf(ref("Trade")) } },
        }),
      },
      "/v1/markets/{symbol}/ticker": {
        get: operation({
          summary: "ticker",
          params: s.ticker.params,
          replies: { 200: { description: "ticker", schema: ref("Ticker") } },
        }),
      },
      "/v1/markets/{symbol}/candles": {
        get: operation({
          summary: "candles, oldest first",
          params: s.candles.params,
          query: s.candles.querystring,
          replies: { 200: { description: "candles", schema: arrayOf(ref("Candle")) } },
        }),
      },
      "/v1/admin/accounts": {
        post: operation({
          summary: "create an account and its API credentials (the secret is shown once)",
          security: "admin",
          body: createAccountBody,
          replies: {
            201: {
              description: "created",
              schema: {
                type: "object",
                properties: {
                  accountId: { type: "string" },
                  apiKey: { type: "string" },
                  apiSecret: { type: "string" },
                },
              },
            },
          },
        }),
      },
      "/v1/admin/accounts/{accountId}/deposits": {
        post: operation({
          summary: "deposit (idempotent per transferId)",
          security: "admin",
          params: s.transfer.params,
          body: s.transfer.body,
          replies: { 200: { description: "the asset's balance after it", schema: ref("Balance") } },
        }),
      },
      "/v1/admin/accounts/{accountId}/withdrawals": {
        post: operation({
          summary: "withdrawal (idempotent per transferId)",
          security: "admin",
          params: s.transfer.params,
          body: s.transfer.body,
          replies: { 200: { description: "the asset's balance after it", schema: ref("Balance") } },
        }),
      },
      "/v1/admin/accounts/{accountId}/balances": {
        get: operation({
          summary: "an account's balances",
          security: "admin",
          params: s.adminBalances.params,
          replies: { 200: { description: "balances", schema: arrayOf(ref("Balance")) } },
        }),
      },
      "/v1/admin/accounts/{accountId}/ledger": {
        get: operation({
          summary:
            "an account's ledger from the history store, newest first: every balance movement by kind, with the balance after it (see docs/api.md)",
          security: "admin",
          params: s.adminLedger.params,
          query: s.adminLedger.querystring,
          replies: {
            200: {
              description: "ledger entries; follow nextCursor until it is absent",
              schema: {
                type: "object",
                required: ["accountId", "entries"],
                properties: {
                  accountId: { type: "string" },
                  entries: arrayOf(ref("LedgerEntry")),
                  nextCursor: { type: "string" },
                },
              },
            },
          },
        }),
      },
      "/v1/orders": {
        post: operation({
          summary: "place an order; answered once durable, with the fills it produced on arrival",
          security: "account",
          body: s.placeOrder.body,
          replies: {
            201: { description: "accepted", schema: ref("Order") },
            200: {
              description: "a repeat of an accepted clientOrderId: the original order",
              schema: ref("Order"),
            },
          },
        }),
        get: operation({
          summary: "the account's orders (open ones, and recently closed ones), newest first",
          security: "account",
          query: s.listOrders.querystring,
          replies: { 200: { description: "orders", schema: arrayOf(ref("Order")) } },
        }),
        delete: operation({
          summary: "cancel every open order of the account (of one symbol, or all)",
          security: "account",
          query: s.cancelAll.querystring,
          replies: {
            200: {
              description: "cancelled order ids",
              schema: { type: "object", properties: { cancelled: arrayOf({ type: "string" }) } },
            },
          },
        }),
      },
      "/v1/orders/{orderId}": {
        get: operation({
          summary: "one order of the account",
          security: "account",
          params: s.orderById.params,
          replies: { 200: { description: "order", schema: ref("Order") } },
        }),
        delete: operation({
          summary: "cancel an order (409 ORDER_CLOSED when already done)",
          security: "account",
          params: s.orderById.params,
          replies: { 200: { description: "the cancelled order", schema: ref("Order") } },
        }),
        patch: operation({
          summary: "amend quantity and/or price",
          security: "account",
          params: s.amendOrder.params,
          body: s.amendOrder.body,
          replies: { 200: { description: "the amended order", schema: ref("Order") } },
        }),
      },
      "/v1/balances": {
        get: operation({
          summary: "the account's balances",
          security: "account",
          replies: { 200: { description: "balances", schema: arrayOf(ref("Balance")) } },
        }),
      },
      "/v1/fills": {
        get: operation({
          summary:
            "the account's fills from the history store, newest first; a fill appears within the history's lag (ms) of its order's acknowledgment (see docs/api.md)",
          security: "account",
          query: s.fills.querystring,
          replies: {
            200: {
              description: "fills",
              schema: {
                type: "object",
                properties: { fills: arrayOf(ref("AccountFill")), nextCursor: { type: "string" } },
              },
            },
          },
        }),
      },
      "/v1/ws": {
        get: operation({
          summary: "WebSocket endpoint (upgrade required; see docs/api.md for ops and channels)",
          replies: { 101: { description: "switching protocols" } },
        }),
      },
      "/healthz": { get: operation({ summary: "process up", replies: { 200: { description: "up" } } }) },
      "/readyz": {
        get: operation({
          summary: "recovered and accepting orders",
          replies: { 200: { description: "ready" }, 503: { description: "not ready" } },
        }),
      },
      "/metrics": {
        get: operation({
          summary: "Prometheus metrics (text)",
          replies: { 200: { description: "metrics" } },
        }),
      },
      "/docs": { get: operation({ summary: "this document", replies: { 200: { description: "OpenAPI" } } }) },
    },
  };
}
