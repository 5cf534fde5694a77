/**
 * `npm run bench:cache [-- --quick] [--seconds N] [--read-seconds N] [--subscribers N] [--rates 50,200]
 *  [--connections N] [--skip-cluster] [--all-in-one-fanout] [--skip-reads] [--client raw|ws]
 *  [--profile-dir DIR]`  (--rates: orders/s, default 20,50,100,200,400; quick 50,300)
 *
 * The cache and the market-data fan-out, on real processes (issue #6):
 *
 *   1. cached public reads: GET /v1/markets/BTC-USD/book?depth=50 and GET /v1/markets/BTC-USD/ticker,
 *      closed loop over `--connections` (64) keep-alive HTTP/1.1 connections with one request in flight
 *      each (raw sockets: the client costs little next to the server), against (a) an all-in-one node
 *      (`bourse start`) and (b) an API node of a cluster. Both answer from the rendered-response cache
 *      (src/api/read-cache.ts); the book is seeded (100 levels a side + a trade) before and does not move
 *      during the reads, so nearly every read is a cache hit.
 *   2. fan-out: a cluster of one redis-server (appendonly yes, appendfsync always), one engine node
 *      (`bourse engine --cache`, journal durability aof-always, no replica) and 2 API nodes
 *      (`bourse api --cache`, the same BOURSE_MASTER_KEY). 1,000 WebSocket subscribers split over the
 *      2 API nodes, each subscribed to book + trades + ticker of BTC-USD, run in 2 worker threads of
 *      this process. Each subscriber is a TCP socket of its own that does the WebSocket upgrade and
 *      parses the server's frames itself (`--client ws`: the `ws` library's client instead, with
 *      permessage-deflate off: about twice the CPU per message): every message is received on a real socket
 *      and counted; book messages are checked in place (`"sequence":N`), trades messages are read for
 *      each trade's id and time (in place, JSON.parse when not in the server's layout), ticker messages
 *      only counted. An order generator (accounts made
 *      through the admin REST API, orders over authenticated WebSocket through both API nodes) sends
 *      crossing limit orders at a fixed rate. Measured: messages delivered per second over all
 *      subscribers, and trade → subscriber latency: for every trade received, receive time − the
 *      trade's `time` (the exchange time stamped by the engine's sequencer, whole ms: the figure is up to
 *      1 ms high), p50/p99 in an HDR histogram. The trade's time is stamped before the command is durable:
 *      the latency includes the journal's fsync, the bus (Redis stream) and the API node's fan-out.
 *      Bus → subscriber (busToSubscriberP50Ms/P99Ms): a worker thread of the bench subscribes to the bus
 *      itself (RedisMarketDataBus, as an API node's replica does) and notes when each trade's batch
 *      reached it; a subscriber's receive time − that is the API node's part (its bus read, replica
 *      apply, fan-out) plus the kernel and the client. Trades a subscriber got before the bench's reader
 *      are left out (`busUnmatched`); the reader's own wake-up delay makes the figure a little low.
 *      Each offered rate is one run; the headline (fanoutMessagesPerSec and its latencies) is the run
 *      that delivered the most. Each subscriber also checks its book sequences and trade ids: a trade id
 *      skipped is a trade never delivered to it (`tradesMissing`).
 *      `--all-in-one-fanout` measures the same fan-out from the all-in-one node (a baseline).
 *
 * Everything (redis-server, engine, API nodes, the subscribers and the generator) shares this machine's
 * cores: the subscriber clients' cost is part of every fan-out figure. Progress and tables go to
 * stderr; the last line of stdout is one JSON object.
 *
 * `--profile-dir DIR`: the engine and both API nodes run with --cpu-prof (DIR/engine, DIR/api1,
 * DIR/api2, written when they stop) and so do the subscriber threads (DIR/subscribers); summarize with
 * `node dist/bench/lib/profile-summary.js DIR/api2`. `--skip-reads`: the fan-out only.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve as resolvePath } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import * as hdr from "hdr-histogram-js";
import WebSocket from "ws";
import { RedisMarketDataBus } from "../src/cache/redis-bus.js";
import { type RedisServer, startRedis } from "../test/cluster/redis-servers.js";
import { argValue } from "./lib/args.js";
import { type Account, cpuSeconds, fundedAccount, nodeFlags } from "./lib/node-api.js";
import { XorShift32 } from "./lib/rng.js";

const symbol = "BTC-USD";
const adminToken = "bench-admin-token";
const mainJs = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

function newHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000,
    numberOfSignificantValueDigits: 3,
  });
}

// ───────────────────────────── the subscriber worker ─────────────────────────────

interface SubscriberSetup {
  wsUrl: string;
  count: number;
  /**
   * "raw" (default): each subscriber is a TCP socket of its own that does the WebSocket upgrade and
   * parses the server's frames itself (RFC 6455 §5.2: length, opcode; answers pings); "ws": the `ws`
   * library's client. Both receive every frame on a real socket and count it.
   */
  client: "raw" | "ws";
  /**
   * Trade id → when the bench's own bus reader (busReaderWorker) received the bus entry that carried it
   * (ms since the epoch, as performance.timeOrigin + performance.now()), slot id % busSlots; and the id
   * in each slot (Float64Array views over the two halves).
   */
  busTimes?: SharedArrayBuffer;
}

interface SubscriberResult {
  elapsedMs: number;
  messages: number;
  byChannel: Record<string, number>;
  trades: number;
  /** hdr histogram of trade → subscriber latency, µs, encodeIntoCompressedBase64. */
  latency: string;
  /** hdr histogram of bus → subscriber latency (µs) of the trades the bench's bus reader saw first. */
  busLatency: string;
  /** Trades received that the bench's bus reader had not seen yet (not in busLatency). */
  busUnmatched: number;
  /** Book updates whose sequence was not the previous + 1 (a message lost or reordered). */
  bookGaps: number;
  /** Trade ids skipped (a trade id above the previous + 1, per subscriber): trades never delivered. */
  tradesMissing: number;
  /** Trades whose id was not above the subscriber's previous one (repeated or reordered). */
  tradesOutOfOrder: number;
  closed: number;
  minPerSubscriber: number;
  maxPerSubscriber: number;
}

const busSlots = 1 << 20;
const websocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** A masked client frame (RFC 6455 §5.3): what a client sends; payloads here are small. */
function clientFrame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const header = length < 126 ? 2 : 4;
  const frame = Buffer.allocUnsafe(header + 4 + length);
  frame[0] = 0x80 | opcode;
  if (length < 126) frame[1] = 0x80 | length;
  else {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  }
  const mask = randomBytes(4);
  mask.copy(frame, header);
  for (let k = 0; k < length; k++) frame[header + 4 + k] = payload[k]! ^ mask[k & 3]!;
  return frame;
}

/**
 * A worker: `count` subscribers to one API node; counts between "start" and "stop". Each message is
 * classified by its first bytes (`{"channel":"book"`, …: the server's key order; anything else is
 * JSON-parsed); book messages are checked for sequence continuity by reading `"sequence":N` in place;
 * trades messages are JSON-parsed (trade ids and times: the latency and the missing-trade check).
 */
async function subscriberWorker(setup: SubscriberSetup): Promise<void> {
  const port = parentPort!;
  const BOOK = 0;
  const TRADES = 1;
  const TICKER = 2;
  const SNAPSHOT = 3;
  const channelNames = ["book", "trades", "ticker", "book.snapshot"];
  let counting = false;
  let t0 = 0;
  let messages = 0;
  let trades = 0;
  let bookGaps = 0;
  let tradesMissing = 0;
  let tradesOutOfOrder = 0;
  let busUnmatched = 0;
  let closed = 0;
  const counts = new Float64Array(channelNames.length);
  const otherChannels = new Map<string, number>();
  let histogram = newHistogram();
  let busHistogram = newHistogram();
  const busTimes = setup.busTimes ? new Float64Array(setup.busTimes, 0, busSlots) : null;
  const busIds = setup.busTimes ? new Float64Array(setup.busTimes, busSlots * 8, busSlots) : null;
  const perSubscriber = new Float64Array(setup.count);
  const lastSequence = new Float64Array(setup.count);
  const lastTradeId = new Float64Array(setup.count);
  const replyHandlers: ((text: string) => void)[] = [];
  const closers: (() => void)[] = [];
  const sequenceKey = Buffer.from('"sequence":');
  const prefix = Buffer.from('{"channel":"');
  const bookTypePrefix = Buffer.from('{"channel":"book","type":"');

  /** buf[at, at + key.length) equals key (byte by byte: cheaper than a native call for a few bytes). */
  const matches = (buf: Buffer, at: number, end: number, key: Buffer): boolean => {
    if (at + key.length > end) return false;
    for (let k = 0; k < key.length; k++) if (buf[at + k] !== key[k]) return false;
    return true;
  };

  /** Where `"sequence":` is in a book update of `symbol` when the server's key order is kept. */
  const updateSequenceAt = `{"channel":"book","type":"update","symbol":"${symbol}",`.length;
  /** Where `"sequence":` starts in buf[start, end), or -1. */
  const findSequence = (buf: Buffer, start: number, end: number): number => {
    if (matches(buf, start + updateSequenceAt, end, sequenceKey)) return start + updateSequenceAt;
    // `{"channel":"book","type":"update","symbol":"BTC-USD","sequence":…`: near the start.
    const near = Math.min(end - sequenceKey.length, start + 96);
    for (let k = start + 12; k <= near; k++)
      if (buf[k] === 0x22 && matches(buf, k, end, sequenceKey)) return k;
    const at = buf.subarray(start, end).indexOf(sequenceKey);
    return at < 0 ? -1 : start + at;
  };

  const tradeIdKey = Buffer.from('{"tradeId":"');
  const timeKey = Buffer.from('"time":');
  /** Digits from buf[k]: [value, index after them] in scanned; false if none. */
  const scanned = [0, 0];
  const digitsAt = (buf: Buffer, k: number, end: number): boolean => {
    let value = 0;
    let j = k;
    for (; j < end; j++) {
      const d = buf[j]! - 48;
      if (d < 0 || d > 9) break;
      value = value * 10 + d;
    }
    scanned[0] = value;
    scanned[1] = j;
    return j > k;
  };

  /**
   * The trades of a trades message read in place: [tradeId, time, …] into `out`, each trade object
   * `{"tradeId":"N",…,"time":T}` (the server's key order). False if the message is not in that form
   * (the caller then JSON-parses it).
   */
  const tradePairs: number[] = [];
  const scanTrades = (buf: Buffer, start: number, end: number, out: number[]): boolean => {
    out.length = 0;
    let k = start + 1; // past the message's own brace: the next ones open trade objects
    for (;;) {
      while (k < end && buf[k] !== 0x7b) k++;
      if (k >= end) return out.length > 0;
      if (!matches(buf, k, end, tradeIdKey)) return false;
      if (!digitsAt(buf, k + tradeIdKey.length, end) || buf[scanned[1]!] !== 0x22) return false;
      const id = scanned[0]!;
      // The trade's closing brace; its time is the digits right before it, after "time":.
      let close = scanned[1]!;
      while (close < end && buf[close] !== 0x7d) close++;
      if (close >= end) return false;
      let d = close - 1;
      let time = 0;
      let unit = 1;
      for (; d > k; d--) {
        const digit = buf[d]! - 48;
        if (digit < 0 || digit > 9) break;
        time += digit * unit;
        unit *= 10;
      }
      if (d === close - 1 || !matches(buf, d + 1 - timeKey.length, end, timeKey)) return false;
      out.push(id, time);
      k = close + 1;
    }
  };

  const countOther = (name: string): void => {
    otherChannels.set(name, (otherChannels.get(name) ?? 0) + 1);
  };

  /** One text message of subscriber i: buf[start, end). */
  const onMessage = (i: number, buf: Buffer, start: number, end: number): void => {
    let channel = -1;
    if (end - start > 20 && matches(buf, start, end, prefix)) {
      const c = buf[start + 12];
      if (c === 0x62 && buf[start + 16] === 0x22)
        channel = BOOK; // book"
      else if (c === 0x74 && buf[start + 18] === 0x22) {
        if (buf[start + 13] === 0x72)
          channel = TRADES; // trades"
        else if (buf[start + 13] === 0x69) channel = TICKER; // ticker"
      }
    }
    if (channel < 0) {
      const text = buf.toString("utf8", start, end);
      const parsed = JSON.parse(text) as { channel?: string; id?: unknown };
      if (parsed.channel === undefined && parsed.id !== undefined) {
        replyHandlers[i]?.(text);
        return;
      }
      if (counting) {
        messages++;
        perSubscriber[i]!++;
        countOther(parsed.channel ?? "other");
      }
      return;
    }
    if (channel === BOOK) {
      const at = findSequence(buf, start, end);
      if (at >= 0) {
        let sequence = 0;
        for (let k = at + sequenceKey.length; k < end; k++) {
          const d = buf[k]! - 48;
          if (d < 0 || d > 9) break;
          sequence = sequence * 10 + d;
        }
        const isUpdate = matches(buf, start, end, bookTypePrefix)
          ? buf[start + bookTypePrefix.length] === 0x75 // u(pdate)
          : buf.subarray(start, end).indexOf('"type":"update"') >= 0;
        if (counting && isUpdate && lastSequence[i]! > 0 && sequence !== lastSequence[i]! + 1) bookGaps++;
        // A snapshot after the subscription's first (the node resynced its market data).
        if (counting && !isUpdate) counts[SNAPSHOT]!++;
        lastSequence[i] = sequence;
      }
    }
    if (!counting) return;
    messages++;
    perSubscriber[i]!++;
    counts[channel]!++;
    if (channel === TRADES) {
      const now = performance.timeOrigin + performance.now();
      if (!scanTrades(buf, start, end, tradePairs)) {
        const message = JSON.parse(buf.toString("utf8", start, end)) as {
          trades: { time: number | string; tradeId: string | number }[];
        };
        tradePairs.length = 0;
        for (const t of message.trades) tradePairs.push(Number(t.tradeId), Number(t.time));
      }
      for (let t = 0; t < tradePairs.length; t += 2) {
        trades++;
        const id = tradePairs[t]!;
        const time = tradePairs[t + 1]!;
        const last = lastTradeId[i]!;
        if (last > 0 && id > last + 1) tradesMissing += id - last - 1;
        else if (last > 0 && id <= last) tradesOutOfOrder++;
        lastTradeId[i] = id;
        histogram.recordValue(Math.max(1, Math.round((now - time) * 1000)));
        if (busTimes !== null) {
          const slot = id % busSlots;
          if (busIds![slot] === id)
            busHistogram.recordValue(Math.max(1, Math.round((now - busTimes[slot]!) * 1000)));
          else busUnmatched++;
        }
      }
    }
  };

  const subscribeFrames = [
    { op: "subscribe", id: 1, channel: "book", symbol },
    { op: "subscribe", id: 2, channel: "trades", symbol },
    { op: "subscribe", id: 3, channel: "ticker", symbol },
  ].map((m) => JSON.stringify(m));

  /** Resolves once the 3 subscriptions are confirmed. */
  const subscribed = (i: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      let replies = 0;
      replyHandlers[i] = (text) => {
        if (text.includes('"error"')) reject(new Error(`subscribe refused: ${text}`));
        else if (++replies === 3) resolve();
      };
    });

  const openWs = async (i: number): Promise<void> => {
    const ws = new WebSocket(setup.wsUrl, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    const done = subscribed(i);
    ws.on("message", (data: Buffer) => onMessage(i, data, 0, data.length));
    ws.on("close", () => {
      if (counting) closed++;
    });
    closers[i] = () => ws.terminate();
    for (const text of subscribeFrames) ws.send(text);
    await done;
  };

  const openRaw = async (i: number): Promise<void> => {
    const url = new URL(setup.wsUrl);
    const key = randomBytes(16).toString("base64");
    const accept = createHash("sha1")
      .update(key + websocketGuid)
      .digest("base64");
    const socket = connect(Number(url.port), url.hostname);
    socket.setNoDelay(true);
    closers[i] = () => socket.destroy();
    const upgraded = new Promise<void>((resolve, reject) => {
      let pending: Buffer | null = null;
      let open = false;
      socket.on("error", reject);
      socket.on("close", () => {
        if (counting) closed++;
        reject(new Error("closed before the upgrade"));
      });
      socket.on("data", (chunk: Buffer) => {
        const buf: Buffer = pending === null ? chunk : Buffer.concat([pending, chunk]);
        pending = null;
        let pos = 0;
        if (!open) {
          const headEnd = buf.indexOf("\r\n\r\n");
          if (headEnd < 0) {
            pending = buf;
            return;
          }
          const head = buf.toString("latin1", 0, headEnd);
          if (!head.startsWith("HTTP/1.1 101") || !head.includes(`Sec-WebSocket-Accept: ${accept}`)) {
            socket.destroy();
            reject(new Error(`upgrade refused: ${head.split("\r\n")[0]}`));
            return;
          }
          open = true;
          resolve();
          pos = headEnd + 4;
        }
        const n = buf.length;
        while (pos + 2 <= n) {
          const b0 = buf[pos]!;
          const b1 = buf[pos + 1]!;
          let length = b1 & 0x7f;
          let header = 2;
          if (length === 126) {
            if (pos + 4 > n) break;
            length = buf.readUInt16BE(pos + 2);
            header = 4;
          } else if (length === 127) {
            if (pos + 10 > n) break;
            length = buf.readUInt32BE(pos + 2) * 2 ** 32 + buf.readUInt32BE(pos + 6);
            header = 10;
          }
          if ((b1 & 0x80) !== 0) {
            socket.destroy(new Error("a masked frame from the server"));
            return;
          }
          if (pos + header + length > n) break;
          const start = pos + header;
          const end = start + length;
          const opcode = b0 & 0x0f;
          if (opcode === 1 && (b0 & 0x80) !== 0) onMessage(i, buf, start, end);
          else if (opcode === 9)
            socket.write(clientFrame(0x0a, buf.subarray(start, end))); // pong
          else if (opcode === 8) socket.end();
          else if (counting) {
            // Binary or fragmented: the server sends neither; counted, not parsed.
            messages++;
            perSubscriber[i]!++;
            countOther(`opcode ${opcode}${(b0 & 0x80) === 0 ? " fragment" : ""}`);
          }
          pos = end;
        }
        if (pos < n) pending = buf.subarray(pos);
      });
    });
    socket.write(
      `GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    await upgraded;
    const done = subscribed(i);
    for (const text of subscribeFrames) socket.write(clientFrame(0x01, Buffer.from(text)));
    await done;
  };

  const open = setup.client === "ws" ? openWs : openRaw;
  try {
    for (let i = 0; i < setup.count; i += 50) {
      await Promise.all(Array.from({ length: Math.min(50, setup.count - i) }, (_, j) => open(i + j)));
    }
  } catch (error) {
    port.postMessage({ type: "error", message: (error as Error).message });
    for (const close of closers) close?.();
    return;
  }
  port.postMessage({ type: "ready" });
  port.on("message", (m: { type: string }) => {
    if (m.type === "start") {
      messages = 0;
      trades = 0;
      bookGaps = 0;
      tradesMissing = 0;
      tradesOutOfOrder = 0;
      busUnmatched = 0;
      lastTradeId.fill(0);
      closed = 0;
      counts.fill(0);
      otherChannels.clear();
      perSubscriber.fill(0);
      histogram.destroy();
      histogram = newHistogram();
      busHistogram.destroy();
      busHistogram = newHistogram();
      counting = true;
      t0 = performance.now();
    } else if (m.type === "stop") {
      counting = false;
      const byChannel: Record<string, number> = {};
      channelNames.forEach((name, k) => {
        if (counts[k]! > 0) byChannel[name] = counts[k]!;
      });
      for (const [name, n] of otherChannels) byChannel[name] = n;
      const result: SubscriberResult = {
        elapsedMs: performance.now() - t0,
        messages,
        byChannel,
        trades,
        latency: hdr.encodeIntoCompressedBase64(histogram),
        busLatency: hdr.encodeIntoCompressedBase64(busHistogram),
        busUnmatched,
        bookGaps,
        tradesMissing,
        tradesOutOfOrder,
        closed,
        minPerSubscriber: Math.min(...perSubscriber),
        maxPerSubscriber: Math.max(...perSubscriber),
      };
      port.postMessage({ type: "result", result });
    } else if (m.type === "close") {
      for (const close of closers) close?.();
      port.close();
    }
  });
}

/**
 * The bench's own reader of the market-data bus (a worker thread): the same subscription an API node's
 * replica makes (RedisMarketDataBus.subscribe); for every trade of every batch, the time the batch
 * reached this reader goes to the shared table the subscriber workers read (bus → subscriber latency).
 */
async function busReaderWorker(setup: { redisUrl: string; busTimes: SharedArrayBuffer }): Promise<void> {
  const port = parentPort!;
  const busTimes = new Float64Array(setup.busTimes, 0, busSlots);
  const busIds = new Float64Array(setup.busTimes, busSlots * 8, busSlots);
  const bus = new RedisMarketDataBus(setup.redisUrl, { clientName: "bench-bus-reader" });
  let batches = 0;
  let gaps = 0;
  bus.subscribe(-1, {
    onBatch: (batch) => {
      const now = performance.timeOrigin + performance.now();
      batches++;
      for (const u of batch.updates) {
        if (u.channel !== "trades") continue;
        for (const t of u.trades) {
          const id = Number(t.tradeId);
          const slot = id % busSlots;
          busTimes[slot] = now;
          busIds[slot] = id; // after the time: a subscriber that sees the id sees its time
        }
      }
    },
    onGap: () => {
      gaps++;
    },
  });
  port.postMessage({ type: "ready" });
  port.on("message", (m: { type: string }) => {
    if (m.type === "close") {
      port.postMessage({ type: "closed", batches, gaps });
      void bus.close().then(() => port.close());
    }
  });
}

/** Waits for a worker to exit (a profiled one writes its profile then), terminating it after timeoutMs. */
async function endWorker(worker: Worker, timeoutMs: number): Promise<void> {
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  await Promise.race([exited, sleep(timeoutMs)]);
  await worker.terminate();
}

class Subscribers {
  private readonly workers: Worker[] = [];
  private readonly waiting = new Map<Worker, (m: { type: string; result?: SubscriberResult }) => void>();
  private busReader: Worker | null = null;

  /**
   * `total` subscribers in `threads` worker threads, worker i on wsUrls[i % wsUrls.length]; with
   * `redisUrl`, also a bus reader (bus → subscriber latency); with `profileDir`, each worker thread
   * writes a CPU profile there.
   */
  static async start(
    wsUrls: string[],
    total: number,
    options: { client: "raw" | "ws"; redisUrl?: string; profileDir?: string },
    threads = 2,
  ): Promise<Subscribers> {
    const s = new Subscribers();
    const execArgv = options.profileDir
      ? ["--cpu-prof", `--cpu-prof-dir=${join(options.profileDir, "subscribers")}`]
      : undefined;
    let busTimes: SharedArrayBuffer | undefined;
    if (options.redisUrl !== undefined) {
      busTimes = new SharedArrayBuffer(busSlots * 16);
      const reader = new Worker(new URL(import.meta.url), {
        workerData: { busReader: true, redisUrl: options.redisUrl, busTimes },
      });
      s.busReader = reader;
      await new Promise<void>((resolve, reject) => {
        reader.once("message", () => resolve());
        reader.once("error", reject);
        reader.once("exit", (code) => reject(new Error(`bus reader exited (${code})`)));
      });
    }
    const ready: Promise<unknown>[] = [];
    Array.from({ length: threads }, (_, i) => wsUrls[i % wsUrls.length]!).forEach((wsUrl, i) => {
      const count = Math.floor(total / threads) + (i < total % threads ? 1 : 0);
      const setup: SubscriberSetup = { wsUrl, count, client: options.client, busTimes };
      const worker = new Worker(new URL(import.meta.url), { workerData: setup, execArgv });
      s.workers.push(worker);
      worker.on("message", (m: { type: string; result?: SubscriberResult; message?: string }) => {
        s.waiting.get(worker)?.(m);
      });
      ready.push(s.next(worker, "ready"));
    });
    try {
      await Promise.all(ready);
    } catch (error) {
      await s.close();
      throw error;
    }
    return s;
  }

  private next(worker: Worker, type: string): Promise<{ type: string; result?: SubscriberResult }> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number) => reject(new Error(`subscriber worker exited (${code})`));
      worker.once("exit", onExit);
      worker.once("error", reject);
      this.waiting.set(worker, (m) => {
        worker.off("exit", onExit);
        worker.off("error", reject);
        this.waiting.delete(worker);
        if (m.type === "error") reject(new Error((m as { message?: string }).message));
        else if (m.type === type) resolve(m);
      });
    });
  }

  start(): void {
    for (const w of this.workers) w.postMessage({ type: "start" });
  }

  async stop(): Promise<SubscriberResult[]> {
    const results = this.workers.map((w) => this.next(w, "result"));
    for (const w of this.workers) w.postMessage({ type: "stop" });
    return (await Promise.all(results)).map((m) => m.result!);
  }

  async close(): Promise<void> {
    const workers = this.busReader ? [...this.workers, this.busReader] : this.workers;
    for (const w of workers) w.postMessage({ type: "close" });
    await Promise.all(workers.map((w) => endWorker(w, 5_000)));
  }
}

// ───────────────────────────── processes ─────────────────────────────

/** A node process, alone in its process group (killed as a group), its output kept for errors. */
class NodeChild {
  output = "";
  readonly exited: Promise<void>;

  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    const keep = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString()).slice(-40_000);
    };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    children.add(this);
  }

  get pid(): number {
    return this.child.pid!;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.output);
      if (match) return match;
      if (!this.alive)
        throw new Error(
          `${this.name} exited (${this.child.exitCode ?? this.child.signalCode}):\n${this.tail()}`,
        );
      if (Date.now() > deadline)
        throw new Error(`${this.name}: no ${pattern} within ${timeoutMs} ms:\n${this.tail()}`);
      await sleep(20);
    }
  }

  tail(chars = 3_000): string {
    return this.output.slice(-chars);
  }

  async stop(): Promise<void> {
    if (this.alive) {
      try {
        process.kill(-this.pid, "SIGTERM");
      } catch {
        // already gone
      }
      const timer = setTimeout(() => this.killNow(), 15_000);
      await this.exited;
      clearTimeout(timer);
    }
    // Anything it left in its group.
    this.killNow();
    children.delete(this);
  }

  killNow(): void {
    try {
      process.kill(-this.pid, "SIGKILL");
    } catch {
      // no such group
    }
  }
}

const children = new Set<NodeChild>();
const redisServers = new Set<RedisServer>();
if (isMainThread) {
  process.on("exit", () => {
    for (const c of children) c.killNow();
    for (const r of redisServers) r.process.kill("SIGKILL");
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      log(`bench:cache: ${signal}, stopping the processes it started`);
      process.exit(130);
    });
  }
}

/** With profileDir, the process writes a CPU profile (node --cpu-prof) there when it exits. */
function spawnNode(
  name: string,
  args: string[],
  env: Record<string, string>,
  profileDir?: string,
): NodeChild {
  const profile = profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [];
  const child = spawn(process.execPath, ["--max-semi-space-size=64", ...profile, mainJs, ...args], {
    env: { ...process.env, BOURSE_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  return new NodeChild(name, child);
}

// ───────────────────────────── REST: admin, signed orders, the seed book ─────────────────────────────

async function createAccounts(url: string, n: number): Promise<Account[]> {
  const funds = { USD: "1000000000", BTC: "100000" };
  return Promise.all(Array.from({ length: n }, () => fundedAccount(url, adminToken, "bench-cache", funds)));
}

async function placeRest(url: string, account: Account, order: Record<string, unknown>): Promise<void> {
  const path = "/v1/orders";
  const body = JSON.stringify(order);
  const timestamp = String(Date.now());
  const signature = createHmac("sha256", account.apiSecret)
    .update(`${timestamp}POST${path}${body}`)
    .digest("hex");
  const response = await fetch(url + path, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "x-bourse-key": account.apiKey,
      "x-bourse-timestamp": timestamp,
      "x-bourse-signature": signature,
    },
    body,
  });
  if (response.status !== 201)
    throw new Error(`POST ${path} ${body}: ${response.status} ${await response.text()}`);
}

const priceText = (cents: number): string =>
  `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, "0")}`;

/** 100 bid levels from 49,000.00 down and 100 ask levels from 51,000.00 up (out of the generator's
 *  reach), and one trade at 50,000.00 so that the ticker has a last price. */
async function seedBook(url: string, accounts: Account[]): Promise<void> {
  const orders: [Account, Record<string, unknown>][] = [];
  for (let i = 0; i < 100; i++) {
    orders.push([
      accounts[i % accounts.length]!,
      { symbol, side: "buy", type: "limit", price: priceText(4_900_000 - i * 100), quantity: "0.0100" },
    ]);
    orders.push([
      accounts[(i + 1) % accounts.length]!,
      { symbol, side: "sell", type: "limit", price: priceText(5_100_000 + i * 100), quantity: "0.0100" },
    ]);
  }
  for (let i = 0; i < orders.length; i += 20)
    await Promise.all(orders.slice(i, i + 20).map(([a, o]) => placeRest(url, a, o)));
  await placeRest(url, accounts[0]!, {
    symbol,
    side: "sell",
    type: "limit",
    price: "50000.00",
    quantity: "0.0100",
  });
  await placeRest(url, accounts[1]!, {
    symbol,
    side: "buy",
    type: "limit",
    price: "50000.00",
    quantity: "0.0100",
    timeInForce: "IOC",
  });
}

/** Until the node's book shows the seeded levels and its ticker the seed trade (an API node follows). */
async function waitSeeded(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    try {
      const book = (await (await fetch(`${url}/v1/markets/${symbol}/book?depth=50`)).json()) as {
        bids?: unknown[];
        asks?: unknown[];
      };
      const ticker = (await (await fetch(`${url}/v1/markets/${symbol}/ticker`)).json()) as { last?: unknown };
      if ((book.bids?.length ?? 0) >= 50 && (book.asks?.length ?? 0) >= 50 && ticker.last) return;
      last = `book ${book.bids?.length ?? "?"}/${book.asks?.length ?? "?"} levels, ticker last ${ticker.last}`;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline)
      throw new Error(`${url}: the seeded book did not show within ${timeoutMs} ms (${last})`);
    await sleep(50);
  }
}

// ───────────────────────────── cached reads ─────────────────────────────

interface ReadResult {
  path: string;
  seconds: number;
  reads: number;
  readsPerSec: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
  bodyBytes: number;
  serverCpuPercent: number;
}

/** Closed loop: `connections` keep-alive connections, one GET in flight on each, for `seconds`. */
async function readLoad(
  url: string,
  path: string,
  connections: number,
  seconds: number,
  serverPid: number,
): Promise<ReadResult> {
  const { hostname, port } = new URL(url);
  const request = `GET ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAccept: application/json\r\n\r\n`;
  const histogram = newHistogram();
  let reads = 0;
  let errors = 0;
  let bodyBytes = 0;
  let running = true;
  let counting = false;
  const sockets: Socket[] = [];
  const done: Promise<void>[] = [];
  for (let i = 0; i < connections; i++) {
    const socket = connect(Number(port), hostname);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("error", reject);
    });
    socket.setNoDelay(true);
    socket.setEncoding("latin1");
    sockets.push(socket);
    done.push(
      new Promise<void>((resolve) => {
        let buffer = "";
        let sentAt = performance.now();
        const send = (): void => {
          if (!running) {
            resolve();
            return;
          }
          sentAt = performance.now();
          socket.write(request);
        };
        socket.on("data", (chunk: string) => {
          buffer += chunk;
          for (;;) {
            const end = buffer.indexOf("\r\n\r\n");
            if (end < 0) return;
            const headers = buffer.slice(0, end).toLowerCase();
            const lengthAt = headers.indexOf("content-length:");
            if (lengthAt < 0) throw new Error(`no content-length in a reply to ${path}:\n${headers}`);
            const length = Number.parseInt(headers.slice(lengthAt + 15), 10);
            if (buffer.length < end + 4 + length) return;
            const status = Number(headers.slice(9, 12));
            buffer = buffer.slice(end + 4 + length);
            if (counting) {
              if (status === 200) {
                reads++;
                bodyBytes = length;
              } else errors++;
              histogram.recordValue(Math.max(1, Math.round((performance.now() - sentAt) * 1000)));
            }
            send();
          }
        });
        socket.on("close", () => resolve());
        socket.on("error", () => {
          errors++;
          resolve();
        });
        send();
      }),
    );
  }
  await sleep(Math.min(1_000, seconds * 250)); // warm-up: JIT, the first render
  counting = true;
  const cpu0 = cpuSeconds(serverPid);
  const t0 = performance.now();
  await sleep(seconds * 1_000);
  counting = false;
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(serverPid) - cpu0;
  running = false;
  await Promise.all(done);
  for (const s of sockets) s.destroy();
  const result: ReadResult = {
    path,
    seconds: Math.round(elapsed * 100) / 100,
    reads,
    readsPerSec: Math.round(reads / elapsed),
    errors,
    p50Ms: histogram.getValueAtPercentile(50) / 1000,
    p99Ms: histogram.getValueAtPercentile(99) / 1000,
    bodyBytes,
    serverCpuPercent: Math.round((cpu / elapsed) * 100),
  };
  histogram.destroy();
  return result;
}

async function measureReads(
  where: string,
  url: string,
  pid: number,
  options: Options,
): Promise<{ book: ReadResult; ticker: ReadResult }> {
  const book = await readLoad(
    url,
    `/v1/markets/${symbol}/book?depth=50`,
    options.connections,
    options.readSeconds,
    pid,
  );
  const ticker = await readLoad(
    url,
    `/v1/markets/${symbol}/ticker`,
    options.connections,
    options.readSeconds,
    pid,
  );
  for (const r of [book, ticker])
    log(
      `  ${where.padEnd(10)} ${r.path.padEnd(34)} ${String(r.readsPerSec).padStart(7)} reads/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  ${r.bodyBytes} B  errors ${r.errors}  server CPU ${r.serverCpuPercent}%`,
    );
  return { book, ticker };
}

/** The node's read-cache and market-data replica gauges from /metrics (bourse_read_cache_*, bourse_marketdata_*). */
async function nodeMetrics(url: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  try {
    const text = await (await fetch(`${url}/metrics`)).text();
    for (const line of text.split("\n")) {
      const match = /^(bourse_(?:read_cache|marketdata)_\w+) (\S+)$/.exec(line);
      if (match) out[match[1]!.replace(/^bourse_/, "")] = Number(match[2]);
    }
  } catch {
    // no metrics: nothing to add
  }
  return out;
}

async function readCacheMetrics(url: string): Promise<string> {
  return Object.entries(await nodeMetrics(url))
    .map(([k, v]) => `${k} ${v}`)
    .join("; ");
}

// ───────────────────────────── the order generator ─────────────────────────────

/** Crossing limit orders around 50,000.00: makers ±1..20 ticks, 35% IOC takers 25 ticks through. */
class OrderFlow {
  private readonly random = new XorShift32(0x9e3779b9);

  body(): string {
    const buy = this.random.float() < 0.5;
    const taker = this.random.float() < 0.35;
    const offset = 1 + Math.floor(this.random.float() * 20);
    const cents = taker ? 5_000_000 + (buy ? 25 : -25) : 5_000_000 + (buy ? -offset : offset);
    const quantity = `0.${String(10 + Math.floor(this.random.float() * 200)).padStart(4, "0")}`;
    return `{"symbol":"${symbol}","side":"${buy ? "buy" : "sell"}","type":"limit","price":"${priceText(cents)}","quantity":"${quantity}"${taker ? ',"timeInForce":"IOC"' : ""},"selfTradePrevention":"cancel_maker"}`;
  }
}

interface GeneratorStats {
  sent: number;
  acked: number;
  errors: number;
  errorCodes: Record<string, number>;
  ack: hdr.Histogram;
}

class Generator {
  private readonly conns: { ws: WebSocket; pending: Map<number, number> }[] = [];
  private nextId = 1;
  private running = false;
  private windowStart = 0;
  private loop: Promise<void> = Promise.resolve();
  private readonly flow = new OrderFlow();
  stats: GeneratorStats = { sent: 0, acked: 0, errors: 0, errorCodes: {}, ack: newHistogram() };

  /** One authenticated WebSocket per account, on its node; retried while the node has not seen the account. */
  static async connect(targets: { url: string; account: Account }[]): Promise<Generator> {
    const g = new Generator();
    for (const { url, account } of targets) {
      const deadline = Date.now() + 15_000;
      for (;;) {
        try {
          g.conns.push(await g.open(url, account));
          break;
        } catch (error) {
          if (Date.now() > deadline)
            throw new Error(`order connection to ${url}: ${(error as Error).message}`);
          await sleep(100);
        }
      }
    }
    return g;
  }

  private async open(
    url: string,
    account: Account,
  ): Promise<{ ws: WebSocket; pending: Map<number, number> }> {
    const ws = new WebSocket(`${url.replace(/^http/, "ws")}/v1/ws`, { perMessageDeflate: false });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    const timestamp = String(Date.now());
    const signature = createHmac("sha256", account.apiSecret).update(`${timestamp}WS/v1/ws`).digest("hex");
    const authed = new Promise<void>((resolve, reject) => {
      ws.once("message", (data) => {
        if (String(data).includes('"result"')) resolve();
        else {
          ws.terminate();
          reject(new Error(`auth: ${String(data)}`));
        }
      });
    });
    ws.send(JSON.stringify({ op: "auth", id: 0, key: account.apiKey, timestamp, signature }));
    await authed;
    const pending = new Map<number, number>();
    ws.on("message", (data) => {
      const text = String(data);
      const reply = JSON.parse(text) as { id?: number; error?: { code: string } };
      if (typeof reply.id !== "number") return;
      const sentAt = pending.get(reply.id);
      if (sentAt === undefined) return;
      pending.delete(reply.id);
      if (sentAt < this.windowStart) return; // sent before the measurement window
      const s = this.stats;
      s.ack.recordValue(Math.max(1, Math.round((performance.now() - sentAt) * 1000)));
      if (reply.error === undefined) s.acked++;
      else {
        s.errors++;
        s.errorCodes[reply.error.code] = (s.errorCodes[reply.error.code] ?? 0) + 1;
      }
    });
    return { ws, pending };
  }

  resetStats(): GeneratorStats {
    this.windowStart = performance.now();
    const old = this.stats;
    this.stats = { sent: 0, acked: 0, errors: 0, errorCodes: {}, ack: newHistogram() };
    return old;
  }

  /** Open loop at `rate` orders/s round robin over the connections, until stop(). */
  start(rate: number): void {
    this.running = true;
    this.loop = (async () => {
      const t0 = performance.now();
      let sent = 0;
      while (this.running) {
        const due = Math.floor(((performance.now() - t0) * rate) / 1000);
        while (sent < due) {
          const scheduled = t0 + (sent * 1000) / rate;
          const c = this.conns[sent % this.conns.length]!;
          const id = this.nextId++;
          c.pending.set(id, scheduled);
          c.ws.send(`{"op":"order.place","id":${id},"params":${this.flow.body()}}`);
          sent++;
          this.stats.sent++;
        }
        await sleep(1);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    // Let the last orders be answered.
    const deadline = Date.now() + 5_000;
    while (this.conns.some((c) => c.pending.size > 0) && Date.now() < deadline) await sleep(20);
  }

  close(): void {
    for (const c of this.conns) c.ws.terminate();
  }
}

// ───────────────────────────── the cluster ─────────────────────────────

interface Cluster {
  redis: RedisServer;
  /** The cache and bus location (namespace bench). */
  cacheUrl: string;
  engine: NodeChild;
  apis: { node: NodeChild; url: string; dataDir: string }[];
  stop(): Promise<void>;
}

async function startCluster(profileDir: string): Promise<Cluster> {
  const redis = await startRedis(); // appendonly yes, appendfsync always (test/cluster/redis-servers.ts)
  redisServers.add(redis);
  const journal = `redis://127.0.0.1:${redis.port}?durability=aof-always&replicas=0&namespace=bench`;
  const cache = `redis://127.0.0.1:${redis.port}?namespace=bench`;
  const started: NodeChild[] = [];
  const apis: Cluster["apis"] = [];
  const stop = async (): Promise<void> => {
    for (const n of [...started].reverse()) await n.stop();
    for (const a of apis) rmSync(a.dataDir, { recursive: true, force: true });
    await redis.stop();
    redisServers.delete(redis);
  };
  try {
    const engine = spawnNode(
      "engine e1",
      ["engine", "--journal", journal, "--cache", cache, "--node-id", "e1", "--port", "0", "--json-events"],
      {},
      profileDir ? join(profileDir, "engine") : undefined,
    );
    started.push(engine);
    await engine.waitFor(/"event":"leader"/, 30_000);
    const masterKey = randomBytes(32).toString("hex"); // 64 hex characters (src/api/auth.ts parseMasterKey)
    for (let i = 1; i <= 2; i++) {
      const dataDir = mkdtempSync(join(tmpdir(), `bourse-bench-cache-api${i}-`));
      const node = spawnNode(
        `api node ${i}`,
        ["api", "--journal", journal, "--cache", cache, ...nodeFlags(dataDir)],
        { BOURSE_MASTER_KEY: masterKey, BOURSE_ADMIN_TOKEN: adminToken },
        profileDir ? join(profileDir, `api${i}`) : undefined,
      );
      started.push(node);
      apis.push({ node, url: "", dataDir });
    }
    for (const a of apis) a.url = (await a.node.waitFor(/listening on (http:\/\/[^ "]+)/, 30_000))[1]!;
    return { redis, cacheUrl: cache, engine, apis, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

// ───────────────────────────── fan-out ─────────────────────────────

interface FanoutRun {
  ordersPerSecOffered: number;
  ordersSent: number;
  ordersAcked: number;
  orderErrors: number;
  orderErrorCodes: Record<string, number>;
  orderAckP50Ms: number;
  orderAckP99Ms: number;
  seconds: number;
  messages: number;
  messagesPerSec: number;
  byChannelPerSec: Record<string, number>;
  tradesReceived: number;
  tradeToSubscriberP50Ms: number;
  tradeToSubscriberP99Ms: number;
  tradeToSubscriberMaxMs: number;
  /**
   * Bus → subscriber: receive time − the time the bench's own bus reader got the batch that carried the
   * trade (null without a bus: the all-in-one node). Excludes the sequencing, the journal's fsync and
   * the XADD; includes the API node's bus read, replica apply, fan-out, the kernel and the client.
   */
  busToSubscriberP50Ms: number | null;
  busToSubscriberP99Ms: number | null;
  /** Trades a subscriber received before the bench's bus reader had seen them (not in the figures above). */
  busUnmatched: number;
  bookGaps: number;
  /** Per API node: market-data replica resyncs and gaps during the window (its /metrics). */
  replica: Record<string, { resyncs: number; gaps: number }>;
  tradesMissing: number;
  tradesOutOfOrder: number;
  subscribersClosed: number;
  /** Per subscriber worker (worker i on API node i % nodes): messages, trades, trades missing. */
  perWorker: { messages: number; trades: number; tradesMissing: number; min: number; max: number }[];
  minMessagesPerSubscriber: number;
  maxMessagesPerSubscriber: number;
  cpuPercent: Record<string, number>;
}

async function fanoutRun(
  pids: Record<string, number>,
  metricUrls: Record<string, string>,
  subscribers: Subscribers,
  generator: Generator,
  rate: number,
  seconds: number,
  warmupSeconds: number,
): Promise<FanoutRun> {
  generator.start(rate);
  await sleep(warmupSeconds * 1_000);
  generator.resetStats().ack.destroy();
  const cpu0 = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
  const metrics0 = await Promise.all(Object.values(metricUrls).map(nodeMetrics));
  subscribers.start();
  const t0 = performance.now();
  await sleep(seconds * 1_000);
  const results = await subscribers.stop();
  const elapsed = (performance.now() - t0) / 1000;
  const cpuPercent = Object.fromEntries(
    Object.entries(pids).map(([k, pid]) => [k, Math.round(((cpuSeconds(pid) - cpu0[k]!) / elapsed) * 100)]),
  );
  const metrics1 = await Promise.all(Object.values(metricUrls).map(nodeMetrics));
  const replica: FanoutRun["replica"] = {};
  Object.keys(metricUrls).forEach((name, i) => {
    const d = (k: string) => (metrics1[i]![k] ?? Number.NaN) - (metrics0[i]![k] ?? Number.NaN);
    if (metrics1[i]!.marketdata_resyncs !== undefined)
      replica[name] = { resyncs: d("marketdata_resyncs"), gaps: d("marketdata_gaps") };
  });
  await generator.stop();
  const g = generator.resetStats();
  const latency = newHistogram();
  const busLatency = newHistogram();
  const byChannel: Record<string, number> = {};
  let messages = 0;
  for (const r of results) {
    const h = hdr.decodeFromCompressedBase64(r.latency);
    latency.add(h);
    h.destroy();
    const b = hdr.decodeFromCompressedBase64(r.busLatency);
    busLatency.add(b);
    b.destroy();
    messages += r.messages;
    for (const [k, v] of Object.entries(r.byChannel)) byChannel[k] = (byChannel[k] ?? 0) + v;
  }
  const window = results.reduce((m, r) => Math.max(m, r.elapsedMs), 0) / 1000;
  const run: FanoutRun = {
    ordersPerSecOffered: rate,
    ordersSent: g.sent,
    ordersAcked: g.acked,
    orderErrors: g.errors,
    orderErrorCodes: g.errorCodes,
    orderAckP50Ms: g.ack.getValueAtPercentile(50) / 1000,
    orderAckP99Ms: g.ack.getValueAtPercentile(99) / 1000,
    seconds: Math.round(window * 100) / 100,
    messages,
    messagesPerSec: Math.round(messages / window),
    byChannelPerSec: Object.fromEntries(
      Object.entries(byChannel).map(([k, v]) => [k, Math.round(v / window)]),
    ),
    tradesReceived: results.reduce((s, r) => s + r.trades, 0),
    tradeToSubscriberP50Ms: latency.getValueAtPercentile(50) / 1000,
    tradeToSubscriberP99Ms: latency.getValueAtPercentile(99) / 1000,
    tradeToSubscriberMaxMs: latency.maxValue / 1000,
    busToSubscriberP50Ms: busLatency.totalCount > 0 ? busLatency.getValueAtPercentile(50) / 1000 : null,
    busToSubscriberP99Ms: busLatency.totalCount > 0 ? busLatency.getValueAtPercentile(99) / 1000 : null,
    busUnmatched: results.reduce((s, r) => s + r.busUnmatched, 0),
    bookGaps: results.reduce((s, r) => s + r.bookGaps, 0),
    replica,
    tradesMissing: results.reduce((s, r) => s + r.tradesMissing, 0),
    tradesOutOfOrder: results.reduce((s, r) => s + r.tradesOutOfOrder, 0),
    perWorker: results.map((r) => ({
      messages: r.messages,
      trades: r.trades,
      tradesMissing: r.tradesMissing,
      min: r.minPerSubscriber,
      max: r.maxPerSubscriber,
    })),
    subscribersClosed: results.reduce((s, r) => s + r.closed, 0),
    minMessagesPerSubscriber: Math.min(...results.map((r) => r.minPerSubscriber)),
    maxMessagesPerSubscriber: Math.max(...results.map((r) => r.maxPerSubscriber)),
    cpuPercent,
  };
  g.ack.destroy();
  latency.destroy();
  busLatency.destroy();
  log(
    `  ${String(rate).padStart(5)} orders/s offered (${run.ordersAcked} acked, ${run.orderErrors} errors${run.orderErrors > 0 ? ` ${JSON.stringify(run.orderErrorCodes)}` : ""}, ack p50 ${run.orderAckP50Ms.toFixed(1)} / p99 ${run.orderAckP99Ms.toFixed(1)} ms): ` +
      `${run.messagesPerSec} msgs/s delivered ${JSON.stringify(run.byChannelPerSec)}, ${run.tradesReceived} trades received, ` +
      `trade→subscriber p50 ${run.tradeToSubscriberP50Ms.toFixed(1)} / p99 ${run.tradeToSubscriberP99Ms.toFixed(1)} / max ${run.tradeToSubscriberMaxMs.toFixed(1)} ms` +
      (run.busToSubscriberP99Ms !== null
        ? `, bus→subscriber p50 ${run.busToSubscriberP50Ms!.toFixed(1)} / p99 ${run.busToSubscriberP99Ms.toFixed(1)} ms (${run.busUnmatched} unmatched)`
        : "") +
      "; " +
      `book gaps ${run.bookGaps}, trades missing ${run.tradesMissing}, out of order ${run.tradesOutOfOrder}, replica ${JSON.stringify(replica)}, closed ${run.subscribersClosed}, per subscriber ${run.minMessagesPerSubscriber}..${run.maxMessagesPerSubscriber}; CPU ${JSON.stringify(cpuPercent)}`,
  );
  return run;
}

// ───────────────────────────── main ─────────────────────────────

interface Options {
  quick: boolean;
  readSeconds: number;
  seconds: number;
  connections: number;
  subscribers: number;
  rates: number[];
  skipCluster: boolean;
  /** Also measure the fan-out from the all-in-one node (all subscribers on it): a baseline. */
  allInOneFanout: boolean;
  /** Subscriber client: raw (frames parsed by the bench, the default) or ws (the ws library). */
  client: "raw" | "ws";
  /** CPU profiles of the engine, the API nodes and the subscriber threads (subdirectories of it). */
  profileDir: string;
  /** No cached-read measurements (fan-out only). */
  skipReads: boolean;
}

function parseArgs(argv: string[]): Options {
  const quick = argv.includes("--quick");
  const value = (name: string): string | undefined => argValue(argv, name);
  return {
    quick,
    readSeconds: Number(value("--read-seconds") ?? (quick ? 2 : 8)),
    seconds: Number(value("--seconds") ?? (quick ? 5 : 15)),
    connections: Number(value("--connections") ?? 64),
    subscribers: Number(value("--subscribers") ?? 1_000),
    rates: (value("--rates") ?? (quick ? "50,300" : "20,50,100,200,400")).split(",").map(Number),
    skipCluster: argv.includes("--skip-cluster"),
    allInOneFanout: argv.includes("--all-in-one-fanout"),
    client: value("--client") === "ws" ? "ws" : "raw",
    profileDir: value("--profile-dir") ? resolvePath(value("--profile-dir")!) : "",
    skipReads: argv.includes("--skip-reads"),
  };
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const load = loadavg();
  log(
    `bench:cache${options.quick ? " --quick" : ""}: ${cpus().length} CPUs (load average ${load[0]!.toFixed(1)}); ` +
      `reads: ${options.connections} keep-alive connections, ${options.readSeconds} s per endpoint`,
  );

  // 1a. All-in-one.
  if (!options.skipReads) log("cached reads, all-in-one node (bourse start):");
  const dataDir = mkdtempSync(join(tmpdir(), "bourse-bench-cache-"));
  let allInOne: { book: ReadResult; ticker: ReadResult } | null = null;
  let allInOneMetrics = "";
  const allInOneRuns: FanoutRun[] = [];
  {
    const node = spawnNode(
      "all-in-one",
      ["start", "--port", "0", "--data-dir", dataDir, "--rate-limit-ip", "0", "--rate-limit-key", "0"],
      { BOURSE_ADMIN_TOKEN: adminToken },
    );
    try {
      const url = (await node.waitFor(/listening on (http:\/\/[^ "]+)/, 30_000))[1]!;
      const accounts = await createAccounts(url, 4);
      await seedBook(url, accounts);
      await waitSeeded(url, 10_000);
      if (!options.skipReads) {
        allInOne = await measureReads("all-in-one", url, node.pid, options);
        allInOneMetrics = await readCacheMetrics(url);
        if (allInOneMetrics) log(`  metrics: ${allInOneMetrics}`);
      }
      if (options.allInOneFanout) {
        log(`fan-out from the all-in-one node: ${options.subscribers} subscribers on it`);
        const subscribers = await Subscribers.start(
          [`${url.replace(/^http/, "ws")}/v1/ws`],
          options.subscribers,
          { client: options.client },
        );
        const generator = await Generator.connect(accounts.map((account) => ({ url, account })));
        try {
          for (const rate of options.rates)
            allInOneRuns.push(
              await fanoutRun(
                { node: node.pid, bench: process.pid },
                {},
                subscribers,
                generator,
                rate,
                options.seconds,
                options.quick ? 1 : 2,
              ),
            );
        } finally {
          generator.close();
          await subscribers.close();
        }
      }
    } catch (error) {
      log(node.tail());
      throw error;
    } finally {
      await node.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }

  // 1b and 2. The cluster.
  let apiNode: { book: ReadResult; ticker: ReadResult } | null = null;
  let apiNodeMetrics = "";
  const runs: FanoutRun[] = [];
  let clusterError: string | null = null;
  /** Log lines of each cluster process about gaps, resyncs, drops, errors. */
  const diagnostics: Record<string, number> = {};
  if (!options.skipCluster) {
    log(
      "cluster: redis-server (appendonly yes, appendfsync always) + bourse engine (aof-always, no replica, --cache) + 2 × bourse api (--cache)",
    );
    let cluster: Cluster | null = null;
    let subscribers: Subscribers | null = null;
    let generator: Generator | null = null;
    try {
      cluster = await startCluster(options.profileDir);
      const [api1, api2] = cluster.apis as [Cluster["apis"][0], Cluster["apis"][0]];
      log(`  engine leader; API nodes ${api1.url} ${api2.url}`);
      const accounts = await createAccounts(api1.url, 16);
      await seedBook(api1.url, accounts);
      await waitSeeded(api1.url, 15_000);
      await waitSeeded(api2.url, 15_000);
      if (!options.skipReads) {
        log("cached reads, API node 1 of the cluster:");
        apiNode = await measureReads("api node", api1.url, api1.node.pid, options);
        apiNodeMetrics = await readCacheMetrics(api1.url);
        if (apiNodeMetrics) log(`  metrics: ${apiNodeMetrics}`);
      }

      log(
        `fan-out: ${options.subscribers} subscribers (book + trades + ticker of ${symbol}; ${options.client} client) over 2 API nodes, in 2 worker threads of this process`,
      );
      const s0 = performance.now();
      subscribers = await Subscribers.start(
        cluster.apis.map((a) => `${a.url.replace(/^http/, "ws")}/v1/ws`),
        options.subscribers,
        { client: options.client, redisUrl: cluster.cacheUrl, profileDir: options.profileDir || undefined },
      );
      log(`  ${options.subscribers} subscribed in ${((performance.now() - s0) / 1000).toFixed(1)} s`);
      generator = await Generator.connect(
        accounts.map((account, i) => ({ url: cluster!.apis[i % 2]!.url, account })),
      );
      const pids: Record<string, number> = {
        redis: cluster.redis.process.pid!,
        engine: cluster.engine.pid,
        api1: api1.node.pid,
        api2: api2.node.pid,
        bench: process.pid,
      };
      for (const rate of options.rates)
        runs.push(
          await fanoutRun(
            pids,
            { api1: api1.url, api2: api2.url },
            subscribers,
            generator,
            rate,
            options.seconds,
            options.quick ? 1 : 2,
          ),
        );
      for (const a of cluster.apis)
        if (!a.node.alive) throw new Error(`${a.node.name} exited during the run:\n${a.node.tail()}`);
      for (const n of [cluster.engine, api1.node, api2.node]) {
        const notes = n.output.split("\n").filter((l) => /replica|gap|resync|drop|error|warn|stale/i.test(l));
        if (notes.length > 0) {
          log(`  ${n.name}: ${notes.length} log lines about gaps/resyncs/errors, the first and last:`);
          for (const l of [...notes.slice(0, 3), ...(notes.length > 6 ? ["…"] : []), ...notes.slice(-3)])
            log(`    ${l.slice(0, 400)}`);
        }
        diagnostics[n.name] = notes.length;
      }
    } catch (error) {
      clusterError = (error as Error).message;
      log(`cluster part FAILED: ${clusterError}`);
      if (cluster) {
        for (const n of [cluster.engine, ...cluster.apis.map((a) => a.node)])
          log(
            `--- ${n.name} (pid ${n.pid}, ${n.alive ? "running" : `exited: code ${n.child.exitCode}, signal ${n.child.signalCode}`}; last output) ---\n${n.tail(2_000)}`,
          );
      }
    } finally {
      generator?.close();
      if (subscribers) await subscribers.close();
      if (cluster) await cluster.stop();
    }
  }

  const best = (r: { book: ReadResult; ticker: ReadResult } | null): number | null =>
    r === null ? null : Math.max(r.book.readsPerSec, r.ticker.readsPerSec);
  const headline =
    runs.length > 0 ? runs.reduce((a, b) => (b.messagesPerSec > a.messagesPerSec ? b : a)) : null;
  const summary = {
    bench: "cache",
    quick: options.quick,
    cachedReadsPerSec: best(allInOne),
    cachedReadsPerSecWhich: "max of book?depth=50 and ticker, all-in-one node",
    cachedReadsPerSecAllInOne: best(allInOne),
    cachedReadsPerSecApiNode: best(apiNode),
    bookReadsPerSecAllInOne: allInOne?.book.readsPerSec ?? null,
    tickerReadsPerSecAllInOne: allInOne?.ticker.readsPerSec ?? null,
    bookReadsPerSecApiNode: apiNode?.book.readsPerSec ?? null,
    tickerReadsPerSecApiNode: apiNode?.ticker.readsPerSec ?? null,
    fanoutMessagesPerSec: headline?.messagesPerSec ?? null,
    tradeToSubscriberP50Ms: headline?.tradeToSubscriberP50Ms ?? null,
    tradeToSubscriberP99Ms: headline?.tradeToSubscriberP99Ms ?? null,
    busToSubscriberP50Ms: headline?.busToSubscriberP50Ms ?? null,
    busToSubscriberP99Ms: headline?.busToSubscriberP99Ms ?? null,
    subscriberClient: options.client,
    profiled: options.profileDir !== "",
    fanoutAtOrdersPerSec: headline?.ordersPerSecOffered ?? null,
    subscribers: options.subscribers,
    apiNodes: 2,
    redis: "appendonly yes, appendfsync always; journal durability aof-always, replicas=0",
    note: "subscriber clients (2 worker threads), order generator, redis-server, engine and both API nodes all share this machine's CPUs",
    cpus: cpus().length,
    loadAverageAtStart: Number(load[0]!.toFixed(2)),
    connections: options.connections,
    reads: { allInOne, apiNode },
    fanout: runs,
    ...(options.allInOneFanout ? { fanoutAllInOne: allInOneRuns } : {}),
    clusterError,
    clusterLogLinesAboutGapsOrErrors: diagnostics,
    seconds: Math.round((performance.now() - started) / 100) / 10,
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  if (clusterError !== null) process.exitCode = 1;
}

if (isMainThread) await main();
else if ((workerData as { busReader?: boolean }).busReader)
  await busReaderWorker(workerData as { redisUrl: string; busTimes: SharedArrayBuffer });
else await subscriberWorker(workerData as SubscriberSetup);
