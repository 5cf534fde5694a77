/**
 * `npm run bench:dashboard [-- --quick] [--rate 1000] [--seconds N] [--rounds N]`
 *
 * Frames per second of the dashboard in Chromium (Debian's, headless, playwright-core) while its order
 * book receives `rate` real updates per second:
 *
 * - the real Bourse node runs in a child process (journal on disk, every order durable before its
 *   update is published), serving the built dashboard;
 * - a bot in this process places and cancels BTC-USD limit orders over the WebSocket API at `rate`
 *   operations per second, scheduled by the clock. Orders never cross (bids below 60,000, asks above),
 *   so each operation changes one level: one `book` update with the next sequence;
 * - the page (1440×900, logged out, BTC-USD) applies every update to its book and draws the ladder and
 *   the depth canvas once per animation frame. A requestAnimationFrame counter injected into the page
 *   measures frames per second and frame intervals over each window; the page's own counter of applied
 *   updates gives the update rate it actually absorbed.
 *
 * Checks at the end: the page saw no sequence gap and its book's sequence equals the server's.
 * Progress goes to stderr; the last line of stdout is one JSON object, the key first.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import type { Page } from "playwright-core";
import WebSocket from "ws";
import { type Account, adminToken, launchChromium, startWebServer } from "../test/web/harness.js";
import { XorShift32 } from "./lib/rng.js";

interface Options {
  quick: boolean;
  rate: number;
  seconds: number;
  rounds: number;
  warmupSeconds: number;
}

function parseOptions(argv: string[]): Options {
  const quick = argv.includes("--quick");
  const value = (name: string, fallback: number): number => {
    const i = argv.indexOf(name);
    if (i < 0) return fallback;
    const n = Number(argv[i + 1]);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} needs a positive number`);
    return n;
  };
  return {
    quick,
    rate: value("--rate", 1000),
    seconds: value("--seconds", quick ? 6 : 10),
    rounds: value("--rounds", quick ? 1 : 3),
    warmupSeconds: value("--warmup", quick ? 3 : 4),
  };
}

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

// ───────────────────────────── server (child process) ─────────────────────────────

async function serve(): Promise<void> {
  const server = await startWebServer();
  process.stdout.write(`${JSON.stringify({ url: server.url, pid: process.pid })}\n`);
  const stop = (): void => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

function startChild(): Promise<{ child: ChildProcess; url: string }> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, [self, "--serve"], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let buffer = "";
    const onData = (chunk: Buffer): void => {
      buffer += chunk.toString("utf8");
      const newline = buffer.indexOf("\n");
      if (newline < 0) return;
      child.stdout!.off("data", onData);
      try {
        const { url } = JSON.parse(buffer.slice(0, newline)) as { url: string };
        resolve({ child, url });
      } catch (error) {
        reject(error);
      }
    };
    child.stdout!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`server exited early (${code})`)));
  });
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

// ───────────────────────────── API ─────────────────────────────

async function admin(url: string, path: string, body: unknown): Promise<unknown> {
  const r = await fetch(url + path, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
  return r.json();
}

async function botAccount(url: string): Promise<Account> {
  const account = (await admin(url, "/v1/admin/accounts", { name: "bench-bot" })) as Account;
  for (const [asset, amount] of [
    ["USD", "1000000000"],
    ["BTC", "100000"],
  ]) {
    await admin(url, `/v1/admin/accounts/${account.accountId}/deposits`, {
      asset,
      amount,
      transferId: `bench-${asset}`,
    });
  }
  return account;
}

/**
 * Places and cancels non-crossing BTC-USD limit orders at `rate` operations per second (open loop:
 * operations due by the clock are sent even if replies lag). About 300 orders rest at any time over
 * 100 price levels a side, so levels appear, change and vanish.
 */
class Bot {
  sent = 0;
  acked = 0;
  errors = 0;
  readonly errorCodes = new Map<string, number>();
  private readonly resting: string[] = [];
  private pendingPlaces = 0;
  /** Ids of place requests not answered yet. */
  private readonly places = new Set<number>();
  private timer: NodeJS.Timeout | undefined;
  private nextId = 1;
  private rate = 0;
  private startedAt = 0;
  private due = 0;
  private readonly rng = new XorShift32(0x9e3779b9);

  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (data) => this.onMessage(data.toString()));
  }

  static async open(url: string, account: Account): Promise<Bot> {
    const ws = new WebSocket(`${url.replace(/^http/, "ws")}/v1/ws`);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    const bot = new Bot(ws);
    const timestamp = String(Date.now());
    const signature = createHmac("sha256", account.apiSecret).update(`${timestamp}WS/v1/ws`).digest("hex");
    await new Promise<void>((resolve, reject) => {
      ws.once("message", (data) => {
        const reply = JSON.parse(data.toString()) as { error?: unknown };
        if (reply.error !== undefined) reject(new Error(`auth: ${JSON.stringify(reply.error)}`));
        else resolve();
      });
      ws.send(JSON.stringify({ op: "auth", id: 0, key: account.apiKey, timestamp, signature }));
    });
    return bot;
  }

  private random(): number {
    return this.rng.float();
  }

  private onMessage(text: string): void {
    const m = JSON.parse(text) as {
      id?: number;
      result?: { orderId?: string; status?: string };
      error?: { code: string };
    };
    if (typeof m.id !== "number" || m.id === 0) return;
    const isPlace = this.places.delete(m.id);
    if (isPlace) this.pendingPlaces--;
    if (m.error !== undefined) {
      this.errors++;
      this.errorCodes.set(m.error.code, (this.errorCodes.get(m.error.code) ?? 0) + 1);
      return;
    }
    this.acked++;
    if (isPlace && m.result?.orderId !== undefined && m.result.status === "open")
      this.resting.push(m.result.orderId);
  }

  private send(op: string, params: object, place: boolean): void {
    const id = this.nextId++;
    if (place) this.places.add(id);
    this.ws.send(JSON.stringify({ op, id, params }));
    this.sent++;
  }

  private operate(): void {
    const cancel =
      this.resting.length > 0 && (this.resting.length + this.pendingPlaces > 300 || this.random() < 0.45);
    if (cancel) {
      const i = Math.floor(this.random() * this.resting.length);
      const orderId = this.resting[i]!;
      this.resting[i] = this.resting[this.resting.length - 1]!;
      this.resting.pop();
      this.send("order.cancel", { orderId }, false);
      return;
    }
    const buy = this.random() < 0.5;
    const offset = 1 + Math.floor(this.random() * 100);
    const price = (60_000 + (buy ? -offset : offset)).toFixed(2);
    const lots = 1 + Math.floor(this.random() * 80);
    this.pendingPlaces++;
    this.send(
      "order.place",
      {
        symbol: "BTC-USD",
        side: buy ? "buy" : "sell",
        type: "limit",
        price,
        quantity: (lots / 10_000).toFixed(4),
      },
      true,
    );
  }

  start(rate: number): void {
    this.rate = rate;
    this.startedAt = performance.now();
    this.due = 0;
    this.timer = setInterval(() => {
      const target = Math.floor(((performance.now() - this.startedAt) / 1000) * this.rate);
      // A stalled event loop must not turn into a burst larger than a tenth of a second's worth.
      const n = Math.min(target - this.due, Math.ceil(this.rate / 10));
      for (let i = 0; i < n; i++) this.operate();
      this.due = target;
    }, 4);
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  close(): void {
    this.stop();
    this.ws.close();
  }
}

// ───────────────────────────── page measurements ─────────────────────────────

interface PageStats {
  sequence: number;
  bookUpdates: number;
  gaps: number;
  resyncs: number;
  bookState: string;
  bids: number;
  asks: number;
}

const pageStats = (page: Page): Promise<PageStats> =>
  page.evaluate(() => (globalThis as unknown as { bourse: { stats(): PageStats } }).bourse.stats());

interface Frames {
  frames: number;
  fps: number;
  p50FrameMs: number;
  p95FrameMs: number;
  maxFrameMs: number;
  /** Frames that took more than 50 ms (a visible stutter). */
  longFrames: number;
}

/** Counts animation frames in the page for `ms` (the page's own rendering runs in the same frames). */
async function measureFrames(page: Page, ms: number): Promise<Frames> {
  const times = await page.evaluate(
    (duration) =>
      new Promise<number[]>((resolve) => {
        const stamps: number[] = [];
        const frame = (t: number): void => {
          stamps.push(t);
          if (t - stamps[0]! < duration) requestAnimationFrame(frame);
          else resolve(stamps);
        };
        requestAnimationFrame(frame);
      }),
    ms,
  );
  const intervals: number[] = [];
  for (let i = 1; i < times.length; i++) intervals.push(times[i]! - times[i - 1]!);
  intervals.sort((a, b) => a - b);
  const q = (p: number): number =>
    intervals[Math.min(intervals.length - 1, Math.floor(p * intervals.length))] ?? 0;
  const span = times[times.length - 1]! - times[0]!;
  return {
    frames: intervals.length,
    fps: span > 0 ? (intervals.length * 1000) / span : 0,
    p50FrameMs: q(0.5),
    p95FrameMs: q(0.95),
    maxFrameMs: intervals[intervals.length - 1] ?? 0,
    longFrames: intervals.filter((i) => i > 50).length,
  };
}

const round1 = (n: number): number => Math.round(n * 10) / 10;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

// ───────────────────────────── main ─────────────────────────────

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const began = performance.now();
  log(
    `bench:dashboard: ${options.rate} book updates/s, ${options.rounds} × ${options.seconds} s after ${options.warmupSeconds} s warm-up${options.quick ? " (quick)" : ""}`,
  );
  const { child, url } = await startChild();
  const browser = await launchChromium({ width: 1440, height: 900 });
  let bot: Bot | undefined;
  try {
    const account = await botAccount(url);
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${url}/#BTC-USD`);
    await page.waitForFunction(
      () =>
        (globalThis as unknown as { bourse?: { stats(): PageStats } }).bourse?.stats().bookState === "live",
      undefined,
      { timeout: 30_000 },
    );

    const idle = await measureFrames(page, 2_000);
    log(`idle: ${round1(idle.fps)} fps (p95 frame ${round1(idle.p95FrameMs)} ms)`);

    bot = await Bot.open(url, account);
    bot.start(options.rate);
    await new Promise((r) => setTimeout(r, options.warmupSeconds * 1000));

    const rounds: (Frames & { updatesPerSec: number; opsPerSec: number; serverCpuPercent: number })[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      const before = await pageStats(page);
      const sentBefore = bot.sent;
      const cpuBefore = cpuSeconds(child.pid!);
      const t0 = performance.now();
      const frames = await measureFrames(page, options.seconds * 1000);
      const seconds = (performance.now() - t0) / 1000;
      const after = await pageStats(page);
      const updatesPerSec = (after.bookUpdates - before.bookUpdates) / seconds;
      const opsPerSec = (bot.sent - sentBefore) / seconds;
      const serverCpuPercent = ((cpuSeconds(child.pid!) - cpuBefore) / seconds) * 100;
      rounds.push({ ...frames, updatesPerSec, opsPerSec, serverCpuPercent });
      log(
        `round ${round}: ${round1(frames.fps)} fps (p50 ${round1(frames.p50FrameMs)} ms, p95 ${round1(frames.p95FrameMs)} ms, max ${round1(frames.maxFrameMs)} ms, ${frames.longFrames} frames > 50 ms) ` +
          `while the page applied ${Math.round(updatesPerSec)} book updates/s (bot sent ${Math.round(opsPerSec)} ops/s; server CPU ${Math.round(serverCpuPercent)} %; book ${after.bids}+${after.asks} levels)`,
      );
    }
    bot.stop();
    // Let the last replies and updates arrive, then compare the page's book with the server's.
    await new Promise((r) => setTimeout(r, 1_500));
    const final = await pageStats(page);
    const rest = (await (await fetch(`${url}/v1/markets/BTC-USD/book?depth=1`)).json()) as {
      sequence: number;
    };
    const inSync = final.sequence === rest.sequence && final.gaps === 0;
    log(
      `page book sequence ${final.sequence}, server ${rest.sequence}, gaps ${final.gaps}, resyncs ${final.resyncs}: ${inSync ? "in sync" : "OUT OF SYNC"}`,
    );
    log(
      `bot: ${bot.sent} sent, ${bot.acked} acknowledged, ${bot.errors} errors ${JSON.stringify(Object.fromEntries(bot.errorCodes))}`,
    );
    if (errors.length > 0) log(`page errors: ${errors.slice(0, 5).join(" | ")}`);

    const fps = median(rounds.map((r) => r.fps));
    const summary = {
      bench: "dashboard",
      // The key at the default rate; another --rate names its own.
      [`fpsAt${options.rate}UpdatesPerSec`]: round1(fps),
      targetFps: 30,
      offeredUpdatesPerSec: options.rate,
      pageUpdatesPerSec: Math.round(median(rounds.map((r) => r.updatesPerSec))),
      p95FrameMs: round1(median(rounds.map((r) => r.p95FrameMs))),
      maxFrameMs: round1(Math.max(...rounds.map((r) => r.maxFrameMs))),
      longFrames: rounds.reduce((n, r) => n + r.longFrames, 0),
      idleFps: round1(idle.fps),
      serverCpuPercent: Math.round(median(rounds.map((r) => r.serverCpuPercent))),
      loadAverage1m: round1(loadavg()[0]!),
      bookInSync: inSync,
      botErrors: bot.errors,
      pageErrors: errors.length,
      driver: "live server: a WebSocket bot placing/cancelling orders through the API",
      rounds: options.rounds,
      secondsPerRound: options.seconds,
      quick: options.quick,
      wallSeconds: round1((performance.now() - began) / 1000),
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    if (!inSync || errors.length > 0) process.exitCode = 1;
  } finally {
    bot?.close();
    await browser.close();
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
  }
}

if (process.argv.includes("--serve")) await serve();
else await main();
