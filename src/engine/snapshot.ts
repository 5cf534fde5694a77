/**
 * The engine's whole state as canonical bytes: identical histories give identical bytes, so the
 * state hash is the SHA-256 of the snapshot.
 *
 * Layout: magic "BOURSNAP", format version (u8), SHA-256 of the configuration (32 bytes), the body,
 * then SHA-256 of everything before it (32 bytes). A snapshot is refused when the checksum, the
 * version or the configuration does not match, or when any field is out of shape.
 *
 * The body stores each book level by level with its orders in time priority (amended orders are not
 * in id order), stops in id order, accounts with balances and remembered clientOrderIds, transfers and
 * counters. Derived indexes (order map, account order lists, GTD queue, level totals) are rebuilt.
 */
import { Account } from "./account.js";
import { BinaryReader, BinaryWriter } from "./binary.js";
import type { Engine, TransferRecord } from "./engine.js";
import type { Int } from "./int.js";
import type { MarketState } from "./market-state.js";
import { Order } from "./order.js";
import { sha256 } from "./state-hash.js";
import type { OrderStatus, OrderType, SelfTradePrevention, Side, TimeInForce } from "./types.js";

const magic = new TextEncoder().encode("BOURSNAP");
const formatVersion = 1;
const hashBytes = 32;

const sides: readonly Side[] = ["buy", "sell"];
const types: readonly OrderType[] = ["limit", "market", "stop_limit", "stop_market"];
const tifs: readonly TimeInForce[] = ["GTC", "IOC", "FOK", "GTD"];
const stps: readonly SelfTradePrevention[] = ["cancel_taker", "cancel_maker", "cancel_both"];
const statuses: readonly OrderStatus[] = ["untriggered", "open", "partially_filled"];

export function configHash(engine: Engine): Uint8Array {
  return sha256(new TextEncoder().encode(JSON.stringify(engine.config.source)));
}

function writeOrder(w: BinaryWriter, o: Order): void {
  w.varint(o.id);
  w.varint(o.account.id);
  w.u8(sides.indexOf(o.side) | (types.indexOf(o.type) << 1) | (tifs.indexOf(o.timeInForce) << 3));
  w.u8(stps.indexOf(o.selfTradePrevention) | (statuses.indexOf(o.status) << 2) | (o.postOnly ? 16 : 0));
  w.varint(o.price);
  w.varint(o.stopPrice);
  w.varint(o.quantity);
  w.varint(o.filled);
  w.int(o.filledNotional);
  w.int(o.quoteQuantity);
  w.int(o.hold);
  w.varint(o.expireTime);
  w.string(o.clientOrderId);
  w.varint(o.createdAt);
}

function pick<T>(values: readonly T[], index: number, what: string): T {
  const value = values[index];
  if (value === undefined) throw new Error(`snapshot: bad ${what} ${index}`);
  return value;
}

function readOrder(r: BinaryReader, engine: Engine, ms: MarketState): Order {
  const id = r.varint();
  const account = engine.accounts[r.varint()];
  if (account === undefined) throw new Error(`snapshot: order ${id} names an unknown account`);
  const a = r.u8();
  const b = r.u8();
  const price = r.varint();
  const stopPrice = r.varint();
  const quantity = r.varint();
  const filled = r.varint();
  const filledNotional = r.int();
  const quoteQuantity = r.int();
  const hold = r.int();
  const expireTime = r.varint();
  const clientOrderId = r.string();
  const createdAt = r.varint();
  const order = new Order(
    id,
    account,
    ms,
    pick(sides, a & 1, "side"),
    pick(types, (a >> 1) & 3, "type"),
    pick(tifs, (a >> 3) & 3, "time in force"),
    price,
    stopPrice,
    quantity,
    quoteQuantity,
    (b & 16) !== 0,
    expireTime,
    clientOrderId,
    pick(stps, b & 3, "self-trade prevention"),
    createdAt,
  );
  order.status = pick(statuses, (b >> 2) & 3, "status");
  order.filled = filled;
  order.filledNotional = filledNotional;
  order.hold = hold;
  if (filled >= quantity && quoteQuantity === 0) throw new Error(`snapshot: order ${id} is already filled`);
  return order;
}

export function writeSnapshot(engine: Engine): Uint8Array {
  const w = new BinaryWriter(1 << 20);
  w.bytes(magic);
  w.u8(formatVersion);
  w.bytes(configHash(engine));
  w.varint(engine.lastSeq);
  w.varint(engine.time);
  w.varint(engine.nextOrderId);
  w.varint(engine.nextTradeId);
  for (const s of engine.supply) w.int(s);
  w.varint(engine.accounts.length);
  for (const account of engine.accounts) {
    for (let i = 0; i < account.available.length; i++) {
      w.int(account.available[i]!);
      w.int(account.locked[i]!);
    }
    w.string(account.name);
    w.string(account.apiKey);
    w.string(account.sealedSecret);
    const ids = account.clientOrderIds;
    w.varint(ids === null ? 0 : ids.size);
    if (ids !== null) {
      for (const [clientOrderId, orderId] of ids) {
        w.string(clientOrderId);
        w.varint(orderId);
      }
    }
  }
  w.varint(engine.transfers.size);
  for (const [transferId, t] of engine.transfers) {
    w.string(transferId);
    w.u8(t.kind === "deposit" ? 0 : 1);
    w.varint(t.accountId);
    w.varint(t.asset);
    w.int(t.amount);
  }
  for (const ms of engine.markets) {
    w.varint(ms.lastPrice);
    for (const side of [ms.bids, ms.asks]) {
      w.varint(side.liveLevels);
      for (let i = side.levels.length - 1; i >= 0; i--) {
        const level = side.levels[i]!;
        if (level.count === 0) continue; // emptied, awaiting compaction: not part of the state
        w.varint(level.count);
        for (let o = level.head; o !== null; o = o.next) writeOrder(w, o);
      }
    }
    w.varint(ms.stops.length);
    for (const o of ms.stops) writeOrder(w, o);
  }
  const body = w.finish();
  const result = new Uint8Array(body.length + hashBytes);
  result.set(body);
  result.set(sha256(body), body.length);
  return result;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Fills a freshly constructed engine from snapshot bytes; throws on any damage or mismatch. */
export function readSnapshot(engine: Engine, bytes: Uint8Array): Engine {
  if (bytes.length < magic.length + 1 + 2 * hashBytes)
    throw new Error("snapshot: too short to be a snapshot");
  const bodyEnd = bytes.length - hashBytes;
  if (!equalBytes(sha256(bytes.subarray(0, bodyEnd)), bytes.subarray(bodyEnd))) {
    throw new Error("snapshot: checksum mismatch: the snapshot is damaged");
  }
  const r = new BinaryReader(bytes, 0, bodyEnd);
  if (!equalBytes(r.bytes(magic.length), magic)) throw new Error("snapshot: not a Bourse snapshot");
  const version = r.u8();
  if (version !== formatVersion)
    throw new Error(`snapshot: format version ${version}, this build reads ${formatVersion}`);
  if (!equalBytes(r.bytes(hashBytes), configHash(engine))) {
    throw new Error("snapshot: taken under another market configuration");
  }
  engine.lastSeq = r.varint();
  engine.time = r.varint();
  engine.nextOrderId = r.varint();
  engine.nextTradeId = r.varint();
  const assetCount = engine.config.assets.length;
  for (let i = 0; i < assetCount; i++) engine.supply[i] = r.int();
  const accountCount = r.varint();
  if (accountCount < 1) throw new Error("snapshot: the fee account is missing");
  engine.accounts.length = 0;
  for (let id = 0; id < accountCount; id++) {
    const account = new Account(id, assetCount);
    for (let i = 0; i < assetCount; i++) {
      account.available[i] = r.int();
      account.locked[i] = r.int();
    }
    account.name = r.string();
    account.apiKey = r.string();
    account.sealedSecret = r.string();
    if (account.apiKey !== "") engine.accountByApiKey.set(account.apiKey, account);
    const idCount = r.varint();
    if (idCount > 0) {
      const ids = new Map<string, number>();
      for (let k = 0; k < idCount; k++) {
        const clientOrderId = r.string();
        ids.set(clientOrderId, r.varint());
      }
      account.clientOrderIds = ids;
    }
    engine.accounts.push(account);
  }
  const transferCount = r.varint();
  for (let k = 0; k < transferCount; k++) {
    const transferId = r.string();
    const kind = r.u8();
    if (kind > 1) throw new Error("snapshot: bad transfer kind");
    const record: TransferRecord = {
      kind: kind === 0 ? "deposit" : "withdraw",
      accountId: r.varint(),
      asset: r.varint(),
      amount: r.int() as Int,
    };
    engine.transfers.set(transferId, record);
  }
  const all: Order[] = [];
  for (const ms of engine.markets) {
    ms.lastPrice = r.varint();
    for (const side of [ms.bids, ms.asks]) {
      const levelCount = r.varint();
      let previousPrice = -1;
      for (let l = 0; l < levelCount; l++) {
        const count = r.varint();
        if (count === 0) throw new Error("snapshot: empty price level");
        let price = -1;
        for (let k = 0; k < count; k++) {
          const order = readOrder(r, engine, ms);
          if (k === 0) price = order.price;
          if (
            order.price !== price ||
            order.status === "untriggered" ||
            (order.side === "buy") !== side.isBid
          ) {
            throw new Error(`snapshot: order ${order.id} does not belong to its level`);
          }
          // Levels are written best first; best-first means strictly worse each step.
          if (k === 0 && previousPrice >= 0 && !side.better(previousPrice, price)) {
            throw new Error("snapshot: price levels out of order");
          }
          side.append(order);
          all.push(order);
        }
        previousPrice = price;
      }
    }
    const stopCount = r.varint();
    for (let k = 0; k < stopCount; k++) {
      const order = readOrder(r, engine, ms);
      if (order.status !== "untriggered")
        throw new Error(`snapshot: stop order ${order.id} is not untriggered`);
      ms.stops.push(order);
      all.push(order);
    }
  }
  if (!r.done) throw new Error("snapshot: trailing bytes after the state");
  all.sort((a, b) => a.id - b.id);
  for (const order of all) {
    if (engine.orders.has(order.id)) throw new Error(`snapshot: order ${order.id} appears twice`);
    engine.orders.set(order.id, order);
    order.account.linkOrder(order);
    if (order.timeInForce === "GTD") engine.gtd.push(order);
  }
  return engine;
}
