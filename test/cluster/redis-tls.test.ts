/**
 * The Redis journal over TLS with an ACL user (rediss://bourse:…@host:port?ca=<PEM>): the whole
 * journal port suite on a TLS-only redis-server whose certificate is signed by a CA made for the test,
 * with the default user off. The journal URL is parsed as `--journal` would parse it.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parseRedisLocation } from "../../src/journal/open-journal.js";
import { RedisJournal } from "../../src/journal/redis-journal.js";
import { RedisLog } from "../../src/journal/redis-log.js";
import { type CacheRedisInstance, startCacheRedis } from "../cache/redis-instances.js";
import { journalPortSuite } from "../journal/port-suite.js";

let server: CacheRedisInstance;
let count = 0;

before(async () => {
  server = await startCacheRedis({
    acl: true,
    tls: true,
    settings: { appendonly: "yes", appendfsync: "always" },
  });
});
after(async () => {
  await server?.stop();
});

function location(namespace: string): ReturnType<typeof parseRedisLocation> {
  const separator = server.url.includes("?") ? "&" : "?";
  return parseRedisLocation(
    `${server.url}${separator}durability=aof-always&replicas=0&namespace=${namespace}`,
  );
}

describe("journal port: redis journal over TLS with an ACL user (rediss://, ?ca=)", () => {
  let namespace = "";
  journalPortSuite({
    async fresh() {
      namespace = `tls${process.pid}-${++count}`;
    },
    journal: (bounds) => {
      const l = location(namespace);
      return new RedisJournal({
        url: l.url,
        namespace: l.namespace,
        durability: l.durability,
        replicas: l.replicas,
        ...bounds,
      });
    },
  });
});

describe("rediss:// journal URL", () => {
  it("keeps the CA for the client and refuses a CA file that is not there", () => {
    const l = location("x");
    assert.ok(l.url.startsWith("rediss://"), l.url);
    assert.match(l.url, /[?&]ca=/);
    assert.equal(l.durability, "aof-always");
    assert.throws(() => parseRedisLocation("rediss://127.0.0.1:1?ca=/nonexistent/ca.pem"), /no such file/);
  });

  it("refuses a wrong password", async () => {
    const l = location("y");
    const wrong = l.url.replace(/:[^:@/]*@/, ":wrong-password@");
    await assert.rejects(RedisLog.connect({ url: wrong, namespace: "y" }));
  });
});
