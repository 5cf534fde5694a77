/**
 * Open orders of the account (every market): cancel, and amend in place (PATCH /v1/orders/{id} with a
 * new price and/or quantity, checked against tick and lot first). Fed by GET /v1/orders at login and
 * reconnect, then by the `orders` channel.
 */
import { checkUnits, compareDec, parseDec } from "../decimal.js";
import { el, setText } from "../dom.js";
import { dateTime, grouped, titleCase } from "../format.js";
import { isOpenStatus, type Market, type Order } from "../types.js";

export interface OrdersContext {
  market(symbol: string): Market | undefined;
  cancel(orderId: string): Promise<unknown>;
  amend(orderId: string, body: { price?: string; quantity?: string }): Promise<unknown>;
  cancelAll(symbol: string | undefined): Promise<unknown>;
  notify(text: string, kind: "ok" | "error"): void;
}

interface RowView {
  order: Order;
  node: HTMLTableRowElement;
  cells: HTMLTableCellElement[];
  editing: boolean;
  priceInput?: HTMLInputElement;
  quantityInput?: HTMLInputElement;
}

const columns = [
  "Time",
  "Market",
  "Side",
  "Type",
  "Price",
  "Stop",
  "Quantity",
  "Filled",
  "TIF",
  "Status",
  "",
];

export class OpenOrders {
  readonly root: HTMLElement;
  private readonly orders = new Map<string, Order>();
  /** Orders seen closed on the channel: a REST list fetched earlier must not bring them back. */
  private readonly closed = new Set<string>();
  /** Orders the channel changed since the last beginLoad. */
  private readonly touched = new Set<string>();
  private readonly rows = new Map<string, RowView>();
  private readonly body: HTMLTableSectionElement;
  private readonly empty: HTMLDivElement;
  private readonly cancelAllButton: HTMLButtonElement;
  private dirty = true;
  onCount: (count: number) => void = () => {};

  constructor(private readonly ctx: OrdersContext) {
    this.body = el("tbody");
    const head = el("tr");
    for (const c of columns) head.append(el("th", { text: c }));
    this.empty = el("div", { class: "table-empty", text: "No open orders" });
    const cancelAll = el("button", {
      class: "link danger",
      text: "Cancel all",
      testid: "cancel-all",
      type: "button",
    });
    cancelAll.addEventListener("click", () => {
      if (this.orders.size === 0) return;
      this.ctx.cancelAll(undefined).then(
        () => this.ctx.notify("All open orders cancelled", "ok"),
        (e: Error & { code?: string }) => this.ctx.notify(`${e.code ?? "ERROR"}: ${e.message}`, "error"),
      );
    });
    this.root = el(
      "div",
      { class: "table-wrap", testid: "open-orders" },
      el("table", { class: "grid" }, el("thead", {}, head), this.body),
      this.empty,
      el("div", { class: "table-foot" }, cancelAll),
    );
    this.cancelAllButton = cancelAll;
  }

  get count(): number {
    return this.orders.size;
  }

  /** Prices of open orders in one market (for the ladder's markers). */
  pricesIn(symbol: string): Set<string> {
    const prices = new Set<string>();
    for (const o of this.orders.values()) {
      // An untriggered stop is not in the book yet.
      if (o.symbol === symbol && o.price !== undefined && o.status !== "untriggered") prices.add(o.price);
    }
    return prices;
  }

  clear(): void {
    this.orders.clear();
    this.closed.clear();
    this.dirty = true;
  }

  /** Before a REST listing is requested: remember what the channel changes meanwhile. */
  beginLoad(): void {
    this.touched.clear();
  }

  /**
   * A REST listing: replaces what is known, except orders the channel changed since beginLoad (their
   * channel state is newer than the listing, whichever arrived first).
   */
  load(list: readonly Order[]): void {
    const fresh = new Map<string, Order>();
    for (const o of list) {
      if (isOpenStatus(o.status) && !this.touched.has(o.orderId) && !this.closed.has(o.orderId)) {
        fresh.set(o.orderId, o);
      }
    }
    for (const id of this.touched) {
      const o = this.orders.get(id);
      if (o !== undefined) fresh.set(id, o);
    }
    this.orders.clear();
    for (const [id, o] of fresh) this.orders.set(id, o);
    this.dirty = true;
  }

  /** An `orders` channel message (or the reply to a place/amend/cancel). */
  update(order: Order): void {
    if (this.touched.size < 100_000) this.touched.add(order.orderId);
    const known = this.orders.get(order.orderId);
    if (known !== undefined && known.updatedAt > order.updatedAt) return;
    if (isOpenStatus(order.status)) {
      if (this.closed.has(order.orderId)) return;
      this.orders.set(order.orderId, order);
    } else {
      this.orders.delete(order.orderId);
      this.closed.add(order.orderId);
      if (this.closed.size > 5_000) this.closed.delete(this.closed.values().next().value!);
    }
    this.dirty = true;
  }

  render(): void {
    if (!this.dirty) return;
    this.dirty = false;
    const sorted = [...this.orders.values()].sort(
      (a, b) => b.createdAt - a.createdAt || Number(b.orderId) - Number(a.orderId),
    );
    for (const [id, row] of this.rows) {
      if (!this.orders.has(id)) {
        row.node.remove();
        this.rows.delete(id);
      }
    }
    let previous: HTMLTableRowElement | null = null;
    for (const order of sorted) {
      let row = this.rows.get(order.orderId);
      if (row === undefined) {
        row = this.buildRow(order);
        this.rows.set(order.orderId, row);
      }
      row.order = order;
      if (!row.editing) this.fillRow(row);
      const expected: ChildNode | null = previous === null ? this.body.firstChild : previous.nextSibling;
      if (expected !== row.node) this.body.insertBefore(row.node, expected);
      previous = row.node;
    }
    this.empty.hidden = this.orders.size > 0;
    this.cancelAllButton.hidden = this.orders.size === 0;
    this.onCount(this.orders.size);
  }

  private buildRow(order: Order): RowView {
    const cells = columns.map(() => el("td"));
    const node = el("tr", { testid: "open-order" }, ...cells);
    node.dataset.orderId = order.orderId;
    return { order, node, cells, editing: false };
  }

  private fillRow(row: RowView): void {
    const o = row.order;
    const c = row.cells;
    setText(c[0]!, dateTime(o.createdAt));
    setText(c[1]!, o.symbol);
    setText(c[2]!, titleCase(o.side));
    c[2]!.className = o.side === "buy" ? "up" : "down";
    setText(c[3]!, titleCase(o.type));
    setText(c[4]!, o.price === undefined ? "market" : grouped(o.price));
    c[4]!.dataset.testid = "order-price";
    setText(c[5]!, o.stopPrice === undefined ? "" : grouped(o.stopPrice));
    setText(c[6]!, o.quantity);
    c[6]!.dataset.testid = "order-quantity";
    setText(c[7]!, o.filledQuantity);
    setText(c[8]!, o.timeInForce);
    setText(c[9]!, titleCase(o.status));
    const actions = c[10]!;
    actions.className = "actions";
    actions.replaceChildren();
    if (o.type === "limit" || o.type === "stop_limit") {
      const amend = el("button", { class: "link", text: "Amend", testid: "amend", type: "button" });
      amend.addEventListener("click", () => this.startEdit(row));
      actions.append(amend);
    }
    const cancel = el("button", { class: "link danger", text: "Cancel", testid: "cancel", type: "button" });
    cancel.addEventListener("click", () => {
      cancel.disabled = true;
      this.ctx.cancel(o.orderId).then(
        () => this.ctx.notify(`Order ${o.orderId} cancelled`, "ok"),
        (e: Error & { code?: string }) => {
          cancel.disabled = false;
          this.ctx.notify(`${e.code ?? "ERROR"}: ${e.message}`, "error");
        },
      );
    });
    actions.append(cancel);
  }

  private startEdit(row: RowView): void {
    row.editing = true;
    const o = row.order;
    const price = el("input", { class: "cell-input", value: o.price ?? "", testid: "amend-price" });
    const quantity = el("input", { class: "cell-input", value: o.quantity, testid: "amend-quantity" });
    row.priceInput = price;
    row.quantityInput = quantity;
    row.cells[4]!.replaceChildren(price);
    row.cells[6]!.replaceChildren(quantity);
    const save = el("button", { class: "link", text: "Save", testid: "amend-save", type: "button" });
    const discard = el("button", { class: "link", text: "Discard", type: "button" });
    const stop = (): void => {
      row.editing = false;
      this.fillRow(row);
    };
    discard.addEventListener("click", stop);
    const submit = (): void => {
      const body = this.amendment(row);
      if (body === null) return;
      if (Object.keys(body).length === 0) return stop();
      save.disabled = true;
      this.ctx.amend(o.orderId, body).then(
        () => {
          this.ctx.notify(`Order ${o.orderId} amended`, "ok");
          stop();
          this.dirty = true;
        },
        (e: Error & { code?: string }) => {
          save.disabled = false;
          this.ctx.notify(`${e.code ?? "ERROR"}: ${e.message}`, "error");
        },
      );
    };
    save.addEventListener("click", submit);
    for (const input of [price, quantity]) {
      input.addEventListener("keydown", (event) => {
        if (event.key === "Enter") submit();
        if (event.key === "Escape") stop();
      });
    }
    row.cells[10]!.replaceChildren(save, discard);
    price.focus();
    price.select();
  }

  /** The PATCH body (only what changed), or null after telling the user what is wrong. */
  private amendment(row: RowView): { price?: string; quantity?: string } | null {
    const o = row.order;
    const market = this.ctx.market(o.symbol);
    if (market === undefined) return null;
    const body: { price?: string; quantity?: string } = {};
    const p = checkUnits("Price", row.priceInput!.value, market.tickSize);
    if (p.text === null) {
      row.priceInput!.classList.add("invalid");
      this.ctx.notify(p.error!, "error");
      return null;
    }
    if (o.price === undefined || compareDec(p.value!, parseDec(o.price)!) !== 0) body.price = p.text;
    const q = checkUnits("Quantity", row.quantityInput!.value, market.lotSize);
    if (q.text === null) {
      row.quantityInput!.classList.add("invalid");
      this.ctx.notify(q.error!, "error");
      return null;
    }
    if (compareDec(q.value!, parseDec(o.filledQuantity)!) <= 0) {
      row.quantityInput!.classList.add("invalid");
      this.ctx.notify(`Quantity must exceed the filled ${o.filledQuantity}`, "error");
      return null;
    }
    if (compareDec(q.value!, parseDec(o.quantity)!) !== 0) body.quantity = q.text;
    return body;
  }
}
