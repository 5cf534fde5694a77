/**
 * The order book ladder: asks above (best ask nearest the middle), the spread, bids below. A fixed
 * pool of rows, sized to the panel, updated in place once per animation frame at most, whatever the
 * rate of book updates: text only where it changed, depth bars by transform (no layout).
 */
import type { BookSide, OrderBook } from "../book.js";
import { el, setClass, setText } from "../dom.js";
import { fixed, grouped } from "../format.js";

interface Row {
  node: HTMLDivElement;
  price: HTMLSpanElement;
  quantity: HTMLSpanElement;
  total: HTMLSpanElement;
  bar: HTMLDivElement;
  mine: HTMLSpanElement;
  priceText: string;
}

const rowHeight = 19;

export class Ladder {
  readonly root: HTMLElement;
  private readonly asksBox: HTMLDivElement;
  private readonly bidsBox: HTMLDivElement;
  private readonly spreadPrice: HTMLSpanElement;
  private readonly spreadInfo: HTMLSpanElement;
  private asks: Row[] = [];
  private bids: Row[] = [];
  private rowsPerSide = 0;
  private drawnVersion = -1;
  private lotPlaces = 4;
  private tickPlaces = 2;
  private myPrices = new Set<string>();
  private lastPrice: string | null = null;
  private lastUp = true;
  private dirty = true;
  private empty: HTMLDivElement;

  constructor(
    private readonly book: OrderBook,
    onPick: (price: string, side: "buy" | "sell") => void,
  ) {
    this.asksBox = el("div", { class: "ladder-side asks", testid: "book-asks" });
    this.bidsBox = el("div", { class: "ladder-side bids", testid: "book-bids" });
    this.spreadPrice = el("span", { class: "spread-price", testid: "book-last" });
    this.spreadInfo = el("span", { class: "spread-info" });
    this.empty = el("div", { class: "ladder-empty", text: "No orders in the book yet" });
    this.root = el(
      "div",
      { class: "ladder", testid: "book" },
      el(
        "div",
        { class: "ladder-head" },
        el("span", { text: "Price" }),
        el("span", { text: "Size" }),
        el("span", { text: "Total" }),
      ),
      this.asksBox,
      el("div", { class: "ladder-spread" }, this.spreadPrice, this.spreadInfo),
      this.bidsBox,
      this.empty,
    );
    const pick = (event: MouseEvent): void => {
      const row = (event.target as HTMLElement).closest<HTMLElement>(".lrow");
      const price = row?.dataset.price;
      if (price !== undefined && price !== "")
        onPick(price, row!.parentElement === this.asksBox ? "buy" : "sell");
    };
    this.asksBox.addEventListener("click", pick);
    this.bidsBox.addEventListener("click", pick);
  }

  setMarket(tickPlaces: number, lotPlaces: number): void {
    this.tickPlaces = tickPlaces;
    this.lotPlaces = lotPlaces;
    this.lastPrice = null;
    this.dirty = true;
  }

  /** Prices where the logged-in account has open orders (marked in the ladder). */
  setMyPrices(prices: Set<string>): void {
    this.myPrices = prices;
    this.dirty = true;
  }

  setLast(price: string | null): void {
    if (price === this.lastPrice) return;
    if (price !== null && this.lastPrice !== null) this.lastUp = Number(price) >= Number(this.lastPrice);
    this.lastPrice = price;
    this.dirty = true;
  }

  /** Sizes the row pools to the panel's height. */
  resize(): void {
    const height = this.root.clientHeight;
    if (height === 0) return;
    const n = Math.max(4, Math.floor((height - 26 - 34) / rowHeight / 2));
    if (n === this.rowsPerSide) return;
    this.rowsPerSide = n;
    this.asks = this.buildRows(this.asksBox, n);
    this.bids = this.buildRows(this.bidsBox, n);
    this.dirty = true;
  }

  private buildRows(box: HTMLDivElement, n: number): Row[] {
    box.replaceChildren();
    const rows: Row[] = [];
    for (let i = 0; i < n; i++) {
      const bar = el("div", { class: "lbar" });
      const mine = el("span", { class: "lmine" });
      const price = el("span", { class: "lprice" });
      const quantity = el("span", { class: "lqty" });
      const total = el("span", { class: "ltotal" });
      const node = el("div", { class: "lrow" }, bar, mine, price, quantity, total);
      box.append(node);
      rows.push({ node, price, quantity, total, bar, mine, priceText: "" });
    }
    return rows;
  }

  render(): void {
    if (this.rowsPerSide === 0) this.resize();
    if (!this.dirty && this.drawnVersion === this.book.version) return;
    this.dirty = false;
    this.drawnVersion = this.book.version;
    const { bids, asks } = this.book;
    const n = this.rowsPerSide;
    // Depth bars scale to the larger cumulative total shown on either side.
    const askTotal = cumulative(asks, n);
    const bidTotal = cumulative(bids, n);
    const scale = Math.max(askTotal, bidTotal) || 1;
    // Asks: row 0 at the top holds the n-th best ask; the best ask sits just above the spread.
    let total = 0;
    for (let rank = 0; rank < n; rank++) {
      const level = asks.at(rank);
      if (level !== undefined) total += level.quantity;
      this.fill(
        this.asks[n - 1 - rank]!,
        level?.priceText,
        level?.quantityText,
        total,
        scale,
        level !== undefined,
      );
    }
    total = 0;
    for (let rank = 0; rank < n; rank++) {
      const level = bids.at(rank);
      if (level !== undefined) total += level.quantity;
      this.fill(this.bids[rank]!, level?.priceText, level?.quantityText, total, scale, level !== undefined);
    }
    const bestBid = bids.at(0);
    const bestAsk = asks.at(0);
    setText(this.spreadPrice, grouped(this.lastPrice ?? "—"));
    setClass(this.spreadPrice, `spread-price ${this.lastPrice === null ? "" : this.lastUp ? "up" : "down"}`);
    if (bestBid !== undefined && bestAsk !== undefined) {
      const spread = bestAsk.price - bestBid.price;
      const mid = (bestAsk.price + bestBid.price) / 2;
      setText(
        this.spreadInfo,
        `Spread ${fixed(spread, this.tickPlaces)} (${((spread / mid) * 1e4).toFixed(1)} bp)`,
      );
    } else setText(this.spreadInfo, "");
    this.empty.hidden = bids.size > 0 || asks.size > 0;
  }

  private fill(
    row: Row,
    price: string | undefined,
    quantity: string | undefined,
    total: number,
    scale: number,
    present: boolean,
  ): void {
    if (!present) {
      if (row.priceText !== "") {
        row.priceText = "";
        row.node.dataset.price = "";
        setText(row.price, "");
        setText(row.quantity, "");
        setText(row.total, "");
        setText(row.mine, "");
        row.bar.style.transform = "scaleX(0)";
      }
      return;
    }
    if (row.priceText !== price) {
      row.priceText = price!;
      row.node.dataset.price = price!;
      setText(row.price, grouped(price));
    }
    setText(row.quantity, quantity!);
    setText(row.total, total.toFixed(this.lotPlaces));
    setText(row.mine, this.myPrices.has(price!) ? "●" : "");
    row.bar.style.transform = `scaleX(${Math.min(1, total / scale).toFixed(4)})`;
  }
}

function cumulative(side: BookSide, n: number): number {
  let total = 0;
  const count = Math.min(n, side.size);
  for (let i = 0; i < count; i++) total += side.at(i)!.quantity;
  return total;
}
