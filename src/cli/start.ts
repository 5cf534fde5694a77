/**
 * `bourse start`: runs a node (src/node/bourse.ts) until SIGTERM or SIGINT, then stops accepting,
 * drains in-flight commands, snapshots, and exits 0. A second signal exits at once (1).
 */
import type { Command } from "commander";
import { resolveConfig, type StartFlags } from "../node/config.js";

export function registerStart(program: Command): void {
  program
    .command("start")
    .description("run Bourse: REST + WebSocket API over the durable journal (see docs/api.md)")
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
    .option("--log-level <level>", "fatal, error, warn, info, debug (env BOURSE_LOG_LEVEL; default info)")
    .option("--demo", "also create demo accounts and run market-making and trading bots")
    .action(async (flags: StartFlags) => {
      const config = resolveConfig(flags);
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
