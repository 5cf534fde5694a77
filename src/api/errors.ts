/**
 * The error catalog of the API (fastify's lib/errors.js habit): every code the API can return, with
 * its HTTP status and message. It holds every engine code of src/engine/codes.ts unchanged, plus the
 * codes the gateway itself produces. docs/errors.md lists them all; test/api/errors.test.ts checks it.
 *
 * Replies always have the shape `{"error": {"code": "UPPER_SNAKE", "message": "…"}}`.
 */
import { type EngineCode, engineCodes } from "../engine/codes.js";

export type ApiStage = "gateway";

interface ApiCodeInfo {
  readonly stage: ApiStage;
  readonly status: number;
  readonly message: string;
}

/** Codes produced by the gateway before or around the engine. */
export const apiCodes = {
  VALIDATION_ERROR: {
    stage: "gateway",
    status: 400,
    message: "the request does not match the schema of the endpoint",
  },
  INVALID_REQUEST: {
    stage: "gateway",
    status: 400,
    message: "the request body is not valid JSON, or holds a forbidden key",
  },
  UNSUPPORTED_MEDIA_TYPE: {
    stage: "gateway",
    status: 415,
    message: "request bodies must be application/json",
  },
  UNAUTHORIZED: {
    stage: "gateway",
    status: 401,
    message: "missing or invalid credentials",
  },
  NOT_FOUND: { stage: "gateway", status: 404, message: "no such resource" },
  METHOD_NOT_ALLOWED: {
    stage: "gateway",
    status: 405,
    message: "the resource does not support this method",
  },
  PAYLOAD_TOO_LARGE: { stage: "gateway", status: 413, message: "the request body is too large" },
  HEADERS_TOO_LARGE: {
    stage: "gateway",
    status: 431,
    message: "the request headers are too large",
  },
  RATE_LIMITED: { stage: "gateway", status: 429, message: "too many requests, slow down" },
  DUPLICATE_CLIENT_ORDER_ID: {
    stage: "gateway",
    status: 409,
    message: "clientOrderId was already used by an order the API no longer remembers",
  },
  INVALID_CURSOR: {
    stage: "gateway",
    status: 400,
    message: "the cursor is not one this API gave",
  },
  UPGRADE_REQUIRED: {
    stage: "gateway",
    status: 426,
    message: "this endpoint speaks WebSocket only",
  },
  OVERLOADED: {
    stage: "gateway",
    status: 503,
    message: "the command queue is full, retry later",
  },
  NOT_READY: {
    stage: "gateway",
    status: 503,
    message: "the exchange is starting or stopping and accepts no commands",
  },
  UNAVAILABLE: {
    stage: "gateway",
    status: 503,
    message: "the command could not be made durable; its outcome is unknown",
  },
  MARKET_DATA_UNAVAILABLE: {
    stage: "gateway",
    status: 503,
    message: "market data for this market is being resynced, retry shortly",
  },
  INTERNAL_ERROR: { stage: "gateway", status: 500, message: "internal error" },
} as const satisfies Record<string, ApiCodeInfo>;

export type ApiCode = keyof typeof apiCodes;
export type ErrorCode = EngineCode | ApiCode;

export interface CatalogEntry {
  readonly code: ErrorCode;
  readonly stage: ApiStage | (typeof engineCodes)[EngineCode]["stage"];
  readonly status: number;
  readonly message: string;
}

function buildCatalog(): ReadonlyMap<ErrorCode, CatalogEntry> {
  const catalog = new Map<ErrorCode, CatalogEntry>();
  for (const [code, info] of Object.entries(engineCodes)) {
    catalog.set(code as EngineCode, { code: code as EngineCode, ...info });
  }
  for (const [code, info] of Object.entries(apiCodes)) {
    if (catalog.has(code as ErrorCode)) throw new Error(`errors: ${code} is both an engine and an API code`);
    catalog.set(code as ApiCode, { code: code as ApiCode, ...info });
  }
  for (const entry of catalog.values()) {
    if (!/^[A-Z][A-Z0-9_]*$/.test(entry.code)) throw new Error(`errors: ${entry.code} is not UPPER_SNAKE`);
    if (entry.status < 400 || entry.status > 599)
      throw new Error(`errors: ${entry.code} has no error status`);
  }
  return catalog;
}

/** Every code the API can return, engine codes first. */
export const errorCatalog = buildCatalog();

export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

/** An expected failure on its way to the client: a code of the catalog and, optionally, a sharper message. */
export class ApiError extends Error {
  override name = "ApiError";
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message?: string,
  ) {
    const entry = errorCatalog.get(code);
    if (entry === undefined) throw new Error(`errors: ${code} is not in the catalog`);
    super(message ?? entry.message);
    this.status = entry.status;
  }

  body(): ErrorBody {
    return { error: { code: this.code, message: this.message } };
  }
}

export function statusOf(code: ErrorCode): number {
  return errorCatalog.get(code)!.status;
}

export function errorBody(code: ErrorCode, message?: string): ErrorBody {
  return { error: { code, message: message ?? errorCatalog.get(code)!.message } };
}
