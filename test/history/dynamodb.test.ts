/**
 * The shared history suite on DynamoDB, against DynamoDB Local started for this file (in memory,
 * on a free port, stopped at the end). Each test gets its own tables (a fresh prefix).
 */
import { after, before } from "node:test";
import { DynamoHistoryStore } from "../../src/history/dynamo-store.js";
import { parseHistoryUrl } from "../../src/history/open-store.js";
import { type DynamoLocal, startDynamoLocal } from "./dynamodb-local.js";
import { historySuite } from "./suite.js";

let local: DynamoLocal | null = null;
let count = 0;

before(async () => {
  local = await startDynamoLocal();
});
after(async () => {
  await local?.stop();
});

historySuite("DynamoDB Local", {
  commands: 2_500,
  freshUrl: () => local!.url(`t${++count}_`),
  crashCommands: 2_500,
  crashBatchCommands: 100,
  fresh: async () => {
    const location = parseHistoryUrl(local!.url(`t${++count}_`), "");
    if (location.kind !== "dynamodb") throw new Error("expected a DynamoDB URL");
    const store = new DynamoHistoryStore(location);
    await store.open();
    return store;
  },
});
