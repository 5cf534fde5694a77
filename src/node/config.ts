/**
 * Node configuration: command-line flags first, then environment variables, then defaults. Every
 * option is listed in docs/api.md ("Configuration").
 */
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { defaultRateLimits, type RateLimitSettings } from "../api/rate-limit.js";
import { parseRedisCacheUrl } from "../cache/redis-connection.js";
import { type EngineConfig, settleConfig } from "../engine/config.js";
import { parseHistoryUrl } from "../history/open-store.js";
import { isRedisUrl, parseRedisLocation } from "../journal/open-journal.js";

export interface NodeConfig {
  host: string;
  port: number;
  dataDir: string;
  /** null: config/markets.json of the installation (or the built-in defaults if it is missing). */
  marketsFile: string | null;
  tls: { certPath: string; keyPath: string } | null;
  /** From BOURSE_ADMIN_TOKEN; null: read from (or generated into) the data directory. */
  adminToken: string | null;
  /** From BOURSE_MASTER_KEY; null: read from (or generated into) the data directory. */
  masterKey: string | null;
  demo: boolean;
  /**
   * The history store (src/history/open-store.ts): from --history or BOURSE_HISTORY_URL; null: SQLite
   * in <dataDir>/history/history.sqlite.
   */
  historyUrl: string | null;
  /**
   * The command log of a cluster (redis://…, src/journal/open-journal.ts): this node is then an API
   * node whose commands go to the engine leader. null: the file journal in dataDir (all-in-one).
   */
  journal: string | null;
  /** The cache and market-data bus (redis://… or rediss://…) of a cluster. null: in process. */
  cacheUrl: string | null;
  rateLimits: RateLimitSettings;
  logLevel: string;
}

/** Flags as commander gives them (all optional strings/booleans). */
export interface StartFlags {
  port?: string;
  host?: string;
  dataDir?: string;
  markets?: string;
  tlsCert?: string;
  tlsKey?: string;
  demo?: boolean;
  history?: string;
  journal?: string;
  cache?: string;
  rateLimitIp?: string;
  rateLimitKey?: string;
  logLevel?: string;
}

export class NodeConfigError extends Error {
  override name = "NodeConfigError";
}

function portOf(text: string, where: string): number {
  if (!/^[0-9]{1,5}$/.test(text) || Number(text) > 65_535) {
    throw new NodeConfigError(`${where}: "${text}" is not a port (0-65535)`);
  }
  return Number(text);
}

function rateOf(text: string | undefined, where: string, fallback: number): number {
  if (text === undefined) return fallback;
  if (!/^[0-9]{1,9}$/.test(text))
    throw new NodeConfigError(`${where}: "${text}" is not a whole number per second`);
  return Number(text);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

export function resolveConfig(flags: StartFlags, env: NodeJS.ProcessEnv = process.env): NodeConfig {
  const portText = flags.port ?? nonEmpty(env.BOURSE_PORT);
  const certPath = flags.tlsCert ?? nonEmpty(env.BOURSE_TLS_CERT);
  const keyPath = flags.tlsKey ?? nonEmpty(env.BOURSE_TLS_KEY);
  if ((certPath === undefined) !== (keyPath === undefined)) {
    throw new NodeConfigError(
      "TLS needs both --tls-cert and --tls-key (or BOURSE_TLS_CERT and BOURSE_TLS_KEY)",
    );
  }
  const dataDir = flags.dataDir ?? nonEmpty(env.BOURSE_DATA_DIR) ?? "./data";
  const historyUrl = flags.history ?? nonEmpty(env.BOURSE_HISTORY_URL) ?? null;
  if (historyUrl !== null) {
    try {
      parseHistoryUrl(historyUrl, dataDir);
    } catch (error) {
      const where = flags.history !== undefined ? "--history" : "BOURSE_HISTORY_URL";
      throw new NodeConfigError(`${where}: ${(error as Error).message}`);
    }
  }
  const journal = flags.journal ?? nonEmpty(env.BOURSE_JOURNAL) ?? null;
  if (journal !== null) {
    const where = flags.journal !== undefined ? "--journal" : "BOURSE_JOURNAL";
    if (!isRedisUrl(journal))
      throw new NodeConfigError(
        `${where}: "${journal}" is not a redis:// or rediss:// URL (the file journal lives in --data-dir)`,
      );
    try {
      parseRedisLocation(journal);
    } catch (error) {
      throw new NodeConfigError(`${where}: ${(error as Error).message}`);
    }
  }
  let cacheUrl = flags.cache ?? nonEmpty(env.BOURSE_CACHE_URL) ?? null;
  if (cacheUrl === "memory") cacheUrl = null;
  if (cacheUrl !== null) {
    const where = flags.cache !== undefined ? "--cache" : "BOURSE_CACHE_URL";
    try {
      parseRedisCacheUrl(cacheUrl);
    } catch (error) {
      throw new NodeConfigError(`${where}: ${(error as Error).message}`);
    }
  }
  return {
    host: flags.host ?? nonEmpty(env.BOURSE_HOST) ?? "127.0.0.1",
    port:
      portText === undefined ? 8080 : portOf(portText, flags.port !== undefined ? "--port" : "BOURSE_PORT"),
    dataDir,
    marketsFile: flags.markets ?? nonEmpty(env.BOURSE_MARKETS) ?? null,
    tls: certPath !== undefined && keyPath !== undefined ? { certPath, keyPath } : null,
    adminToken: nonEmpty(env.BOURSE_ADMIN_TOKEN) ?? null,
    masterKey: nonEmpty(env.BOURSE_MASTER_KEY) ?? null,
    demo: flags.demo === true,
    historyUrl,
    journal,
    cacheUrl,
    rateLimits: {
      ipRequestsPerSecond: rateOf(
        flags.rateLimitIp ?? nonEmpty(env.BOURSE_RATE_LIMIT_IP),
        "--rate-limit-ip",
        defaultRateLimits.ipRequestsPerSecond,
      ),
      keyRequestsPerSecond: rateOf(
        flags.rateLimitKey ?? nonEmpty(env.BOURSE_RATE_LIMIT_KEY),
        "--rate-limit-key",
        defaultRateLimits.keyRequestsPerSecond,
      ),
      authFailuresPerIpPerSecond: defaultRateLimits.authFailuresPerIpPerSecond,
    },
    logLevel: flags.logLevel ?? nonEmpty(env.BOURSE_LOG_LEVEL) ?? "info",
  };
}

/** config/markets.json of the installation (two levels above dist/src/node/). */
export function defaultMarketsFile(): string {
  return fileURLToPath(new URL("../../../config/markets.json", import.meta.url));
}

/** Reads and checks a markets file: `{ assets: [...], markets: [...] }` as src/engine/config.ts defines. */
export function loadMarkets(path: string): EngineConfig {
  if (!existsSync(path)) throw new NodeConfigError(`markets file ${path} does not exist`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new NodeConfigError(`markets file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  const config = parsed as EngineConfig;
  if (
    typeof config !== "object" ||
    config === null ||
    !Array.isArray(config.assets) ||
    !Array.isArray(config.markets)
  ) {
    throw new NodeConfigError(`markets file ${path} must hold { "assets": [...], "markets": [...] }`);
  }
  const source: EngineConfig = { assets: config.assets, markets: config.markets };
  settleConfig(source); // throws a ConfigError saying what is wrong
  return source;
}
