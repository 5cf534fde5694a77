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
import type { Level } from "./book.js";
import type { Engine, TransferRecord } from "./engine.js";
import type { Int } from "./int.js";
import { nil, type OrderExtra, packFlags, Status } from "./order-store.js";
import { sha256 } from "./state-hash.js";

const magic = new TextEncoder().encode("BOURSNAP");
const formatVersion = 2;
const hashBytes = 32;

export function configHash(engine: Engine): Uint8Array {
  return sha256(new TextEncoder().encode(JSON.stringify(engine.config.source)));
}

/**
 * One order: id, account, then the packed attributes as small integers (side, type, tif, stp,
 * postOnly, status; 0 for "untriggered" up to 2 for "partially_filled"), then the numbers.
 */
function writeOrder(w: BinaryWriter, engine: Engine, slot: number): void {
  const s = engine.store;
  w.varint(s.id[slot]!);
  w.varint(s.account[slot]!);
  w.u8(s.side(slot) | (s.type(slot) << 1) | (s.tif(slot) << 3));
  w.u8(s.stp(slot) | (s.status(slot) << 2) | (s.postOnly(slot) ? 16 : 0));
  w.varint(s.price[slot]!);
  w.varint(s.quantity[slot]!);
  w.varint(s.filled[slot]!);
  w.int(s.filledNotional(slot));
  w.int(s.hold(slot));
  // Creation time as its age at the snapshot: a small varint instead of a 41-bit one.
  w.varint(engine.time - s.createdAt[slot]!);
  const extra = s.extra(slot);
  w.varint(extra.stopPrice);
  w.varint(extra.expireTime);
  w.int(extra.quoteQuantity);
  w.string(extra.clientOrderId);
}

function readOrder(r: BinaryReader, engine: Engine, marketIndex: number): number {
  const id = r.varint();
  const accountId = r.varint();
  if (engine.accounts[accountId] === undefined)
    throw new Error(`snapshot: order ${id} names an unknown account`);
  const a = r.u8();
  const b = r.u8();
  const side = a & 1;
  const type = (a >> 1) & 3;
  const tif = (a >> 3) & 3;
  const stp = b & 3;
  const status = (b >> 2) & 3;
  if (a >> 5 !== 0 || b >> 5 !== 0 || stp > 2 || status > Status.PartiallyFilled) {
    throw new Error(`snapshot: order ${id} has bad attributes`);
  }
  const price = r.varint();
  const quantity = r.varint();
  const filled = r.varint();
  const filledNotional = r.int();
  const hold = r.int();
  const createdAt = engine.time - r.varint();
  const stopPrice = r.varint();
  const expireTime = r.varint();
  const quoteQuantity = r.int();
  const clientOrderId = r.string();
  if (filled >= quantity && quoteQuantity === 0) throw new Error(`snapshot: order ${id} is already filled`);
  const extra: OrderExtra | null =
    stopPrice !== 0 || expireTime !== 0 || quoteQuantity !== 0 || clientOrderId !== ""
      ? { stopPrice, expireTime, quoteQuantity, clientOrderId }
      : null;
  const flags = packFlags(side, type, tif, stp, (b & 16) !== 0, status, marketIndex);
  const store = engine.store;
  if (store.slotOf.get(id) !== nil) throw new Error(`snapshot: order ${id} appears twice`);
  const slot = store.allocate(id, accountId, flags, price, quantity, createdAt, extra);
  store.filled[slot] = filled;
  store.setFilledNotional(slot, filledNotional);
  store.setHold(slot, hold);
  return slot;
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
      for (const level of side.fromBest()) {
        w.varint(level.count);
        for (let o = level.head; o !== nil; o = engine.store.next[o]!) writeOrder(w, engine, o);
      }
    }
    w.varint(ms.stops.length);
    for (const slot of ms.stops) writeOrder(w, engine, slot);
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
  const store = engine.store;
  const all: number[] = [];
  for (const ms of engine.markets) {
    ms.lastPrice = r.varint();
    for (const side of [ms.bids, ms.asks]) {
      const levelCount = r.varint();
      let previousPrice = -1;
      for (let l = 0; l < levelCount; l++) {
        const count = r.varint();
        if (count === 0) throw new Error("snapshot: empty price level");
        let price = -1;
        let level: Level | null = null;
        for (let k = 0; k < count; k++) {
          const slot = readOrder(r, engine, ms.market.index);
          const orderPrice = store.price[slot]!;
          if (k === 0) {
            price = orderPrice;
            level = side.levelFor(price);
          }
          if (
            orderPrice !== price ||
            store.status(slot) === Status.Untriggered ||
            store.isBuy(slot) !== side.isBid
          ) {
            throw new Error(`snapshot: order ${store.id[slot]} does not belong to its level`);
          }
          // Levels are written best first: each level must be strictly worse than the one before.
          if (k === 0 && previousPrice >= 0 && !side.better(previousPrice, price)) {
            throw new Error("snapshot: price levels out of order");
          }
          side.appendTo(level!, slot);
          all.push(slot);
        }
        previousPrice = price;
      }
    }
    const stopCount = r.varint();
    for (let k = 0; k < stopCount; k++) {
      const slot = readOrder(r, engine, ms.market.index);
      if (store.status(slot) !== Status.Untriggered) {
        throw new Error(`snapshot: stop order ${store.id[slot]} is not untriggered`);
      }
      ms.stops.push(slot);
      all.push(slot);
    }
  }
  if (!r.done) throw new Error("snapshot: trailing bytes after the state");
  // Account order lists and the GTD queue are in orderId order: sort the ids natively, then map back.
  const ids = new Float64Array(all.length);
  for (let i = 0; i < all.length; i++) ids[i] = store.id[all[i]!]!;
  ids.sort();
  for (let i = 0; i < ids.length; i++) {
    const slot = store.slotOf.get(ids[i]!);
    engine.accounts[store.account[slot]!]!.linkOrder(store, slot);
    const expireTime = store.expireTime(slot);
    if (expireTime !== 0) engine.gtd.push(expireTime, store.id[slot]!);
  }
  return engine;
}
