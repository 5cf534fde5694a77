/**
 * Real redis-server processes for the cache and bus tests and the client benchmark, each on a free
 * port bound to 127.0.0.1 with a generated config file in its own temporary directory, no persistence
 * (a cache loses nothing it cannot rebuild):
 *
 *   - plain: redis://127.0.0.1:P
 *   - acl: the default user off, user `bourse` with password `secretpw` (redis://bourse:secretpw@…)
 *   - tls: TLS only (--port 0 --tls-port P), certificates from a CA generated here with openssl; the
 *     URL carries ?ca=<the CA's PEM file> (rediss://…?ca=…)
 *
 * `restart()` starts the server again on the same port and config (the outage tests), `kill()` is
 * SIGKILL, `stop()` SIGTERM and removes the directory.
 */
import { type ChildProcess, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { commandOnce, freePort, launchRedisServer, startOnFreePort } from "../cluster/redis-servers.js";

export const aclUser = "bourse";
export const aclPassword = "secretpw";

export interface CacheRedisOptions {
  /** The default user off, user `bourse` / `secretpw` with every right. */
  acl?: boolean;
  /** TLS only, with a certificate signed by a CA generated here. */
  tls?: boolean;
  /** Extra config lines (`name value`). */
  settings?: Record<string, string>;
}

export interface CacheRedisInstance {
  readonly port: number;
  /** The URL for openCache: credentials and ?ca= included. */
  readonly url: string;
  readonly dir: string;
  /** PEM file of the CA (tls). */
  readonly caFile: string | undefined;
  /** Running now. */
  readonly running: boolean;
  /** SIGSTOP: the server keeps its connections open and answers nothing (a hung server). */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** Sends one command on a short-lived connection (as the ACL user, over TLS as configured). */
  command(args: string[]): Promise<unknown>;
  /** SIGKILL, and waits for the exit. */
  kill(): Promise<void>;
  /** Starts it again on the same port and config (after kill or stop({ keep: true })). */
  restart(): Promise<void>;
  /** SIGTERM; removes the directory unless keep. */
  stop(options?: { keep?: boolean }): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A CA and a server certificate for 127.0.0.1 / localhost (EC P-256, two days). */
export function makeCertificates(dir: string): { ca: string; cert: string; key: string } {
  const file = (name: string): string => path.join(dir, name);
  const run = (args: string[]): void => {
    execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  run(
    ["req", "-x509", ...ec, "-keyout", file("ca.key"), "-out", file("ca.crt"), "-days", "2"].concat([
      "-subj",
      "/CN=bourse test CA",
    ]),
  );
  run(["req", ...ec, "-keyout", file("server.key"), "-out", file("server.csr"), "-subj", "/CN=127.0.0.1"]);
  fs.writeFileSync(file("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  run([
    "x509",
    "-req",
    "-in",
    file("server.csr"),
    "-CA",
    file("ca.crt"),
    "-CAkey",
    file("ca.key"),
    "-CAcreateserial",
    "-out",
    file("server.crt"),
    "-days",
    "2",
    "-extfile",
    file("server.ext"),
  ]);
  return { ca: file("ca.crt"), cert: file("server.crt"), key: file("server.key") };
}

export async function startCacheRedis(options: CacheRedisOptions = {}): Promise<CacheRedisInstance> {
  return startOnFreePort(() => startOnce(options));
}

async function startOnce(options: CacheRedisOptions): Promise<CacheRedisInstance> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bourse-cache-redis-"));
  const lines = [
    `bind 127.0.0.1`,
    `dir ${dir}`,
    `save ""`,
    `appendonly no`,
    `daemonize no`,
    `logfile redis.log`,
  ];
  let caFile: string | undefined;
  if (options.tls) {
    const certs = makeCertificates(dir);
    caFile = certs.ca;
    lines.push(
      `port 0`,
      `tls-port ${port}`,
      `tls-cert-file ${certs.cert}`,
      `tls-key-file ${certs.key}`,
      `tls-ca-cert-file ${certs.ca}`,
      `tls-auth-clients no`,
    );
  } else lines.push(`port ${port}`);
  if (options.acl) lines.push(`user default off`, `user ${aclUser} on >${aclPassword} ~* &* +@all`);
  for (const [name, value] of Object.entries(options.settings ?? {})) lines.push(`${name} ${value}`);
  const config = path.join(dir, "redis.conf");
  fs.writeFileSync(config, `${lines.join("\n")}\n`);

  const scheme = options.tls ? "rediss" : "redis";
  const auth = options.acl ? `${aclUser}:${aclPassword}@` : "";
  const url = `${scheme}://${auth}127.0.0.1:${port}${caFile === undefined ? "" : `?ca=${encodeURIComponent(caFile)}`}`;
  const ca = caFile === undefined ? undefined : fs.readFileSync(caFile);

  const command = (args: string[]): Promise<unknown> =>
    commandOnce(
      {
        socket: {
          host: "127.0.0.1",
          port,
          reconnectStrategy: false,
          connectTimeout: 2_000,
          ...(options.tls ? { tls: true as const, ca } : {}),
        },
        ...(options.acl ? { username: aclUser, password: aclPassword } : {}),
      },
      args,
    );

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const launch = async (): Promise<void> => {
    ({ child, exited } = await launchRedisServer([config], port, dir, () => command(["PING"])));
  };
  const isRunning = (): boolean =>
    child !== undefined && child.exitCode === null && child.signalCode === null;
  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    if (isRunning()) {
      child!.kill(signal);
      child!.kill("SIGCONT"); // a paused server handles SIGTERM only once resumed
    }
    await exited;
  };

  try {
    await launch();
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    url,
    dir,
    caFile,
    get running() {
      return isRunning();
    },
    command,
    pause: () => {
      if (isRunning()) child!.kill("SIGSTOP");
    },
    resume: () => {
      if (isRunning()) child!.kill("SIGCONT");
    },
    kill: () => halt("SIGKILL"),
    async restart() {
      await halt("SIGKILL");
      // The port was ours a moment ago; a restart right after the exit may find it in TIME_WAIT or
      // briefly taken: retry a few times.
      for (let attempt = 1; ; attempt++) {
        try {
          await launch();
          return;
        } catch (error) {
          if (attempt >= 5) throw error;
          await sleep(200);
        }
      }
    },
    async stop(stopOptions = {}) {
      await halt("SIGTERM");
      if (!stopOptions.keep) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
