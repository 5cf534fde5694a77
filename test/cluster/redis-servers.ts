/**
 * Real redis-server processes for the cluster tests and the benchmark: a primary with the durable
 * settings (appendonly yes, appendfsync always) and optional replicas (--replicaof), each on a free
 * port bound to 127.0.0.1, in its own temporary directory, stopped (and removed) at the end.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { createClient, type RedisClientOptions } from "redis";

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  readonly process: ChildProcess;
  /** Sends one command on a short-lived connection. */
  command(args: string[]): Promise<unknown>;
  /** kill -9 (the server's memory and unsynced state are gone; its AOF stays on disk). */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export interface RedisServerOptions {
  /** Replicate from this primary. */
  replicaOf?: RedisServer;
  /** Extra `--name value` settings. */
  settings?: Record<string, string>;
  /** Keep the directory after stop (a later server may start on it). */
  dir?: string;
}

/** Redis Functions need 7.0; the tests refuse to run on an older server rather than pass vacuously. */
export function redisServerVersion(): string {
  let text: string;
  try {
    text = execFileSync("redis-server", ["--version"], { encoding: "utf8" });
  } catch {
    throw new Error(
      "redis-server is not installed: run scripts/ensure-redis.sh (apt-get install redis-server)",
    );
  }
  const version = /v=(\d+\.\d+\.\d+)/.exec(text)?.[1];
  if (version === undefined) throw new Error(`cannot read the redis-server version from: ${text}`);
  if (Number(version.split(".")[0]) < 7)
    throw new Error(`redis-server ${version} has no Functions (FUNCTION LOAD): 7.0 or later is needed`);
  return version;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function command(port: number, args: string[]): Promise<unknown> {
  return commandOnce({ url: `redis://127.0.0.1:${port}`, socket: { reconnectStrategy: false } }, args);
}

/** Sends one command on a connection of its own (made with `options`), closed after the reply. */
export async function commandOnce(options: RedisClientOptions, args: string[]): Promise<unknown> {
  const client = createClient(options);
  client.on("error", () => {});
  await client.connect();
  try {
    return await client.sendCommand(args);
  } finally {
    client.destroy();
  }
}

export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  return startOnFreePort(() => startOnce(options));
}

/**
 * Checks the redis-server version, then runs `start` (which takes a free port) up to five times:
 * another process may take the free port between the probe and the bind.
 */
export async function startOnFreePort<T>(start: () => Promise<T>): Promise<T> {
  redisServerVersion();
  for (let attempt = 1; ; attempt++) {
    try {
      return await start();
    } catch (error) {
      if (attempt >= 5) throw error;
    }
  }
}

/**
 * Spawns `redis-server args` (its log file in `dir`) and waits up to 10 s until `ping` succeeds; an
 * early exit or the deadline is an error carrying its stderr and the tail of its log.
 */
export async function launchRedisServer(
  args: string[],
  port: number,
  dir: string,
  ping: () => Promise<unknown>,
): Promise<{ child: ChildProcess; exited: Promise<void> }> {
  const child = spawn("redis-server", args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    stderr += chunk;
  });
  let exitedEarly = false;
  const exited = new Promise<void>((resolve) =>
    child.on("exit", () => {
      exitedEarly = true;
      resolve();
    }),
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (exitedEarly)
      throw new Error(`redis-server on port ${port} exited at start: ${stderr}${readLog(dir)}`);
    try {
      await ping();
      return { child, exited };
    } catch {
      if (Date.now() > deadline) {
        child.kill("SIGKILL");
        throw new Error(`redis-server on port ${port} did not answer within 10 s: ${readLog(dir)}`);
      }
      await sleep(20);
    }
  }
}

async function startOnce(options: RedisServerOptions): Promise<RedisServer> {
  const port = await freePort();
  const dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), "bourse-redis-"));
  const settings: Record<string, string> = {
    port: String(port),
    bind: "127.0.0.1",
    dir,
    appendonly: "yes",
    appendfsync: "always",
    save: "",
    daemonize: "no",
    "protected-mode": "yes",
    logfile: "redis.log",
    ...(options.replicaOf ? { replicaof: `127.0.0.1 ${options.replicaOf.port}` } : {}),
    ...options.settings,
  };
  const args: string[] = [];
  for (const [name, value] of Object.entries(settings)) {
    args.push(`--${name}`);
    if (name === "replicaof") args.push(...value.split(" "));
    else args.push(value);
  }
  const { child, exited } = await launchRedisServer(args, port, dir, () => command(port, ["PING"]));
  if (options.replicaOf) await waitReplicaLink(port);
  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    process: child,
    command: (a) => command(port, a),
    kill: () => stop("SIGKILL"),
    async stop() {
      await stop("SIGTERM");
      if (options.dir === undefined) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The tail of a server's redis.log in `dir` (empty when there is none). */
export function readLog(dir: string): string {
  try {
    return fs.readFileSync(path.join(dir, "redis.log"), "utf8").slice(-2_000);
  } catch {
    return "";
  }
}

/** Waits until a replica's link to its primary is up and its first sync is done. */
export async function waitReplicaLink(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = String(await command(port, ["INFO", "replication"]));
    if (/master_link_status:up/.test(info) && /master_sync_in_progress:0/.test(info)) return;
    if (Date.now() > deadline) throw new Error(`replica on port ${port} did not sync: ${info}`);
    await sleep(25);
  }
}

/** A primary with `appendonly yes` + `appendfsync always` and `replicas` replicas of it. */
export async function startReplicatedRedis(
  replicas = 1,
  settings: Record<string, string> = {},
): Promise<{ primary: RedisServer; replicas: RedisServer[]; stop(): Promise<void> }> {
  const primary = await startRedis({ settings });
  const started: RedisServer[] = [];
  try {
    for (let i = 0; i < replicas; i++) started.push(await startRedis({ replicaOf: primary }));
  } catch (error) {
    for (const r of started) await r.stop();
    await primary.stop();
    throw error;
  }
  return {
    primary,
    replicas: started,
    async stop() {
      for (const r of started) await r.stop();
      await primary.stop();
    },
  };
}
