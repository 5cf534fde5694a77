/**
 * Optional TLS: with a certificate and key the node serves HTTPS and WSS on the same port (here a
 * throwaway self-signed certificate made with openssl; skipped when openssl is not installed).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import WebSocket from "ws";
import { startServer } from "./helpers.js";

function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("TLS", { skip: hasOpenssl() ? false : "openssl is not installed" }, () => {
  it("serves HTTPS and WSS from certificate and key paths", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bourse-tls-"));
    const certPath = join(dir, "cert.pem");
    const keyPath = join(dir, "key.pem");
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        keyPath,
        "-out",
        certPath,
        "-days",
        "1",
      ].concat(["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]),
      { stdio: "ignore" },
    );
    const ca = readFileSync(certPath);
    const server = await startServer({ tls: { certPath, keyPath } });
    try {
      assert.match(server.url, /^https:\/\//);
      const { port } = new URL(server.url);
      const body = await new Promise<string>((resolve, reject) => {
        const req = httpsRequest({ host: "127.0.0.1", port, path: "/v1/markets", ca }, (res) => {
          let data = "";
          res.on("data", (c) => (data += c));
          res.on("end", () => resolve(data));
        });
        req.on("error", reject);
        req.end();
      });
      assert.equal(JSON.parse(body)[0].symbol, "BTC-USD");
      const ws = new WebSocket(`wss://127.0.0.1:${port}/v1/ws`, { ca });
      const reply = await new Promise<string>((resolve, reject) => {
        ws.once("open", () => ws.send(JSON.stringify({ op: "ping", id: 1 })));
        ws.once("message", (data) => resolve(data.toString()));
        ws.once("error", reject);
      });
      assert.equal(JSON.parse(reply).id, 1);
      ws.close();
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
