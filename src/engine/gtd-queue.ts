/**
 * GTD orders by (expireTime, orderId): a binary min-heap of (expireTime, orderId) pairs. Orders that
 * close before they expire stay in the heap and are skipped when they surface (lazy deletion keeps
 * cancel O(1)): the engine checks that the orderId is still held.
 */
export class GtdQueue {
  private times: number[] = [];
  private ids: number[] = [];

  get size(): number {
    return this.ids.length;
  }

  /** Expire time of the earliest entry (Infinity when empty). */
  peekTime(): number {
    return this.ids.length === 0 ? Number.POSITIVE_INFINITY : this.times[0]!;
  }

  private before(i: number, time: number, id: number): boolean {
    const t = this.times[i]!;
    return t < time || (t === time && this.ids[i]! < id);
  }

  push(time: number, id: number): void {
    const times = this.times;
    const ids = this.ids;
    let i = ids.length;
    times.push(time);
    ids.push(id);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(parent, time, id)) {
        times[i] = times[parent]!;
        ids[i] = ids[parent]!;
        i = parent;
      } else break;
    }
    times[i] = time;
    ids[i] = id;
  }

  /** Removes the earliest entry and returns its orderId. */
  pop(): number {
    const times = this.times;
    const ids = this.ids;
    const top = ids[0]!;
    const lastTime = times.pop()!;
    const lastId = ids.pop()!;
    const n = ids.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        const child = right < n && this.before(right, times[left]!, ids[left]!) ? right : left;
        if (!this.before(child, lastTime, lastId)) break;
        times[i] = times[child]!;
        ids[i] = ids[child]!;
        i = child;
      }
      times[i] = lastTime;
      ids[i] = lastId;
    }
    return top;
  }
}
