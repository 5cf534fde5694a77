/**
 * Harness of the dashboard tests and benchmark: builds the dashboard when its build is missing or
 * older than web/, starts the real Bourse node (journal, market data, REST, WebSocket) on a free port
 * of 127.0.0.1 with a fresh data directory, makes sure it serves the dashboard at `/` through
 * registerDashboard (src/web-server/dashboard.ts), and drives Debian's Chromium with playwright-core.
 */
import { spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Fastify from "fastify";
import pino from "pino";
import { type BrowserContext, chromium } from "playwright-core";
import { type BourseNode, startBourse } from "../../src/node/bourse.js";
import { type NodeConfig, resolveConfig } from "../../src/node/config.js";
import { defaultDashboardRoot, registerDashboard } from "../../src/web-server/dashboard.js";

/** The repository (this file runs as dist/test/web/harness.js). */
export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
export const chromiumPath = process.env.BOURSE_CHROMIUM ?? "/usr/bin/chromium";
export const artifactsDir = join(repoRoot, "test-artifacts", "web");
export const adminToken = "web-test-admin-token-0123456789abcdef";

// ───────────────────────────── build ─────────────────────────────

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Runs `vite build` when dist/dashboard is missing or older than web/ (offline: local vite only). */
export function ensureDashboardBuilt(): string {
  const root = defaultDashboardRoot();
  const index = join(root, "index.html");
  const sources = join(repoRoot, "web");
  if (existsSync(index) && statSync(index).mtimeMs >= newestMtime(sources)) return root;
  const vite = join(repoRoot, "node_modules", "vite", "bin", "vite.js");
  const result = spawnSync(process.execPath, [vite, "build", "--config", "web/vite.config.ts"], {
    cwd: repoRoot,
    encoding: "utf8",
    timeout: 120_000,
  });
  if (result.status !== 0) throw new Error(`vite build failed:\n${result.stdout}\n${result.stderr}`);
  return root;
}

// ───────────────────────────── server ─────────────────────────────

export interface WebServer {
  node: BourseNode;
  url: string;
  /** True when the API server registered the dashboard itself; false when this harness added it. */
  servedByApi: boolean;
  admin(method: string, path: string, body?: unknown): Promise<Json>;
  close(): Promise<void>;
}

// biome-ignore lint/suspicious/noExplicitAny: replies are untyped JSON, checked field by field
export type Json = any;

const apiPrefixes = ["/v1/", "/healthz", "/readyz", "/metrics", "/docs"];

/**
 * Until the API server registers the dashboard itself, serve it on the same port: a fastify instance
 * holding only registerDashboard's routes answers everything that is not the API; the API's own
 * handler gets the rest. Same origin, so signing and the WebSocket work exactly as in production.
 */
async function attachDashboard(server: Server): Promise<void> {
  const api = server.listeners("request")[0] as (req: IncomingMessage, res: ServerResponse) => void;
  const dashboard = Fastify({ logger: false });
  registerDashboard(dashboard, { root: defaultDashboardRoot() });
  // What the dashboard does not have goes to the API server, as it would with one fastify instance.
  dashboard.setNotFoundHandler((request, reply) => {
    reply.hijack();
    api(request.raw, reply.raw);
  });
  await dashboard.ready();
  server.removeAllListeners("request");
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? "/";
    if (apiPrefixes.some((p) => path.startsWith(p))) api(req, res);
    else dashboard.routing(req, res);
  });
}

export async function startWebServer(options: { demo?: boolean } = {}): Promise<WebServer> {
  ensureDashboardBuilt();
  const dataDir = mkdtempSync(join(tmpdir(), "bourse-web-test-"));
  const base = resolveConfig({ port: "0", host: "127.0.0.1", dataDir }, { BOURSE_ADMIN_TOKEN: adminToken });
  const config: NodeConfig = {
    ...base,
    demo: options.demo === true,
    rateLimits: { ipRequestsPerSecond: 0, keyRequestsPerSecond: 0, authFailuresPerIpPerSecond: 0 },
    logLevel: "silent",
  };
  const node = await startBourse(config, {
    logger: pino({ level: "silent" }),
    onFatal: (error) => {
      throw error;
    },
  });
  const url = node.url;
  const probe = await fetch(`${url}/`);
  const servedByApi = (probe.headers.get("content-type") ?? "").startsWith("text/html");
  await probe.arrayBuffer();
  if (!servedByApi) await attachDashboard(node.api.app.server as Server);
  return {
    node,
    url,
    servedByApi,
    admin: async (method, path, body) => {
      const response = await fetch(url + path, {
        method,
        headers: {
          authorization: `Bearer ${adminToken}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const reply = (await response.json()) as Json;
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(reply)}`);
      return reply;
    },
    async close() {
      await node.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// ───────────────────────────── accounts ─────────────────────────────

export interface Account {
  accountId: string;
  apiKey: string;
  apiSecret: string;
}

export async function fundedAccount(
  server: WebServer,
  name: string,
  funds: Record<string, string> = { USD: "1000000", BTC: "100", ETH: "1000" },
): Promise<Account> {
  const account = (await server.admin("POST", "/v1/admin/accounts", { name })) as Account;
  for (const [asset, amount] of Object.entries(funds)) {
    await server.admin("POST", `/v1/admin/accounts/${account.accountId}/deposits`, {
      asset,
      amount,
      transferId: `fund-${account.accountId}-${asset}`,
    });
  }
  return account;
}

/** A signed account request, signed the way the contract says (Node's HMAC, independent of the page's). */
export async function signed(
  server: { url: string },
  account: Account,
  method: string,
  target: string,
  body?: unknown,
): Promise<{ status: number; body: Json }> {
  const text = body === undefined ? "" : JSON.stringify(body);
  const timestamp = String(Date.now());
  const signature = createHmac("sha256", account.apiSecret)
    .update(timestamp + method + target + text)
    .digest("hex");
  const response = await fetch(server.url + target, {
    method,
    headers: {
      "x-bourse-key": account.apiKey,
      "x-bourse-timestamp": timestamp,
      "x-bourse-signature": signature,
      ...(text === "" ? {} : { "content-type": "application/json" }),
    },
    ...(text === "" ? {} : { body: text }),
  });
  return { status: response.status, body: (await response.json()) as Json };
}

// ───────────────────────────── browser ─────────────────────────────

export const chromiumArgs = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface Browser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** Debian's Chromium, headless, with a fresh profile directory (never a downloaded browser). */
export async function launchChromium(viewport = { width: 1440, height: 900 }): Promise<Browser> {
  const userDataDir = mkdtempSync(join(tmpdir(), "bourse-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: chromiumPath,
    headless: true,
    args: chromiumArgs,
    viewport,
    deviceScaleFactor: 1,
    timeout: 60_000,
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

export function artifactPath(name: string): string {
  mkdirSync(artifactsDir, { recursive: true });
  return join(artifactsDir, name);
}
