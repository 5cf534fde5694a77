/**
 * DynamoDB Local for the tests and the bench: the jar shipped by the dev dependency
 * `amplify-dynamodb-simulator`, run with the machine's Java (scripts/ensure-java.sh installs one on a
 * fresh CI machine), in memory, on a free port, talked to over 127.0.0.1, and killed when done (also
 * if this process exits first). Nothing is downloaded and the jar is never copied into the repository.
 *
 * DynamoDB Local has no option to choose its listening address (its Jetty server takes a port only),
 * so it listens on every interface of this machine, on a random free port, for the test's lifetime.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname, join } from "node:path";

export interface DynamoLocal {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  port: number;
  /** A history URL for a fresh set of tables. */
  url(prefix: string): string;
  stop(): Promise<void>;
}

const startTimeoutMs = 90_000;

function emulatorDir(): string {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve("amplify-dynamodb-simulator/package.json");
  const dir = join(dirname(pkg), "emulator");
  if (!existsSync(join(dir, "DynamoDBLocal.jar"))) {
    throw new Error(
      `DynamoDB Local: ${dir}/DynamoDBLocal.jar is missing (dev dependency amplify-dynamodb-simulator)`,
    );
  }
  return dir;
}

export function javaAvailable(): boolean {
  return spawnSync("java", ["-version"], { stdio: "ignore" }).status === 0;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Answers once DynamoDB Local serves requests (any HTTP answer to a DynamoDB call will do). */
async function answers(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(endpoint, {
      method: "POST",
      headers: {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "DynamoDB_20120810.ListTables",
        Authorization:
          "AWS4-HMAC-SHA256 Credential=local/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
      },
      body: "{}",
      signal: AbortSignal.timeout(2_000),
    });
    await response.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

export async function startDynamoLocal(): Promise<DynamoLocal> {
  if (!javaAvailable()) {
    throw new Error(
      "DynamoDB Local needs Java: run scripts/ensure-java.sh (apt-get install default-jre-headless)",
    );
  }
  const dir = emulatorDir();
  const port = await freePort();
  const child: ChildProcess = spawn(
    "java",
    [
      "-Xmx512m",
      `-Djava.library.path=${join(dir, "DynamoDBLocal_lib")}`,
      "-jar",
      join(dir, "DynamoDBLocal.jar"),
      "-inMemory",
      "-disableTelemetry",
      "-port",
      String(port),
    ],
    { cwd: dir, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  const keep = (chunk: Buffer): void => {
    if (output.length < 8_192) output += chunk.toString();
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let exited = false;
  child.once("exit", () => {
    exited = true;
  });
  const killOnExit = (): void => {
    if (!exited) child.kill("SIGKILL");
  };
  process.once("exit", killOnExit);
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + startTimeoutMs;
  while (!(await answers(endpoint))) {
    if (exited) throw new Error(`DynamoDB Local exited at start:\n${output}`);
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`DynamoDB Local did not answer on ${endpoint} within ${startTimeoutMs} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  return {
    endpoint,
    port,
    url: (prefix) => `dynamodb://127.0.0.1:${port}?region=us-east-1&prefix=${prefix}`,
    stop: async () => {
      process.removeListener("exit", killOnExit);
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
      await gone;
      clearTimeout(timer);
    },
  };
}
