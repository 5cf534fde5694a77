/**
 * GTD orders by (expireTime, orderId): a binary min-heap. Orders that close before they expire stay
 * in the heap and are skipped when they surface (lazy deletion keeps cancel O(1)); an order that is
 * closed or re-queued is recognised by `status` and `expireTime`.
 */
import type { Order } from "./order.js";

function before(a: Order, b: Order): boolean {
  return a.expireTime < b.expireTime || (a.expireTime === b.expireTime && a.id < b.id);
}

export class GtdQueue {
  private readonly heap: Order[] = [];

  get size(): number {
    return this.heap.length;
  }

  peek(): Order | null {
    return this.heap.length === 0 ? null : this.heap[0]!;
  }

  push(order: Order): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(order);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(order, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = order;
  }

  pop(): Order | null {
    const heap = this.heap;
    if (heap.length === 0) return null;
    const top = heap[0]!;
    const last = heap.pop()!;
    const n = heap.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= n) break;
        const right = left + 1;
        const child = right < n && before(heap[right]!, heap[left]!) ? right : left;
        if (!before(heap[child]!, last)) break;
        heap[i] = heap[child]!;
        i = child;
      }
      heap[i] = last;
    }
    return top;
  }
}
