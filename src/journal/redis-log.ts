/**
 * Access to the command log on a Redis-compatible server (Redis 7+, Valkey, MemoryDB): one
 * connection (node-redis, binary replies), the key names of a namespace, the function library, and
 * the few operations the journal and the cluster use. No policy lives here: the Redis journal
 * (redis-journal.ts) decides what durable means, the cluster (src/cluster/) when to take over.
 */
import { readFileSync } from "node:fs";
import { createClient, RESP_TYPES } from "redis";
import { JournalError } from "./errors.js";
import { fn, functionsLibrary } from "./redis-functions.js";

export interface RedisLogOptions {
  /** redis://[user:password@]host:port[/db] or rediss:// (TLS; ?ca=<PEM file> for a private CA). */
  url: string;
  /** Key prefix, as a hash tag so that every key of a log is in one cluster slot. */
  namespace?: string;
  /** Name shown by CLIENT LIST (operators see which node holds which connection). */
  clientName?: string;
  connectTimeoutMs?: number;
}

export interface LogKeys {
  log: string;
  meta: string;
  lease: string;
  snapshots: string;
  snapshotChunk(seq: number, index: number): string;
  node(nodeId: string): string;
  nodes: string;
  handover: string;
}

export function logKeys(namespace: string): LogKeys {
  const p = `{${namespace}}`;
  return {
    log: `${p}:log`,
    meta: `${p}:meta`,
    lease: `${p}:lease`,
    snapshots: `${p}:snapshots`,
    snapshotChunk: (seq, index) => `${p}:snapshot:${seq}:${index}`,
    node: (nodeId) => `${p}:node:${nodeId}`,
    nodes: `${p}:nodes`,
    handover: `${p}:handover`,
  };
}

/** meta: who writes the log, and where it ends. */
export interface LogHead {
  epoch: number;
  seq: number;
  time: number;
  chain: number;
  leader: string;
  address: string;
}

/** One stream entry: a group-commit batch. `records` are in the journal record format. */
export interface LogEntry {
  id: string;
  firstSeq: number;
  lastSeq: number;
  records: Buffer;
  epoch: number;
  /** State hash right after lastSeq, when the leader published one with this batch. */
  checkpoint: string | null;
}

/** Where the log ended when an epoch began (`acquire`, `claim`). */
export interface EpochStart {
  epoch: number;
  seq: number;
  time: number;
  chain: number;
}

const binary = { [RESP_TYPES.BLOB_STRING]: Buffer } as const;

/** A reply error from a function: FENCED, HELD, CONFLICT, GAP. */
export function replyCode(error: unknown): string | null {
  const message = (error as Error | null)?.message ?? "";
  const m = /^(FENCED|HELD|CONFLICT|GAP)\b/.exec(message);
  return m === null ? null : m[1]!;
}

/** An error that says nothing about the data: the connection dropped, the server is loading or read-only. */
export function isTransient(error: unknown): boolean {
  if (replyCode(error) !== null) return false;
  const name = (error as Error | null)?.name ?? "";
  const message = (error as Error | null)?.message ?? "";
  return (
    name !== "SimpleError" ||
    /^(LOADING|READONLY|MASTERDOWN|BUSY|TRYAGAIN|CLUSTERDOWN|NOREPLICAS)\b/.test(message)
  );
}

export class RedisLog {
  readonly keys: LogKeys;
  readonly url: string;
  private blockingClient: Client | null = null;

  private constructor(
    private readonly client: Client,
    private readonly options: RedisLogOptions,
  ) {
    this.keys = logKeys(options.namespace ?? "bourse");
    this.url = redactUrl(options.url);
  }

  /** Connects (retrying in the background after a drop) and loads the function library. */
  static async connect(options: RedisLogOptions): Promise<RedisLog> {
    const client = newClient(options);
    try {
      await connectFailFast(client, options.connectTimeoutMs ?? 10_000);
    } catch (error) {
      throw new Error(`journal: cannot connect to ${redactUrl(options.url)}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const log = new RedisLog(client, options);
    try {
      await log.loadFunctions();
    } catch (error) {
      // A replica refuses FUNCTION LOAD, and needs none: functions replicate from the primary.
      if (!/^READONLY\b/.test((error as Error).message)) {
        client.destroy();
        throw error;
      }
    }
    return log;
  }

  /** FUNCTION LOAD REPLACE: idempotent (the same code under the same versioned name). */
  async loadFunctions(): Promise<void> {
    await this.client.sendCommand(["FUNCTION", "LOAD", "REPLACE", functionsLibrary]);
  }

  /** The server's settings that decide what an acknowledged append survives (CONFIG GET). */
  async persistence(): Promise<{ appendonly: string; appendfsync: string; minReplicasToWrite: string }> {
    const get = async (name: string): Promise<string> => {
      // RESP3 answers a map, RESP2 a flat list.
      const reply = (await this.client.sendCommand(["CONFIG", "GET", name])) as
        | string[]
        | Record<string, string>;
      return (Array.isArray(reply) ? reply[1] : reply[name]) ?? "";
    };
    const [appendonly, appendfsync, minReplicasToWrite] = await Promise.all([
      get("appendonly"),
      get("appendfsync"),
      get("min-replicas-to-write"),
    ]);
    return { appendonly, appendfsync, minReplicasToWrite };
  }

  async head(): Promise<LogHead> {
    const m = (await this.client.sendCommand([
      "HMGET",
      this.keys.meta,
      "epoch",
      "seq",
      "time",
      "chain",
      "leader",
      "address",
    ])) as (string | null)[];
    return {
      epoch: Number(m[0] ?? 0),
      seq: Number(m[1] ?? 0),
      time: Number(m[2] ?? 0),
      chain: Number(m[3] ?? 0),
      leader: m[4] ?? "",
      address: m[5] ?? "",
    };
  }

  /** One fenced append (bourse_append). Rejects with FENCED, CONFLICT or GAP, or a transport error. */
  async append(
    epoch: number,
    firstSeq: number,
    lastSeq: number,
    lastTime: number,
    chain: number,
    records: Uint8Array,
    checkpoint: string | null,
    timeoutMs?: number,
  ): Promise<number> {
    const reply = await this.client.sendCommand(
      [
        "FCALL",
        fn.append,
        "2",
        this.keys.log,
        this.keys.meta,
        String(epoch),
        String(firstSeq),
        String(lastSeq),
        String(lastTime),
        String(chain >>> 0),
        Buffer.from(records.buffer, records.byteOffset, records.byteLength),
        checkpoint ?? "",
      ],
      timeoutMs === undefined ? undefined : { timeout: timeoutMs },
    );
    return Number(reply);
  }

  /** WAIT: how many replicas acknowledged every write this connection made so far. */
  async waitReplicas(replicas: number, timeoutMs: number): Promise<number> {
    return Number(await this.client.sendCommand(["WAIT", String(replicas), String(timeoutMs)]));
  }

  async claim(): Promise<EpochStart> {
    return epochStart(await this.client.sendCommand(["FCALL", fn.claim, "1", this.keys.meta]));
  }

  /** Takes the lease if it is free (or held by `deadHolder`, seen dead), moving to a new epoch. */
  async acquire(nodeId: string, ttlMs: number, address: string, deadHolder = ""): Promise<EpochStart> {
    return epochStart(
      await this.client.sendCommand([
        "FCALL",
        fn.acquire,
        "2",
        this.keys.lease,
        this.keys.meta,
        nodeId,
        String(ttlMs),
        address,
        deadHolder,
      ]),
    );
  }

  /** Names of the connections the server has open now (CLIENT LIST), or null when the server refuses. */
  async connectionNames(): Promise<Set<string> | null> {
    let text: string;
    try {
      text = String(await this.client.sendCommand(["CLIENT", "LIST", "TYPE", "normal"]));
    } catch {
      return null;
    }
    const names = new Set<string>();
    for (const m of text.matchAll(/ name=(\S*)/g)) if (m[1] !== "") names.add(m[1]!);
    return names;
  }

  async renew(nodeId: string, epoch: number, ttlMs: number, timeoutMs?: number): Promise<void> {
    await this.client.sendCommand(
      ["FCALL", fn.renew, "2", this.keys.lease, this.keys.meta, nodeId, String(epoch), String(ttlMs)],
      timeoutMs === undefined ? undefined : { timeout: timeoutMs },
    );
  }

  async release(nodeId: string, epoch: number): Promise<boolean> {
    const reply = await this.client.sendCommand([
      "FCALL",
      fn.release,
      "2",
      this.keys.lease,
      this.keys.meta,
      nodeId,
      String(epoch),
    ]);
    return Number(reply) === 1;
  }

  /** The lease holder and the ms it has left (null: free). */
  async lease(): Promise<{ holder: string; ttlMs: number } | null> {
    const [holder, ttl] = (await Promise.all([
      this.client.sendCommand(["GET", this.keys.lease]),
      this.client.sendCommand(["PTTL", this.keys.lease]),
    ])) as unknown as [string | null, number];
    return holder === null ? null : { holder, ttlMs: Number(ttl) };
  }

  /** Entries after `afterId` (exclusive; "-" for the start), oldest first, at most `count`. */
  async entriesAfter(afterId: string, count: number): Promise<LogEntry[]> {
    const start = afterId === "-" ? "-" : `(${afterId}`;
    const reply = (await this.client.sendCommand(
      ["XRANGE", this.keys.log, start, "+", "COUNT", String(count)],
      {
        typeMapping: binary,
      },
    )) as RawEntry[];
    return reply.map(toEntry);
  }

  /**
   * The same, waiting up to `blockMs` for new entries when there are none (XREAD BLOCK, on a
   * connection of its own so that the main one never waits behind it).
   */
  async waitEntriesAfter(afterId: string, count: number, blockMs: number): Promise<LogEntry[]> {
    if (this.blockingClient === null) {
      this.blockingClient = newClient({
        ...this.options,
        clientName: `${this.options.clientName ?? "bourse"}-follow`,
      });
      await this.blockingClient.connect();
    }
    const reply = (await this.blockingClient.sendCommand(
      [
        "XREAD",
        "COUNT",
        String(count),
        "BLOCK",
        String(blockMs),
        "STREAMS",
        this.keys.log,
        afterId === "-" ? "0-0" : afterId,
      ],
      { typeMapping: binary },
    )) as [Buffer, RawEntry[]][] | null | Record<string, RawEntry[]>;
    if (reply === null) return [];
    const streams = Array.isArray(reply) ? reply : Object.entries(reply).map(([k, v]) => [k, v] as const);
    const entries: LogEntry[] = [];
    for (const [, list] of streams) for (const raw of list) entries.push(toEntry(raw));
    return entries;
  }

  /** The id of the entry holding `seq` (the greatest firstSeq ≤ seq), or null. */
  async entryIdAtOrBefore(seq: number): Promise<string | null> {
    const reply = (await this.client.sendCommand([
      "XREVRANGE",
      this.keys.log,
      String(seq),
      "-",
      "COUNT",
      "1",
    ])) as [string, string[]][];
    return reply[0]?.[0] ?? null;
  }

  /** The first entry still in the stream (retention trims the older ones), or null. */
  async firstEntryId(): Promise<string | null> {
    const reply = (await this.client.sendCommand(["XRANGE", this.keys.log, "-", "+", "COUNT", "1"])) as [
      string,
      string[],
    ][];
    return reply[0]?.[0] ?? null;
  }

  /** Any other command (snapshots, status); binary replies when asked. */
  command(args: (string | Buffer)[], asBuffers = false): Promise<unknown> {
    return this.client.sendCommand(args, asBuffers ? { typeMapping: binary } : undefined);
  }

  async close(): Promise<void> {
    this.blockingClient?.destroy();
    this.blockingClient = null;
    this.client.destroy();
  }
}

type RawEntry = [Buffer, Buffer[]];

function toEntry(raw: RawEntry): LogEntry {
  const id = raw[0].toString("latin1");
  const dash = id.indexOf("-");
  const fields = raw[1];
  let records: Buffer | null = null;
  let epoch = 0;
  let checkpoint: string | null = null;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]!.toString("latin1");
    if (name === "r") records = fields[i + 1]!;
    else if (name === "e") epoch = Number(fields[i + 1]!.toString("latin1"));
    else if (name === "h") checkpoint = fields[i + 1]!.toString("latin1");
  }
  if (records === null) throw new JournalError("JOURNAL_FAILED", `log entry ${id} has no records`);
  return {
    id,
    firstSeq: Number(id.slice(0, dash)),
    lastSeq: Number(id.slice(dash + 1)),
    records,
    epoch,
    checkpoint,
  };
}

function epochStart(reply: unknown): EpochStart {
  const [epoch, seq, time, chain] = (reply as unknown[]).map(Number) as [number, number, number, number];
  return { epoch, seq, time, chain };
}

type Client = ReturnType<typeof newRedisClient>;

function newClient(options: RedisLogOptions): Client {
  // rediss://…?ca=<PEM file>: TLS with a private CA (the one query parameter meant for the client).
  const url = new URL(options.url);
  const caFile = url.searchParams.get("ca");
  url.searchParams.delete("ca");
  // Commands wait for a reconnect (offline queue): the appender's own deadline bounds each reply.
  return newRedisClient({
    url: url.toString(),
    name: options.clientName ?? "bourse",
    connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
    ...(caFile === null ? {} : { ca: readFileSync(caFile) }),
  });
}

export interface RedisClientSettings {
  /** redis:// or rediss:// (TLS), without Bourse's own query parameters. */
  url: string;
  /** CLIENT SETNAME. */
  name: string;
  connectTimeoutMs: number;
  /** PEM of a private CA (rediss://). */
  ca?: Buffer;
  /** Fail commands at once while disconnected instead of queueing them until the reconnect. */
  failWhileDisconnected?: boolean;
}

/**
 * Every Redis connection of Bourse (journal, cache, bus): node-redis without its per-command timer
 * (the default 5 s one costs ~19 µs of CPU per command against ~2.5 µs for the command, docs/cache.md,
 * and only covers the wait before sending), reconnecting quickly (a dropped connection is usually a
 * failover or a restart). Errors surface on the commands that fail; the client's own event would
 * otherwise crash the process.
 */
export function newRedisClient(settings: RedisClientSettings) {
  const tls = settings.url.startsWith("rediss:")
    ? { tls: true as const, ...(settings.ca === undefined ? {} : { ca: settings.ca }) }
    : {};
  const client = createClient({
    url: settings.url,
    name: settings.name,
    disableOfflineQueue: settings.failWhileDisconnected === true,
    commandOptions: { timeout: 0 },
    socket: {
      connectTimeout: settings.connectTimeoutMs,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 1_000),
      ...tls,
    },
  });
  client.on("error", () => {});
  return client;
}

/** Refusals that retrying cannot mend: a wrong password or user, missing rights, a bad certificate. */
export function isPermanentConnectError(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code ?? "";
  return (
    /^(WRONGPASS|NOAUTH|NOPERM)\b/.test(error.message) ||
    code.startsWith("ERR_TLS") ||
    /certificate|CERT_/i.test(`${code} ${error.message}`)
  );
}

/**
 * node-redis's connect() keeps retrying (its reconnect strategy) and never rejects a refused
 * password: connect, or fail at once on a permanent refusal, or after `timeoutMs`, with the cause.
 * The client is destroyed when it fails.
 */
export async function connectFailFast(
  client: {
    connect(): Promise<unknown>;
    destroy(): void;
    on(event: "error", listener: (e: Error) => void): unknown;
  },
  timeoutMs: number,
): Promise<void> {
  let lastError: Error | undefined;
  let refused: (error: Error) => void = () => {};
  client.on("error", (error: Error) => {
    lastError = error;
    if (isPermanentConnectError(error)) refused(error);
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const connecting = client.connect();
    connecting.catch(() => {}); // when the timeout or a refusal wins the race, it may reject later
    await Promise.race([
      connecting,
      new Promise((_, reject) => {
        refused = reject;
        timer = setTimeout(() => reject(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (error) {
    client.destroy();
    const cause = lastError ?? (error as Error);
    throw lastError !== undefined && lastError !== error
      ? new Error(`${(error as Error).message} (${cause.message})`, { cause })
      : cause;
  } finally {
    clearTimeout(timer);
  }
}

/** The URL without its password, for log lines. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== "") u.password = "***";
    return u.toString().replace(/\/$/, "");
  } catch {
    return "redis://(unparsable url)";
  }
}
