/**
 * One setting picks the journal backend:
 *
 *   ./data, /var/lib/bourse, file:///var/lib/bourse        the file journal in that directory
 *   redis://host:6379, rediss://user:pass@host:6380          the Redis journal (rediss: TLS)
 *     ?durability=memorydb|aof-always|aof-always+wait         what "durable" means (default aof-always+wait)
 *     &replicas=1                                             replicas WAIT must count
 *     &namespace=bourse                                       key prefix ({namespace} hash tag)
 *     &ca=/etc/bourse/redis-ca.pem                            rediss:// with a private CA
 *
 * The rest of the code receives a Journal and does not know which.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { FileSystem } from "../platform/file-system.js";
import { RealFileSystem } from "../platform/real-file-system.js";
import { FileJournal } from "./file-journal.js";
import type { Journal } from "./journal.js";
import { type Durability, parseDurability, RedisJournal, type RedisJournalOptions } from "./redis-journal.js";

export interface RedisLocation {
  /** The URL for the client, without Bourse's own query parameters. */
  url: string;
  durability: Durability;
  replicas: number;
  namespace: string;
}

export function isRedisUrl(location: string): boolean {
  return /^rediss?:\/\//i.test(location);
}

/** Splits a redis:// URL into the server's URL and Bourse's settings (unknown parameters are refused). */
export function parseRedisLocation(location: string): RedisLocation {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw new Error(`journal: "${location}" is not a URL`);
  }
  const result: RedisLocation = { url: "", durability: "aof-always+wait", replicas: 1, namespace: "bourse" };
  let ca: string | undefined;
  for (const [name, value] of url.searchParams) {
    // A literal '+' in a query string reads as a space: accept `aof-always+wait` unescaped too.
    if (name === "durability") result.durability = parseDurability(value.replace(" ", "+"));
    else if (name === "replicas") {
      if (!/^[0-9]{1,2}$/.test(value))
        throw new Error(`journal: replicas=${value} is not a small whole number`);
      result.replicas = Number(value);
    } else if (name === "namespace") {
      if (!/^[A-Za-z0-9_.-]{1,64}$/.test(value))
        throw new Error(`journal: namespace=${value}: letters, digits, _ . - only`);
      result.namespace = value;
    } else if (name === "ca") {
      if (!existsSync(value)) throw new Error(`journal: ca=${value}: no such file`);
      ca = value;
    } else throw new Error(`journal: unknown parameter ${name} in the journal URL`);
  }
  url.search = "";
  // The CA travels with the client's URL: src/journal/redis-log.ts reads it when it connects.
  if (ca !== undefined) url.searchParams.set("ca", ca);
  result.url = url.toString();
  return result;
}

export interface OpenJournalOptions {
  /** File journal: the file system (the real one by default). */
  fs?: FileSystem;
  /** Redis journal: anything beyond what the URL says (epoch, adopt, bounds). */
  redis?: Partial<RedisJournalOptions>;
}

export function openJournal(location: string, options: OpenJournalOptions = {}): Journal {
  if (isRedisUrl(location)) {
    const { url, durability, replicas, namespace } = parseRedisLocation(location);
    return new RedisJournal({ url, durability, replicas, namespace, ...options.redis });
  }
  const dir = location.startsWith("file://") ? fileURLToPath(location) : location;
  return new FileJournal({ fs: options.fs ?? new RealFileSystem(), dir });
}
