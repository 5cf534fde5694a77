/**
 * The HTTP(S) server: fastify with the routes of src/api/rest.ts, the WebSocket endpoint of
 * src/api/ws.ts on the same port, the JSON body parser that keeps the raw body for signatures, the
 * error handler that maps every failure to the catalog, per-IP rate limiting and request metrics.
 */
import type { Server } from "node:http";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, LogController } from "fastify";
import type { Logger } from "pino";
import type { PublicMarketData } from "../cache/public-market-data.js";
import type { Views } from "../marketdata/views.js";
import type { Authenticator } from "./auth.js";
import { ApiError, errorBody, statusOf } from "./errors.js";
import type { Gateway } from "./gateway.js";
import { apiLimits } from "./limits.js";
import type { ApiMetrics } from "./metrics.js";
import { buildOpenApi } from "./openapi.js";
import type { RateLimits } from "./rate-limit.js";
import type { ReadCache } from "./read-cache.js";
import { callbackHook, registerRoutes, routeTable } from "./rest.js";
import { WsGateway } from "./ws.js";

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

export interface ApiServerOptions {
  gateway: Gateway;
  /** Public market data (for WebSocket snapshots) and its cached REST answers. */
  marketData: PublicMarketData;
  reads: ReadCache;
  views: Views;
  auth: Authenticator;
  adminToken: string;
  rateLimits: RateLimits;
  metrics: ApiMetrics;
  logger: Logger;
  tls?: TlsFiles;
  version: string;
  ready(): boolean;
}

/** Keys that could reach an object's prototype if a body were ever merged into an object. */
const forbiddenKey = /"(__proto__|constructor|prototype)"\s*:/;

function hasForbiddenKey(value: unknown, depth = 0): boolean {
  if (typeof value !== "object" || value === null || depth > 64) return false;
  for (const key of Object.keys(value)) {
    if (key === "__proto__" || key === "constructor" || key === "prototype") return true;
    if (hasForbiddenKey((value as Record<string, unknown>)[key], depth + 1)) return true;
  }
  return false;
}

/** The request body as JSON, or INVALID_REQUEST. */
export function parseJsonBody(text: string): unknown {
  if (text.length === 0) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ApiError("INVALID_REQUEST", "the body is not valid JSON");
  }
  // The regular expression is a cheap pre-filter; the walk decides (escaped keys included).
  if ((forbiddenKey.test(text) || text.includes("\\u")) && hasForbiddenKey(value)) {
    throw new ApiError(
      "INVALID_REQUEST",
      "the body holds a forbidden key (__proto__, constructor, prototype)",
    );
  }
  return value;
}

/** Any error on its way out → an ApiError of the catalog. A malformed request never becomes a 5xx. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const e = error as FastifyError & {
    validation?: { instancePath?: string; message?: string }[];
    validationContext?: string;
  };
  if (e.validation !== undefined && e.validation.length > 0) {
    const first = e.validation[0]!;
    const where = `${e.validationContext ?? "request"}${first.instancePath ?? ""}`;
    return new ApiError("VALIDATION_ERROR", `${where} ${first.message ?? "is invalid"}`);
  }
  switch (e.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new ApiError("PAYLOAD_TOO_LARGE", `the body is larger than ${apiLimits.bodyBytesMax} bytes`);
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new ApiError("UNSUPPORTED_MEDIA_TYPE");
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_JSON_BODY":
    case "FST_ERR_BAD_URL":
      return new ApiError("INVALID_REQUEST");
    case "FST_ERR_MAX_PARAM_LENGTH":
      return new ApiError("NOT_FOUND");
    default:
      break;
  }
  const status = typeof e.statusCode === "number" ? e.statusCode : 500;
  if (status === 413) return new ApiError("PAYLOAD_TOO_LARGE");
  if (status === 415) return new ApiError("UNSUPPORTED_MEDIA_TYPE");
  if (status >= 400 && status < 500) return new ApiError("INVALID_REQUEST");
  return new ApiError("INTERNAL_ERROR");
}

export class ApiServer {
  readonly app: FastifyInstance;
  readonly ws: WsGateway;
  private closing = false;

  constructor(options: ApiServerOptions) {
    const { rateLimits, metrics, logger } = options;
    const app = Fastify({
      loggerInstance: logger,
      // One log line per request would cost more than the request at full load; metrics count them instead.
      logController: new LogController({ disableRequestLogging: true }),
      bodyLimit: apiLimits.bodyBytesMax,
      routerOptions: { maxParamLength: 64 },
      // Requests that arrive while closing get NOT_READY from the onRequest hook, in the catalog's shape.
      return503OnClosing: false,
      forceCloseConnections: "idle",
      keepAliveTimeout: 65_000,
      ...(options.tls === undefined ? {} : { https: { cert: options.tls.cert, key: options.tls.key } }),
      http: { maxHeaderSize: apiLimits.headerBytesMax },
      ajv: {
        customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false, allErrors: false },
      },
      clientErrorHandler: (error: NodeJS.ErrnoException, socket) => {
        // Malformed HTTP that never became a request: answer in the catalog's shape when the socket allows.
        if (!socket.writable) return socket.destroy();
        const code = error.code === "HPE_HEADER_OVERFLOW" ? "HEADERS_TOO_LARGE" : "INVALID_REQUEST";
        const body = JSON.stringify(errorBody(code));
        const status = statusOf(code);
        socket.end(
          `HTTP/1.1 ${status} ${status === 431 ? "Request Header Fields Too Large" : "Bad Request"}\r\n` +
            `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
      },
      frameworkErrors: (error, _request, reply) => {
        const apiError = toApiError(error);
        void (reply as unknown as FastifyReply).code(apiError.status).send(apiError.body());
      },
    }) as unknown as FastifyInstance;
    this.app = app;
    app.decorateRequest("rawBody", "");
    app.decorateRequest("accountId", -1);

    app.removeAllContentTypeParsers();
    app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
      const text = body as string;
      request.rawBody = text;
      try {
        done(null, parseJsonBody(text));
      } catch (error) {
        done(error as Error, undefined);
      }
    });

    app.addHook(
      "onRequest",
      callbackHook((request, reply) => {
        if (this.closing) {
          reply.header("connection", "close");
          throw new ApiError("NOT_READY");
        }
        if (!rateLimits.ip.take(request.ip)) {
          metrics.rateLimited.inc({ limit: rateLimits.ip.rule.name });
          throw new ApiError("RATE_LIMITED", `rate limit ${rateLimits.ip.rule.name} exceeded`);
        }
      }),
    );

    app.addHook("onResponse", (request, reply, done) => {
      metrics.observeHttp(
        request.method,
        request.routeOptions.url ?? "unmatched",
        reply.statusCode,
        reply.elapsedTime / 1000,
      );
      done();
    });

    app.setErrorHandler((error, request, reply) => {
      const apiError = toApiError(error);
      if (apiError.code === "INTERNAL_ERROR") {
        request.log.error({ err: error, url: request.url, method: request.method }, "request failed");
      }
      void reply.code(apiError.status).send(apiError.body());
    });

    app.setNotFoundHandler((request, reply) => {
      const path = (request.raw.url ?? "").split("?")[0]!;
      const route = routeTable.find((r) => r.pattern.test(path));
      if (route !== undefined && !route.methods.includes(request.method)) {
        void reply.code(405).header("allow", route.methods.join(", ")).send(errorBody("METHOD_NOT_ALLOWED"));
        return;
      }
      void reply.code(404).send(errorBody("NOT_FOUND"));
    });

    this.ws = new WsGateway({
      gateway: options.gateway,
      marketData: options.marketData,
      views: options.views,
      auth: options.auth,
      rateLimits,
      metrics,
    });

    registerRoutes(app, {
      gateway: options.gateway,
      reads: options.reads,
      auth: options.auth,
      adminToken: options.adminToken,
      rateLimits,
      metrics,
      openapi: buildOpenApi(options.version),
      ready: () => !this.closing && options.ready(),
    });

    (app.server as Server).on("upgrade", (request, socket, head) => {
      const ip = request.socket.remoteAddress ?? "";
      this.ws.handleUpgrade(request, socket, head, ip);
    });
  }

  /** Listens and returns the bound port. */
  async listen(host: string, port: number): Promise<number> {
    await this.app.listen({ host, port });
    const address = this.app.server.address();
    if (address === null || typeof address === "string")
      throw new Error("api: the server has no TCP address");
    return address.port;
  }

  /**
   * Stops accepting (new connections, new WebSocket upgrades), lets requests in flight finish (they
   * wait for durability), then closes every connection.
   */
  async close(): Promise<void> {
    this.closing = true;
    this.ws.stopAccepting();
    const deadline = Date.now() + apiLimits.drainMsMax;
    while (this.ws.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    this.ws.close();
    await this.app.close();
  }
}
