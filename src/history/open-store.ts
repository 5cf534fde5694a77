/**
 * Which history backend, from one URL in the configuration (the rest of the code does not know which):
 *
 *   (none), "sqlite:"              SQLite in <dataDir>/history/history.sqlite (the default)
 *   sqlite:<path>                  SQLite at that file
 *   dynamodb://aws?region=eu-west-1&prefix=bourse_
 *                                  AWS DynamoDB in that region (credentials: the AWS SDK's default chain)
 *   dynamodb://localhost:8000?region=us-east-1&prefix=bourse_
 *                                  DynamoDB Local or a compatible endpoint, over http
 *   dynamodbs://host:port?...      a compatible endpoint over https
 * DynamoDB options: region (required), prefix (table name prefix, default "bourse_"), ttlDays (items
 * expire that many days after their time: the retention of the hot store; absent: kept forever).
 */
import { join } from "node:path";
import type { HistoryStore } from "./history-store.js";

export type HistoryLocation =
  | { kind: "sqlite"; path: string }
  | {
      kind: "dynamodb";
      region: string;
      /** Absent: AWS's own endpoint for the region. */
      endpoint?: string;
      prefix: string;
      ttlDays?: number;
    };

export class HistoryUrlError extends Error {
  override name = "HistoryUrlError";
}

const prefixPattern = /^[A-Za-z0-9_.-]{0,200}$/;
const regionPattern = /^[a-z0-9-]{1,32}$/;

export function defaultHistoryPath(dataDir: string): string {
  return join(dataDir, "history", "history.sqlite");
}

export function parseHistoryUrl(url: string | undefined, dataDir: string): HistoryLocation {
  if (url === undefined || url === "" || url === "sqlite:")
    return { kind: "sqlite", path: defaultHistoryPath(dataDir) };
  if (url.startsWith("sqlite:")) {
    const path = url.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "");
    return { kind: "sqlite", path };
  }
  if (!url.startsWith("dynamodb://") && !url.startsWith("dynamodbs://")) {
    throw new HistoryUrlError(
      `history URL "${url}": expected sqlite:<path>, dynamodb://aws?region=…, or dynamodb://host:port?region=…`,
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new HistoryUrlError(`history URL "${url}" is not a URL`);
  }
  const region = parsed.searchParams.get("region") ?? "";
  if (!regionPattern.test(region)) throw new HistoryUrlError(`history URL "${url}": region=… is required`);
  const prefix = parsed.searchParams.get("prefix") ?? "bourse_";
  if (!prefixPattern.test(prefix))
    throw new HistoryUrlError(`history URL "${url}": prefix must match ${prefixPattern}`);
  const ttl = parsed.searchParams.get("ttlDays");
  const location: HistoryLocation = { kind: "dynamodb", region, prefix };
  if (ttl !== null) {
    const days = Number(ttl);
    if (!Number.isSafeInteger(days) || days < 1)
      throw new HistoryUrlError(`history URL "${url}": ttlDays must be a positive integer`);
    location.ttlDays = days;
  }
  if (parsed.hostname !== "aws") {
    const scheme = url.startsWith("dynamodbs://") ? "https" : "http";
    location.endpoint = `${scheme}://${parsed.host}`;
  }
  return location;
}

/** The store a URL names (not yet opened). */
export async function createHistoryStore(url: string | undefined, dataDir: string): Promise<HistoryStore> {
  const location = parseHistoryUrl(url, dataDir);
  if (location.kind === "sqlite") {
    const { SqliteHistoryStore } = await import("./sqlite-store.js");
    return new SqliteHistoryStore(location.path);
  }
  const { DynamoHistoryStore } = await import("./dynamo-store.js");
  return new DynamoHistoryStore(location);
}
