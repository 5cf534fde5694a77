/** The engine's orderId → slot table against a Map, under random adds and deletes with growth. */
import { equal } from "node:assert/strict";
import { describe, it } from "node:test";
import { IdIndex } from "../../src/engine/id-index.js";
import { Rng } from "./generator.js";

describe("IdIndex", () => {
  it("agrees with a Map over 300k random adds, deletes and lookups", () => {
    const rng = new Rng(5);
    const index = new IdIndex(16);
    const map = new Map<number, number>();
    const live: number[] = [];
    let next = 1;
    for (let i = 0; i < 300_000; i++) {
      if (live.length < 2_000 || rng.chance(0.5)) {
        const id = rng.chance(0.01) ? 2 ** 40 + next++ : next++;
        equal(index.add(id, i), true);
        map.set(id, i);
        live.push(id);
      } else {
        const k = rng.int(0, live.length - 1);
        const id = live[k]!;
        live[k] = live[live.length - 1]!;
        live.pop();
        equal(index.delete(id), true);
        map.delete(id);
      }
      const probe = rng.chance(0.5) ? live[rng.int(0, live.length - 1)]! : rng.int(-2, next + 2);
      equal(index.get(probe), map.get(probe) ?? -1, `lookup of ${probe} after operation ${i}`);
    }
    equal(index.size, map.size);
  });

  it("answers -1 for 0, negative and non-integer ids, and refuses a repeated id", () => {
    const index = new IdIndex();
    index.add(1, 7);
    index.delete(1);
    equal(index.get(0), -1);
    equal(index.get(-1), -1);
    equal(index.get(1.5), -1);
    equal(index.get(1), -1);
    equal(index.add(2, 3), true);
    equal(index.add(2, 4), false);
    equal(index.get(2), 3);
  });
});
