/** The trades tape: the market's latest trades, newest on top, coloured by the taker's side. */
import { el, setClass, setText } from "../dom.js";
import { clock, grouped } from "../format.js";
import type { Trade } from "../types.js";

const keep = 60;

interface Row {
  node: HTMLDivElement;
  price: HTMLSpanElement;
  quantity: HTMLSpanElement;
  time: HTMLSpanElement;
  id: string;
}

export class Tape {
  readonly root: HTMLElement;
  private readonly trades: Trade[] = [];
  private readonly ids = new Set<string>();
  private readonly rows: Row[] = [];
  private dirty = true;

  constructor() {
    const body = el("div", { class: "tape-body", testid: "trades" });
    for (let i = 0; i < keep; i++) {
      const price = el("span", { class: "tprice" });
      const quantity = el("span", { class: "tqty" });
      const time = el("span", { class: "ttime" });
      const node = el("div", { class: "trow" }, price, quantity, time);
      node.hidden = true;
      body.append(node);
      this.rows.push({ node, price, quantity, time, id: "" });
    }
    this.root = el(
      "div",
      { class: "tape" },
      el(
        "div",
        { class: "tape-head" },
        el("span", { text: "Price" }),
        el("span", { text: "Size" }),
        el("span", { text: "Time" }),
      ),
      body,
    );
  }

  clear(): void {
    this.trades.length = 0;
    this.ids.clear();
    this.dirty = true;
  }

  /** Trades in any order (REST pages come newest first, WebSocket messages oldest first). */
  add(trades: readonly Trade[]): void {
    let added = false;
    for (const t of trades) {
      if (this.ids.has(t.tradeId)) continue;
      this.ids.add(t.tradeId);
      this.trades.push(t);
      added = true;
    }
    if (!added) return;
    this.trades.sort((a, b) => b.time - a.time || Number(b.tradeId) - Number(a.tradeId));
    while (this.trades.length > keep) this.ids.delete(this.trades.pop()!.tradeId);
    this.dirty = true;
  }

  render(): void {
    if (!this.dirty) return;
    this.dirty = false;
    for (let i = 0; i < keep; i++) {
      const row = this.rows[i]!;
      const t = this.trades[i];
      if (t === undefined) {
        row.node.hidden = true;
        row.id = "";
        continue;
      }
      row.node.hidden = false;
      if (row.id === t.tradeId) continue;
      row.id = t.tradeId;
      row.node.dataset.tradeId = t.tradeId;
      setText(row.price, grouped(t.price));
      setClass(row.price, `tprice ${t.takerSide === "buy" ? "up" : "down"}`);
      setText(row.quantity, t.quantity);
      setText(row.time, clock(t.time));
    }
  }
}
