/**
 * `bourse start` (all-in-one) and `bourse api` (an API node of a cluster): runs a node (src/node/bourse.ts) until SIGTERM or SIGINT, then stops accepting,
 * drains in-flight commands, snapshots, and exits 0. A second signal exits at once (1).
 */
import type { Command } from "commander";
import { NodeConfigError, resolveConfig, type StartFlags } from "../node/config.js";

export function registerStart(program: Command): void {
  nodeCommand(
    program,
    "start",
    "run Bourse: REST + WebSocket API over the durable journal (see docs/api.md)",
    false,
  );
  nodeCommand(
    program,
    "api",
    "run an API node of a cluster: orders to the engine leader, market data from the cache and bus (docs/cache.md)",
    true,
  );
}

function nodeCommand(program: Command, name: string, description: string, cluster: boolean): void {
  program
    .command(name)
    .description(description)
    .option("--port <port>", "TCP port (env BOURSE_PORT; default 8080; 0 picks a free one)")
    .option("--host <host>", "address to bind (env BOURSE_HOST; default 127.0.0.1)")
    .option(
      "--data-dir <dir>",
      "journal, snapshots, master key and admin token (env BOURSE_DATA_DIR; default ./data)",
    )
    .option("--markets <file>", "markets configuration (env BOURSE_MARKETS; default config/markets.json)")
    .option(
      "--tls-cert <path>",
      "PEM certificate: serve HTTPS and WSS (env BOURSE_TLS_CERT; needs --tls-key)",
    )
    .option("--tls-key <path>", "PEM private key of --tls-cert (env BOURSE_TLS_KEY)")
    .option(
      "--rate-limit-ip <perSecond>",
      "requests per second per client IP, 0 = off (env BOURSE_RATE_LIMIT_IP)",
    )
    .option(
      "--rate-limit-key <perSecond>",
      "requests per second per API key, 0 = off (env BOURSE_RATE_LIMIT_KEY)",
    )
    .option(
      "--history <url>",
      "history store: sqlite:<path> or dynamodb://host:port?region=…&prefix=… (env BOURSE_HISTORY_URL; default SQLite in the data dir)",
    )
    .option(
      "--journal <url>",
      "a cluster's command log, redis://host:port?namespace=…: run as an API node of that cluster (env BOURSE_JOURNAL; default: the file journal in --data-dir)",
    )
    .option(
      "--cache <url>",
      "a cluster's cache and market-data bus, redis:// or rediss://user:pass@host:port?ca=…&namespace=… (env BOURSE_CACHE_URL; default: in process)",
    )
    .option("--log-level <level>", "fatal, error, warn, info, debug (env BOURSE_LOG_LEVEL; default info)")
    .option("--demo", "also create demo accounts and run market-making and trading bots")
    .action(async (flags: StartFlags) => {
      const config = resolveConfig(flags);
      if (cluster && config.journal === null) {
        throw new NodeConfigError(
          "bourse api needs the cluster's command log: --journal redis://host:port?namespace=… (env BOURSE_JOURNAL)",
        );
      }
      const { startBourse } = await import("../node/bourse.js");
      const node = await startBourse(config);
      let stopping = false;
      const stop = (signal: string): void => {
        if (stopping) {
          process.stderr.write(`bourse: second ${signal}, exiting without draining\n`);
          process.exit(1);
        }
        stopping = true;
        node.close().then(
          () => process.exit(0),
          (error: unknown) => {
            process.stderr.write(`bourse: shutdown failed: ${(error as Error).message}\n`);
            process.exit(1);
          },
        );
      };
      process.on("SIGTERM", () => stop("SIGTERM"));
      process.on("SIGINT", () => stop("SIGINT"));
    });
}
