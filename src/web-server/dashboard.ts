/**
 * Serves the built dashboard (web/ → `npm run build:web` → dist/dashboard/) from the API server:
 * `/` is index.html, `/assets/…` the bundled scripts and styles, plus the other files at the root of the
 * build (favicon.svg). Everything is read into memory once (a few hundred KB), with a strong ETag and,
 * for text, gzip and brotli forms, so a request costs a map lookup:
 *
 * - `/assets/*` names carry a content hash: `Cache-Control: public, max-age=31536000, immutable`;
 * - index.html and the other root files: `no-cache` (revalidated by ETag, 304 when unchanged), so a new
 *   build is picked up at the next load. A file missing from memory is looked for on disk once (a build
 *   made while the server runs), and index.html is re-read when its mtime changes;
 * - the HTML carries a Content-Security-Policy that allows only this origin (scripts, styles,
 *   fetch and WebSocket), no framing, no referrer.
 *
 * The API's own routes are untouched: anything not found here falls through to the server's 404.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, realpathSync, type Stats, statSync } from "node:fs";
import { extname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, gzipSync, constants as zlib } from "node:zlib";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

export interface DashboardOptions {
  /** The build output directory (holding index.html). Default: defaultDashboardRoot(). */
  root?: string;
  /** Content-Security-Policy of the HTML (default: same origin only; "" sends none). */
  contentSecurityPolicy?: string;
}

export interface DashboardInfo {
  root: string;
  /** False when the build is missing: `/` then explains how to build it (503). */
  built: boolean;
  files: number;
}

/** Bounds: what one file and the whole build may weigh in memory. */
export const dashboardLimits = {
  fileBytesMax: 8 * 1024 * 1024,
  totalBytesMax: 32 * 1024 * 1024,
  filesMax: 2_000,
  /** Text files smaller than this are not compressed. */
  compressBytesMin: 1_024,
} as const;

/** dist/dashboard next to the compiled server (dist/src/web-server/dashboard.js → dist/dashboard). */
export function defaultDashboardRoot(): string {
  return fileURLToPath(new URL("../../dashboard/", import.meta.url));
}

export const defaultContentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".ico": "image/x-icon",
  ".webp": "image/webp",
  ".woff2": "font/woff2",
  ".woff": "font/woff",
  ".txt": "text/plain; charset=utf-8",
  ".webmanifest": "application/manifest+json",
};

const compressible = new Set([
  ".html",
  ".js",
  ".mjs",
  ".css",
  ".json",
  ".map",
  ".svg",
  ".txt",
  ".webmanifest",
]);

interface Entry {
  body: Buffer;
  gzip?: Buffer;
  brotli?: Buffer;
  type: string;
  etag: string;
  immutable: boolean;
  mtimeMs: number;
  path: string;
}

function entryOf(path: string, urlPath: string): Entry | null {
  let stat: Stats;
  try {
    stat = statSync(path);
  } catch {
    return null;
  }
  if (!stat.isFile() || stat.size > dashboardLimits.fileBytesMax) return null;
  const body = readFileSync(path);
  const ext = extname(path).toLowerCase();
  const entry: Entry = {
    body,
    type: contentTypes[ext] ?? "application/octet-stream",
    etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`,
    immutable: urlPath.startsWith("/assets/"),
    mtimeMs: stat.mtimeMs,
    path,
  };
  if (compressible.has(ext) && body.length >= dashboardLimits.compressBytesMin) {
    entry.gzip = gzipSync(body, { level: 9 });
    entry.brotli = brotliCompressSync(body, {
      params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: body.length },
    });
  }
  return entry;
}

/** Every file under `dir`, as URL paths ("/assets/index-abc.js"). */
function walk(dir: string, prefix: string, out: string[]): void {
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    if (name.name.startsWith(".")) continue;
    const urlPath = `${prefix}/${name.name}`;
    if (name.isDirectory()) walk(join(dir, name.name), urlPath, out);
    else if (name.isFile()) out.push(urlPath);
    if (out.length > dashboardLimits.filesMax)
      throw new Error(`dashboard: more than ${dashboardLimits.filesMax} files`);
  }
}

const notBuiltPage = (root: string): string =>
  `<!doctype html><meta charset="utf-8"><title>Bourse</title>
<body style="background:#0a0d11;color:#d5d9e0;font:15px system-ui,sans-serif;padding:40px">
<h1 style="font-size:20px">The Bourse dashboard is not built</h1>
<p>No index.html in <code>${root.replace(/[<>&"]/g, "")}</code>. Run <code>npm run build:web</code> and reload.
The API itself is up: <a style="color:#3b82f6" href="/docs">/docs</a>.</p></body>`;

/**
 * Adds the dashboard's routes to `app` (before it listens). The one registration the API server needs:
 * `registerDashboard(app, { root: defaultDashboardRoot() })`.
 */
export function registerDashboard(app: FastifyInstance, options: DashboardOptions = {}): DashboardInfo {
  const root = options.root ?? defaultDashboardRoot();
  const csp = options.contentSecurityPolicy ?? defaultContentSecurityPolicy;
  const entries = new Map<string, Entry>();
  const built = existsSync(join(root, "index.html"));
  let realRoot = root;
  let total = 0;
  if (built) {
    realRoot = realpathSync(root);
    const paths: string[] = [];
    walk(realRoot, "", paths);
    for (const urlPath of paths) {
      const entry = entryOf(join(realRoot, ...urlPath.split("/").filter((p) => p !== "")), urlPath);
      if (entry === null) continue;
      total += entry.body.length;
      if (total > dashboardLimits.totalBytesMax) {
        throw new Error(
          `dashboard: the build in ${root} is larger than ${dashboardLimits.totalBytesMax} bytes`,
        );
      }
      entries.set(urlPath, entry);
    }
  }

  /** The entry of a URL path: from memory, or (a build newer than the server) from disk once. */
  const lookup = (urlPath: string): Entry | undefined => {
    let entry = entries.get(urlPath);
    if (entry !== undefined && !entry.immutable) {
      // Root files (index.html) change name-less with each build: re-read when the file changed.
      try {
        if (statSync(entry.path).mtimeMs !== entry.mtimeMs) {
          const fresh = entryOf(entry.path, urlPath);
          if (fresh !== null) entries.set(urlPath, (entry = fresh));
        }
      } catch {
        // Gone from disk (a build in progress): keep serving what is in memory.
      }
      return entry;
    }
    if (entry !== undefined || !built) return entry;
    if (entries.size >= dashboardLimits.filesMax) return undefined;
    // Only plain names: no "..", no empty segments, no backslashes, no NUL.
    if (!/^(\/[A-Za-z0-9_][A-Za-z0-9_.-]*)+$/.test(urlPath) || urlPath.includes("..")) return undefined;
    const path = join(realRoot, ...urlPath.slice(1).split("/"));
    if (!path.startsWith(realRoot + sep)) return undefined;
    const loaded = entryOf(path, urlPath);
    if (loaded === null) return undefined;
    entries.set(urlPath, loaded);
    return loaded;
  };

  const send = (request: FastifyRequest, reply: FastifyReply, entry: Entry): FastifyReply => {
    reply.header("content-type", entry.type);
    reply.header("etag", entry.etag);
    reply.header("cache-control", entry.immutable ? "public, max-age=31536000, immutable" : "no-cache");
    reply.header("x-content-type-options", "nosniff");
    reply.header("vary", "accept-encoding");
    if (entry.type.startsWith("text/html")) {
      if (csp !== "") reply.header("content-security-policy", csp);
      reply.header("referrer-policy", "no-referrer");
      reply.header("x-frame-options", "DENY");
      reply.header("cross-origin-opener-policy", "same-origin");
    }
    const match = request.headers["if-none-match"];
    if (typeof match === "string" && match.split(/\s*,\s*/).includes(entry.etag)) {
      return reply.code(304).send();
    }
    const accept = String(request.headers["accept-encoding"] ?? "");
    let body = entry.body;
    if (entry.brotli !== undefined && /\bbr\b/.test(accept)) {
      body = entry.brotli;
      reply.header("content-encoding", "br");
    } else if (entry.gzip !== undefined && /\bgzip\b/.test(accept)) {
      body = entry.gzip;
      reply.header("content-encoding", "gzip");
    }
    return reply.code(200).send(body);
  };

  const serve = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const path = (request.raw.url ?? "/").split("?")[0]!;
    const urlPath = path === "/" ? "/index.html" : path;
    if (!built && urlPath === "/index.html") {
      return reply
        .code(503)
        .header("content-type", "text/html; charset=utf-8")
        .header("cache-control", "no-store")
        .send(notBuiltPage(root));
    }
    const entry = lookup(urlPath);
    if (entry === undefined) return reply.callNotFound() as unknown as FastifyReply;
    return send(request, reply, entry);
  };

  app.get("/", serve);
  app.get("/index.html", serve);
  app.get("/assets/*", serve);
  // The other files at the top of the build (favicon.svg, …), each by name.
  for (const urlPath of entries.keys()) {
    if (urlPath === "/index.html" || urlPath.startsWith("/assets/")) continue;
    if (urlPath.split("/").length === 2) app.get(urlPath, serve);
  }
  return { root, built, files: entries.size };
}
