/**
 * registerDashboard on a bare fastify instance (inject, no sockets, no browser): routes, content
 * types, caching, ETag/304, compression, CSP, path safety, a build newer than the server, and the page
 * shown when the dashboard is not built.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import Fastify, { type FastifyInstance } from "fastify";
import { registerDashboard } from "../../src/web-server/dashboard.js";

const script = `console.log(${JSON.stringify("x".repeat(4000))});`;

function app(root: string): FastifyInstance {
  const server = Fastify({ logger: false });
  server.setNotFoundHandler((_request, reply) => {
    void reply.code(404).send({ error: { code: "NOT_FOUND", message: "not found" } });
  });
  registerDashboard(server, { root });
  server.get("/v1/markets", async () => []);
  return server;
}

describe("registerDashboard", () => {
  let root: string;
  let server: FastifyInstance;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), "bourse-dashboard-"));
    mkdirSync(join(root, "assets"));
    writeFileSync(
      join(root, "index.html"),
      '<!doctype html><script type="module" src="./assets/app-1.js"></script>',
    );
    writeFileSync(join(root, "assets", "app-1.js"), script);
    writeFileSync(join(root, "assets", "app-1.css"), "body{color:red}");
    writeFileSync(join(root, "favicon.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>");
    writeFileSync(join(root, ".hidden"), "secret");
    writeFileSync(join(tmpdir(), "bourse-outside.txt"), "outside");
    server = app(root);
    await server.ready();
  });

  after(async () => {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  });

  it("serves index.html at / with no-cache, CSP and framing refused", async () => {
    for (const url of ["/", "/index.html", "/?x=1"]) {
      const r = await server.inject({ url });
      assert.equal(r.statusCode, 200, url);
      assert.equal(r.headers["content-type"], "text/html; charset=utf-8");
      assert.equal(r.headers["cache-control"], "no-cache");
      assert.match(
        String(r.headers["content-security-policy"]),
        /default-src 'self'.*frame-ancestors 'none'/,
      );
      assert.equal(r.headers["x-frame-options"], "DENY");
      assert.equal(r.headers["x-content-type-options"], "nosniff");
      assert.match(r.body, /app-1\.js/);
    }
    const head = await server.inject({ method: "HEAD", url: "/" });
    assert.equal(head.statusCode, 200);
    assert.equal(head.body, "");
  });

  it("serves hashed assets as immutable, compressed on request, with 304 on a matching ETag", async () => {
    const plain = await server.inject({ url: "/assets/app-1.js" });
    assert.equal(plain.statusCode, 200);
    assert.equal(plain.headers["content-type"], "text/javascript; charset=utf-8");
    assert.equal(plain.headers["cache-control"], "public, max-age=31536000, immutable");
    assert.equal(plain.body, script);
    assert.equal(plain.headers["content-encoding"], undefined);
    const br = await server.inject({
      url: "/assets/app-1.js",
      headers: { "accept-encoding": "gzip, deflate, br" },
    });
    assert.equal(br.headers["content-encoding"], "br");
    assert.equal(brotliDecompressSync(br.rawPayload).toString(), script);
    const gz = await server.inject({ url: "/assets/app-1.js", headers: { "accept-encoding": "gzip" } });
    assert.equal(gz.headers["content-encoding"], "gzip");
    assert.equal(gunzipSync(gz.rawPayload).toString(), script);
    assert.ok(gz.rawPayload.length < script.length / 10);
    const etag = String(plain.headers.etag);
    const again = await server.inject({ url: "/assets/app-1.js", headers: { "if-none-match": etag } });
    assert.equal(again.statusCode, 304);
    assert.equal(again.body, "");
    const css = await server.inject({ url: "/assets/app-1.css" });
    assert.equal(css.headers["content-type"], "text/css; charset=utf-8");
    const icon = await server.inject({ url: "/favicon.svg" });
    assert.equal(icon.headers["content-type"], "image/svg+xml");
    assert.equal(icon.headers["cache-control"], "no-cache");
  });

  it("refuses paths outside the build and hidden files; leaves other routes alone", async () => {
    for (const url of [
      "/assets/../../bourse-outside.txt",
      "/assets/..%2f..%2fbourse-outside.txt",
      "/assets/%2e%2e/%2e%2e/bourse-outside.txt",
      "/assets/nope.js",
      "/.hidden",
      "/assets/.hidden",
      "/assets/a%00b",
    ]) {
      const r = await server.inject({ url });
      assert.notEqual(r.statusCode, 200, url);
      assert.doesNotMatch(r.body, /outside|secret/, url);
    }
    const api = await server.inject({ url: "/v1/markets" });
    assert.equal(api.body, "[]");
  });

  it("picks up a rebuild: a new asset from disk, a changed index.html", async () => {
    writeFileSync(join(root, "assets", "app-2.js"), "console.log(2)");
    const fresh = await server.inject({ url: "/assets/app-2.js" });
    assert.equal(fresh.statusCode, 200);
    assert.equal(fresh.body, "console.log(2)");
    const before = await server.inject({ url: "/" });
    writeFileSync(join(root, "index.html"), '<!doctype html><script src="./assets/app-2.js"></script>');
    const later = new Date(Date.now() + 5_000);
    utimesSync(join(root, "index.html"), later, later);
    const after = await server.inject({ url: "/" });
    assert.match(after.body, /app-2\.js/);
    assert.notEqual(after.headers.etag, before.headers.etag);
  });

  it("without a build: / explains how to build it (503), the API still answers", async () => {
    const empty = mkdtempSync(join(tmpdir(), "bourse-dashboard-empty-"));
    const bare = app(join(empty, "missing"));
    await bare.ready();
    const r = await bare.inject({ url: "/" });
    assert.equal(r.statusCode, 503);
    assert.match(r.body, /npm run build:web/);
    assert.equal((await bare.inject({ url: "/v1/markets" })).statusCode, 200);
    assert.equal((await bare.inject({ url: "/assets/x.js" })).statusCode, 404);
    await bare.close();
    rmSync(empty, { recursive: true, force: true });
  });
});
