/** The shared history suite on the embedded backend: SQLite (WAL) in a temporary data directory. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { SqliteHistoryStore } from "../../src/history/sqlite-store.js";
import { historySuite } from "./suite.js";

const dir = mkdtempSync(join(tmpdir(), "bourse-history-sqlite-"));
let count = 0;
after(() => rmSync(dir, { recursive: true, force: true }));

historySuite("SQLite", {
  commands: 6_000,
  freshUrl: () => `sqlite:${join(dir, `store-${++count}`, "history.sqlite")}`,
  crashCommands: 20_000,
  crashBatchCommands: 300,
  fresh: async () => {
    const store = new SqliteHistoryStore(join(dir, `store-${++count}`, "history.sqlite"));
    await store.open();
    return store;
  },
});
