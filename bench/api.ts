/**
 * `npm run bench:api [-- --quick] [--data-dir DIR] [--ws-rates 50000,150000] [--rest-rates 20000,30000]
 *  [--seconds N] [--connections N]`
 *
 * Open-loop load on the real server (`bourse start` in a child process, journal on disk, every order
 * acknowledged only once durable), over WebSocket and REST. Sends are scheduled by the clock at a fixed
 * rate and each latency is measured from the order's SCHEDULED time, so a stalled server is charged for
 * the wait of every order queued behind the stall (no coordinated omission). Orders cross: limit orders
 * a few ticks around a mid from many accounts (one per connection), a third of them IOC takers, with
 * self-trade prevention cancel_maker.
 *
 * For each offered rate: achieved orders/s (acks / time to the last ack), ack latency p50, p99, p99.9
 * and max (HDR histogram, µs resolution), errors, and the server's CPU use. The generator runs in this
 * process, on the same two cores as the server: its cost is part of every figure. Progress and tables
 * go to stderr; the last line of stdout is one JSON object.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import * as hdr from "hdr-histogram-js";
import WebSocket from "ws";
import { argValue } from "./lib/args.js";
import { type Account, cpuSeconds, fundedAccount, nodeFlags } from "./lib/node-api.js";
import { XorShift32 } from "./lib/rng.js";

interface Options {
  quick: boolean;
  /** Write a CPU profile of the server into this directory (node --cpu-prof). */
  profileDir: string | null;
  dataDir: string | null;
  wsRates: number[];
  restRates: number[];
  seconds: number;
  connections: number;
}

interface RunResult {
  transport: "ws" | "rest";
  offeredPerSec: number;
  seconds: number;
  sent: number;
  /** Sends skipped because inFlightMax orders were already waiting (the server is past saturation). */
  skipped: number;
  acked: number;
  errors: number;
  errorCodes: Record<string, number>;
  achievedPerSec: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  serverCpuPercent: number;
  /** Server CPU time (all its threads) per acknowledged order: the cost, whatever the contention. */
  serverCpuUsPerOrder: number;
  benchCpuPercent: number;
}

const adminToken = "bench-admin-token";
const mainJs = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));

function parseArgs(argv: string[]): Options {
  const quick = argv.includes("--quick");
  const value = (name: string): string | undefined => argValue(argv, name);
  const rates = (name: string, fallback: number[]): number[] => {
    const v = value(name);
    return v === undefined ? fallback : v.split(",").map(Number);
  };
  return {
    quick,
    profileDir: value("--profile") ?? null,
    dataDir: value("--data-dir") ?? null,
    wsRates: rates(
      "--ws-rates",
      quick ? [50_000, 150_000] : [5_000, 25_000, 50_000, 100_000, 150_000, 200_000],
    ),
    restRates: rates("--rest-rates", quick ? [20_000, 30_000] : [2_000, 10_000, 20_000, 30_000, 40_000]),
    seconds: Number(value("--seconds") ?? (quick ? 4 : 10)),
    connections: Number(value("--connections") ?? 32),
  };
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

// ───────────────────────────── the server under test ─────────────────────────────

interface Server {
  child: ChildProcess;
  url: string;
  pid: number;
}

async function startServer(dataDir: string, profileDir: string | null): Promise<Server> {
  const child = spawn(
    process.execPath,
    [
      // The same V8 flag as `npm start` (package.json) and the `bourse` shebang: see docs/api.md.
      "--max-semi-space-size=64",
      ...(profileDir === null ? [] : ["--cpu-prof", `--cpu-prof-dir=${profileDir}`]),
      mainJs,
      "start",
      ...nodeFlags(dataDir),
    ],
    {
      env: { ...process.env, BOURSE_ADMIN_TOKEN: adminToken, BOURSE_LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout!.on("data", (c) => (output += c.toString()));
  child.stderr!.on("data", (c) => (output += c.toString()));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const match = /listening on (http:\/\/[^ ]+)/.exec(output);
    if (match) return { child, url: match[1]!, pid: child.pid! };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`server did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function stopServer(server: Server): Promise<void> {
  const exited = new Promise((resolve) => server.child.once("exit", resolve));
  server.child.kill("SIGTERM");
  await exited;
}

async function createAccounts(url: string, n: number): Promise<Account[]> {
  const accounts: Account[] = [];
  const funds = { USD: "1000000000", ETH: "1000000" };
  for (let i = 0; i < n; i += 16) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(16, n - i) }, () => fundedAccount(url, adminToken, "bench", funds)),
    );
    accounts.push(...batch);
  }
  return accounts;
}

// ───────────────────────────── order flow ─────────────────────────────

/** Seeded order bodies: limit orders ±20 ticks around 3000.00 on ETH-USD, a third IOC takers. */
class OrderFlow {
  private readonly random = new XorShift32(0x9e3779b9);

  body(): string {
    const buy = this.random.float() < 0.5;
    const taker = this.random.float() < 0.35;
    const offset = Math.floor(this.random.float() * 21);
    const ticks = taker
      ? 300_000 + (buy ? 25 : -25)
      : 300_000 + (buy ? -offset : offset) + (this.random.float() < 0.5 ? 3 : -3);
    const price = `${Math.floor(ticks / 100)}.${String(ticks % 100).padStart(2, "0")}`;
    const quantity = `0.${String(1 + Math.floor(this.random.float() * 50)).padStart(3, "0")}`;
    // cancel_maker: a socket read brings hundreds of one account's orders in a row, so a taker often meets
    // its own resting order first; cancelling the maker (rather than the taker) keeps the book thin.
    return `{"symbol":"ETH-USD","side":"${buy ? "buy" : "sell"}","type":"limit","price":"${price}","quantity":"${quantity}"${taker ? ',"timeInForce":"IOC"' : ""},"selfTradePrevention":"cancel_maker"}`;
  }
}

function newHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 120_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

/** The error code of an error reply, cheaply. */
function codeOf(text: string): string {
  const match = /"code":"([A-Z_]+)"/.exec(text);
  return match ? match[1]! : "UNKNOWN";
}

interface Transport {
  /** Sends one order to connection `i`; `scheduledMs` is its place in the schedule. */
  send(i: number, body: string, scheduledMs: number): void;
  /** Called after a burst of sends (uncork). */
  flush(): void;
  readonly count: number;
  close(): Promise<void>;
}

/** Orders sent and not yet answered, all connections together: past it the generator skips sends. */
const inFlightMax = 20_000;

interface Recorder {
  histogram: hdr.Histogram;
  acked: number;
  errors: number;
  errorCodes: Record<string, number>;
  lastAckMs: number;
}

function record(recorder: Recorder, scheduledMs: number, errorText: string | null): void {
  const now = performance.now();
  recorder.histogram.recordValue(Math.max(1, Math.round((now - scheduledMs) * 1000)));
  recorder.lastAckMs = now;
  if (errorText === null) recorder.acked++;
  else {
    recorder.errors++;
    const code = codeOf(errorText);
    recorder.errorCodes[code] = (recorder.errorCodes[code] ?? 0) + 1;
  }
}

// ───────────────────────────── WebSocket transport ─────────────────────────────

async function wsTransport(url: string, accounts: Account[], recorder: () => Recorder): Promise<Transport> {
  const wsUrl = `${url.replace(/^http/, "ws")}/v1/ws`;
  const sockets: { ws: WebSocket; socket: Socket; pending: Map<number, number>; corked: boolean }[] = [];
  let nextId = 1;
  for (const account of accounts) {
    const ws = new WebSocket(wsUrl, { perMessageDeflate: false, skipUTF8Validation: true });
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    const pending = new Map<number, number>();
    const entry = { ws, socket: (ws as unknown as { _socket: Socket })._socket, pending, corked: false };
    const authed = new Promise<void>((resolve, reject) => {
      ws.once("message", (data) =>
        String(data).includes('"result"') ? resolve() : reject(new Error(String(data))),
      );
    });
    const timestamp = String(Date.now());
    const signature = createHmac("sha256", account.apiSecret).update(`${timestamp}WS/v1/ws`).digest("hex");
    ws.send(JSON.stringify({ op: "auth", id: 0, key: account.apiKey, timestamp, signature }));
    await authed;
    ws.on("message", (data) => {
      const text = data.toString();
      // Replies start with {"id":N,
      const comma = text.indexOf(",", 6);
      const id = Number(text.slice(6, comma));
      const scheduled = pending.get(id);
      if (scheduled === undefined) return;
      pending.delete(id);
      record(recorder(), scheduled, text.startsWith('"error"', comma + 1) ? text : null);
    });
    sockets.push(entry);
  }
  return {
    count: sockets.length,
    send(i, body, scheduledMs) {
      const s = sockets[i]!;
      if (!s.corked) {
        s.corked = true;
        s.socket.cork();
      }
      const id = nextId++;
      s.pending.set(id, scheduledMs);
      s.ws.send(`{"op":"order.place","id":${id},"params":${body}}`);
    },
    flush() {
      for (const s of sockets) {
        if (s.corked) {
          s.corked = false;
          s.socket.uncork();
        }
      }
    },
    async close() {
      await Promise.all(
        sockets.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.ws.once("close", () => resolve());
              s.ws.close();
            }),
        ),
      );
    },
  };
}

// ───────────────────────────── REST transport (HTTP/1.1 keep-alive, pipelined) ─────────────────────────────

async function restTransport(url: string, accounts: Account[], recorder: () => Recorder): Promise<Transport> {
  const { hostname, port } = new URL(url);
  const conns: {
    socket: Socket;
    queue: number[];
    head: number;
    buffer: string;
    account: Account;
    corked: boolean;
  }[] = [];
  for (const account of accounts) {
    const socket = connect(Number(port), hostname);
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    socket.setNoDelay(true);
    const conn = { socket, queue: [] as number[], head: 0, buffer: "", account, corked: false };
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => {
      conn.buffer += chunk;
      for (;;) {
        const end = conn.buffer.indexOf("\r\n\r\n");
        if (end < 0) return;
        const headers = conn.buffer.slice(0, end);
        const lengthAt = headers.indexOf("content-length: ");
        const length = lengthAt < 0 ? 0 : Number.parseInt(headers.slice(lengthAt + 16), 10);
        if (conn.buffer.length < end + 4 + length) return;
        const status = Number(headers.slice(9, 12));
        const body = conn.buffer.slice(end + 4, end + 4 + length);
        conn.buffer = conn.buffer.slice(end + 4 + length);
        const scheduled = conn.queue[conn.head++]!;
        if (conn.head > 4096) {
          conn.queue = conn.queue.slice(conn.head);
          conn.head = 0;
        }
        record(recorder(), scheduled, status === 201 ? null : body);
      }
    });
    conns.push(conn);
  }
  const path = "/v1/orders";
  return {
    count: conns.length,
    send(i, body, scheduledMs) {
      const c = conns[i]!;
      if (!c.corked) {
        c.corked = true;
        c.socket.cork();
      }
      const timestamp = String(Date.now());
      const signature = createHmac("sha256", c.account.apiSecret)
        .update(`${timestamp}POST${path}${body}`)
        .digest("hex");
      c.queue.push(scheduledMs);
      c.socket.write(
        `POST ${path} HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n` +
          `X-Bourse-Key: ${c.account.apiKey}\r\nX-Bourse-Timestamp: ${timestamp}\r\nX-Bourse-Signature: ${signature}\r\n\r\n${body}`,
      );
    },
    flush() {
      for (const c of conns) {
        if (c.corked) {
          c.corked = false;
          c.socket.uncork();
        }
      }
    },
    async close() {
      for (const c of conns) c.socket.end();
    },
  };
}

// ───────────────────────────── the open-loop run ─────────────────────────────

async function run(
  transport: Transport,
  name: "ws" | "rest",
  rate: number,
  seconds: number,
  serverPid: number,
  setRecorder: (r: Recorder) => void,
): Promise<RunResult> {
  const recorder: Recorder = { histogram: newHistogram(), acked: 0, errors: 0, errorCodes: {}, lastAckMs: 0 };
  setRecorder(recorder);
  const flow = new OrderFlow();
  const total = Math.round(rate * seconds);
  const intervalMs = 1000 / rate;
  const serverCpu0 = cpuSeconds(serverPid);
  const benchCpu0 = process.cpuUsage();
  const t0 = performance.now();
  let scheduled = 0;
  let sent = 0;
  let skipped = 0;
  let next = 0;
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - t0) / intervalMs) + 1);
      // Bounded burst per turn so replies keep flowing; lateness still counts from the schedule.
      const until = Math.min(due, scheduled + 20_000);
      while (scheduled < until) {
        if (sent - recorder.acked - recorder.errors >= inFlightMax) {
          skipped++;
        } else {
          transport.send(next, flow.body(), t0 + scheduled * intervalMs);
          next = (next + 1) % transport.count;
          sent++;
        }
        scheduled++;
      }
      transport.flush();
      if (scheduled >= total) return resolve();
      const wait = t0 + scheduled * intervalMs - performance.now();
      if (wait > 2) setTimeout(pump, Math.min(wait - 1, 10));
      else setImmediate(pump);
    };
    pump();
  });
  const drainDeadline = performance.now() + 15_000;
  while (recorder.acked + recorder.errors < sent && performance.now() < drainDeadline) {
    await new Promise((r) => setTimeout(r, 5));
  }
  const elapsedMs = (recorder.lastAckMs || performance.now()) - t0;
  const wallSeconds = (performance.now() - t0) / 1000;
  const benchCpu = process.cpuUsage(benchCpu0);
  const h = recorder.histogram;
  const ms = (us: number): number => Math.round(us) / 1000;
  const result: RunResult = {
    transport: name,
    offeredPerSec: rate,
    seconds,
    sent,
    skipped,
    acked: recorder.acked,
    errors: recorder.errors,
    errorCodes: recorder.errorCodes,
    achievedPerSec: Math.round(((recorder.acked + recorder.errors) * 1000) / elapsedMs),
    p50Ms: ms(h.getValueAtPercentile(50)),
    p99Ms: ms(h.getValueAtPercentile(99)),
    p999Ms: ms(h.getValueAtPercentile(99.9)),
    maxMs: ms(h.maxValue),
    serverCpuPercent: Math.round(((cpuSeconds(serverPid) - serverCpu0) / wallSeconds) * 100),
    serverCpuUsPerOrder: Math.round(
      ((cpuSeconds(serverPid) - serverCpu0) * 1e6) / Math.max(1, recorder.acked + recorder.errors),
    ),
    benchCpuPercent: Math.round(((benchCpu.user + benchCpu.system) / 1e6 / wallSeconds) * 100),
  };
  h.destroy();
  return result;
}

function row(r: RunResult): string {
  const cells = [
    r.transport.padEnd(4),
    String(r.offeredPerSec).padStart(8),
    String(r.achievedPerSec).padStart(8),
    r.p50Ms.toFixed(2).padStart(8),
    r.p99Ms.toFixed(2).padStart(8),
    r.p999Ms.toFixed(2).padStart(8),
    r.maxMs.toFixed(1).padStart(8),
    String(r.errors).padStart(7),
    String(r.skipped).padStart(8),
    `${r.serverCpuPercent}%`.padStart(6),
    String(r.serverCpuUsPerOrder).padStart(7),
    `${r.benchCpuPercent}%`.padStart(6),
  ];
  return cells.join(" ");
}

// ───────────────────────────── the thread-split probe ─────────────────────────────

/**
 * `--split-probe`: what the order path costs on the main thread, stage by stage, and what moving the
 * engine and journal to a worker thread would cost in messages, so that the split is decided by
 * numbers (docs/api.md, "Two cores"). In process, no network; CPU per order from process.cpuUsage.
 */
async function probeSplit(): Promise<Record<string, number>> {
  const { Engine } = await import("../src/engine/engine.js");
  const { settleConfig, defaultConfig } = await import("../src/engine/config.js");
  const { RequestParser } = await import("../src/api/parse.js");
  const { DurableEngine } = await import("../src/journal/durable-engine.js");
  const { engineFactory } = await import("../src/journal/state-machine.js");
  const { RealFileSystem } = await import("../src/platform/real-file-system.js");
  const { SystemClock } = await import("../src/platform/clock.js");
  const { Worker } = await import("node:worker_threads");
  type Cmd = import("../src/engine/types.js").Command;
  type Input = import("../src/node/pipeline.js").CommandInput;
  const n = 200_000;
  const accounts = 32;
  const settled = settleConfig(defaultConfig);
  const parser = new RequestParser(settled);
  const flow = new OrderFlow();
  const bodies = Array.from({ length: n }, () => JSON.parse(flow.body()) as unknown);
  const setup: Input[] = [];
  for (let a = 1; a <= accounts; a++) {
    setup.push({ type: "create_account" });
    setup.push({ type: "deposit", accountId: a, asset: "USD", amount: 10 ** 15, transferId: `u${a}` });
    setup.push({ type: "deposit", accountId: a, asset: "ETH", amount: 10 ** 14, transferId: `e${a}` });
  }
  const cpu = (f: () => void | Promise<void>) => async (): Promise<number> => {
    const c0 = process.cpuUsage();
    await f();
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / n;
  };
  const results: Record<string, number> = {};

  // 1. Parse and validate the request bodies into commands (JSON.parse excluded).
  let inputs: Input[] = [];
  results.parseUsPerOrder = await cpu(() => {
    inputs = bodies.map((b, i) => parser.place(1 + (i % accounts), b));
  })();

  // 2. The engine alone.
  {
    const engine = new Engine(defaultConfig);
    const out: import("../src/engine/types.js").EngineEvent[] = [];
    let seq = 0;
    const t = Date.now();
    for (const c of setup) engine.apply({ ...c, seq: ++seq, time: t } as Cmd, out);
    const stamped = inputs.map((c) => ({ ...c, seq: ++seq, time: t }) as Cmd);
    results.engineUsPerOrder = await cpu(() => {
      for (const c of stamped) {
        out.length = 0;
        engine.apply(c, out);
      }
    })();
  }

  // 3. Sequencer + journal + engine + output gate (DurableEngine, no snapshots), fsync on the disk.
  {
    const dir = mkdtempSync(join(tmpdir(), "bourse-probe-"));
    const durable = await DurableEngine.open({
      fs: new RealFileSystem(),
      dir,
      factory: engineFactory(defaultConfig),
      clock: new SystemClock(),
      snapshotter: null,
      log: () => {},
    });
    for (const c of setup) await durable.submit(c);
    const copies = inputs.map((c) => ({ ...c }));
    results.durableEngineUsPerOrder = await cpu(async () => {
      let done = 0;
      await new Promise<void>((resolve) => {
        const finish = (): void => {
          if (++done === n) resolve();
        };
        let i = 0;
        const pump = (): void => {
          const until = Math.min(n, i + 5_000);
          for (; i < until; i++) durable.submitWith(copies[i]!, finish);
          if (i < n) setImmediate(pump);
        };
        pump();
      });
    })();
    await durable.close();
    rmSync(dir, { recursive: true, force: true });
  }

  // 4. What a worker split adds to the main thread: commands out (structured clone, batched per
  //    event-loop turn) and a reply string back for each.
  {
    const worker = new Worker(
      `const { parentPort } = require("node:worker_threads");
       parentPort.on("message", (batch) => parentPort.postMessage(batch.map((c) => '{"id":' + c.accountId + ',"result":{"orderId":"1","status":"open"}}')));`,
      { eval: true },
    );
    const batch = 500;
    results.workerRoundTripUsPerOrder = await cpu(async () => {
      let received = 0;
      await new Promise<void>((resolve) => {
        worker.on("message", (replies: string[]) => {
          received += replies.length;
          if (received >= n) resolve();
        });
        for (let i = 0; i < n; i += batch) worker.postMessage(inputs.slice(i, i + batch));
      });
    })();
    await worker.terminate();
  }
  for (const [k, v] of Object.entries(results)) results[k] = Math.round(v * 100) / 100;
  return results;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  if (process.argv.includes("--split-probe")) {
    const probe = await probeSplit();
    log(JSON.stringify(probe));
    process.stdout.write(`${JSON.stringify({ bench: "api-split-probe", ...probe })}\n`);
    return;
  }
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "bourse-bench-api-"));
  const load = loadavg();
  log(
    `bench:api: ${cpus().length} CPUs (load average ${load[0]!.toFixed(1)}), data dir ${dataDir}, ` +
      `${options.connections} connections, ${options.seconds} s per rate`,
  );
  const server = await startServer(dataDir, options.profileDir);
  const results: RunResult[] = [];
  try {
    const accounts = await createAccounts(server.url, options.connections);
    let current: Recorder = { histogram: newHistogram(), acked: 0, errors: 0, errorCodes: {}, lastAckMs: 0 };
    const recorderOf = () => current;
    const setRecorder = (r: Recorder) => {
      current = r;
    };
    log(
      "transport  offered achieved  p50(ms)  p99(ms) p99.9(ms)  max(ms)  errors  skipped server  µs/ord  bench",
    );

    const ws = await wsTransport(server.url, accounts, recorderOf);
    await run(ws, "ws", 10_000, options.quick ? 1 : 2, server.pid, setRecorder); // warm-up: JIT, caches
    for (const rate of options.wsRates) {
      const r = await run(ws, "ws", rate, options.seconds, server.pid, setRecorder);
      results.push(r);
      log(row(r));
    }
    await ws.close();

    const rest = await restTransport(server.url, accounts, recorderOf);
    await run(rest, "rest", 5_000, 1, server.pid, setRecorder);
    for (const rate of options.restRates) {
      const r = await run(rest, "rest", rate, options.seconds, server.pid, setRecorder);
      results.push(r);
      log(row(r));
    }
    await rest.close();
  } finally {
    await stopServer(server);
    if (options.dataDir === null) rmSync(dataDir, { recursive: true, force: true });
  }

  const ws = results.filter((r) => r.transport === "ws");
  const rest = results.filter((r) => r.transport === "rest");
  const at = (rs: RunResult[], rate: number) => rs.find((r) => r.offeredPerSec === rate) ?? null;
  // A rate counts towards the maximum only if every order sent was acknowledged without error.
  const clean = (rs: RunResult[]) => rs.filter((r) => r.errors === 0);
  const summary = {
    bench: "api",
    quick: options.quick,
    wsMaxOrdersPerSec: Math.max(0, ...clean(ws).map((r) => r.achievedPerSec)),
    wsP99MsAt50k: at(ws, 50_000)?.p99Ms ?? null,
    restMaxOrdersPerSec: Math.max(0, ...clean(rest).map((r) => r.achievedPerSec)),
    restP99MsAt20k: at(rest, 20_000)?.p99Ms ?? null,
    cpus: cpus().length,
    loadAverageAtStart: Number(load[0]!.toFixed(2)),
    loadAverageAtEnd: Number(loadavg()[0]!.toFixed(2)),
    dataDir: options.dataDir ?? "tmpdir",
    runs: results,
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

await main();
