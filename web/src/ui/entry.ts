/**
 * Order entry: side, type (limit, market, stop limit, stop market), stop price, limit price,
 * quantity (or, for market buys, an amount of the quote asset), time in force (GTD with an expiry),
 * post-only. Validated against the market's tick and lot before anything is sent (src/validate.ts).
 */
import { formatDec, mulDec, parseDec } from "../decimal.js";
import { el, setText } from "../dom.js";
import { grouped, titleCase } from "../format.js";
import type { Balance, Market, Order, OrderType, PlaceOrder, Side, TimeInForce } from "../types.js";
import {
  type FormField,
  hasLimitPrice,
  hasStopPrice,
  isMarketLike,
  timesInForceFor,
  validateOrder,
} from "../validate.js";

export interface EntryContext {
  loggedIn(): boolean;
  balance(asset: string): Balance | undefined;
  quotePrecision(asset: string): number;
  place(order: PlaceOrder): Promise<Order>;
  login(): void;
  now(): number;
}

function field(label: string, input: HTMLElement, unit?: HTMLElement): HTMLLabelElement {
  return el("label", { class: "field" }, el("span", { class: "field-label", text: label }), input, unit);
}

function describe(order: Order): string {
  const filled = order.filledQuantity.replace(/^0\.?0*$/, "0");
  const what = `${titleCase(order.side)} ${order.quantity} ${order.symbol}`;
  switch (order.status) {
    case "filled":
      return `${what} filled at ${order.averagePrice ?? order.price ?? "market"}`;
    case "partially_filled":
      return `${what}: ${order.filledQuantity} filled, rest open`;
    case "open":
      return `${what} at ${order.price} placed (order ${order.orderId})`;
    case "untriggered":
      return `${what} waits for stop ${order.stopPrice} (order ${order.orderId})`;
    case "expired":
      return `${what} expired${filled === "0" ? " with nothing filled" : `, ${order.filledQuantity} filled`}`;
    case "cancelled":
      return `${what} cancelled (${order.filledQuantity} filled)`;
  }
}

export class OrderEntry {
  readonly root: HTMLElement;
  private market: Market | null = null;
  private side: Side = "buy";
  private readonly buyTab: HTMLButtonElement;
  private readonly sellTab: HTMLButtonElement;
  private readonly type: HTMLSelectElement;
  private readonly price: HTMLInputElement;
  private readonly stopPrice: HTMLInputElement;
  private readonly quantity: HTMLInputElement;
  private readonly quoteQuantity: HTMLInputElement;
  private readonly byQuote: HTMLInputElement;
  private readonly tif: HTMLSelectElement;
  private readonly expire: HTMLInputElement;
  private readonly postOnly: HTMLInputElement;
  private readonly submit: HTMLButtonElement;
  private readonly message: HTMLDivElement;
  private readonly summary: HTMLDivElement;
  private readonly available: HTMLDivElement;
  private readonly rows: Record<
    "price" | "stopPrice" | "quantity" | "quoteQuantity" | "byQuote" | "expire" | "postOnly",
    HTMLElement
  >;
  private readonly units: {
    price: HTMLSpanElement;
    stop: HTMLSpanElement;
    qty: HTMLSpanElement;
    quote: HTMLSpanElement;
  };
  private busy = false;

  constructor(private readonly ctx: EntryContext) {
    this.buyTab = el("button", {
      class: "side-tab buy active",
      text: "Buy",
      testid: "side-buy",
      type: "button",
    });
    this.sellTab = el("button", {
      class: "side-tab sell",
      text: "Sell",
      testid: "side-sell",
      type: "button",
    });
    this.buyTab.addEventListener("click", () => this.setSide("buy"));
    this.sellTab.addEventListener("click", () => this.setSide("sell"));

    this.type = el("select", { testid: "entry-type" });
    for (const t of ["limit", "market", "stop_limit", "stop_market"] as OrderType[]) {
      this.type.append(el("option", { value: t, text: titleCase(t) }));
    }
    const input = (testid: string, placeholder: string): HTMLInputElement =>
      el("input", {
        type: "text",
        testid,
        placeholder,
        attrs: { inputmode: "decimal", autocomplete: "off", spellcheck: "false" },
      });
    this.price = input("entry-price", "0.00");
    this.stopPrice = input("entry-stop-price", "0.00");
    this.quantity = input("entry-quantity", "0.0000");
    this.quoteQuantity = input("entry-quote-quantity", "0.00");
    this.byQuote = el("input", { type: "checkbox", testid: "entry-by-quote" });
    this.tif = el("select", { testid: "entry-tif" });
    this.expire = el("input", { type: "datetime-local", testid: "entry-expire" });
    this.postOnly = el("input", { type: "checkbox", testid: "entry-post-only" });
    this.units = {
      price: el("span", { class: "unit" }),
      stop: el("span", { class: "unit" }),
      qty: el("span", { class: "unit" }),
      quote: el("span", { class: "unit" }),
    };
    this.rows = {
      stopPrice: field("Stop price", this.stopPrice, this.units.stop),
      price: field("Limit price", this.price, this.units.price),
      quantity: field("Quantity", this.quantity, this.units.qty),
      quoteQuantity: field("Amount", this.quoteQuantity, this.units.quote),
      byQuote: el(
        "label",
        { class: "check" },
        this.byQuote,
        el("span", { text: "Spend an amount of the quote asset" }),
      ),
      expire: field("Expires", this.expire),
      postOnly: el(
        "label",
        { class: "check" },
        this.postOnly,
        el("span", { text: "Post-only (maker only)" }),
      ),
    };
    this.summary = el("div", { class: "entry-summary", testid: "entry-summary" });
    this.available = el("div", { class: "entry-available", testid: "entry-available" });
    this.submit = el("button", { class: "submit buy", type: "submit", testid: "entry-submit" });
    this.message = el("div", { class: "entry-message", testid: "entry-message", attrs: { role: "status" } });

    const form = el(
      "form",
      { class: "entry", attrs: { novalidate: "", autocomplete: "off" } },
      el("div", { class: "side-tabs" }, this.buyTab, this.sellTab),
      field("Type", this.type),
      this.rows.stopPrice,
      this.rows.price,
      this.rows.quantity,
      this.rows.quoteQuantity,
      this.rows.byQuote,
      el("div", { class: "field-pair" }, field("Time in force", this.tif), this.rows.expire),
      this.rows.postOnly,
      this.available,
      this.summary,
      this.submit,
      this.message,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.send();
    });
    const refresh = (): void => this.refresh();
    for (const node of [this.type, this.byQuote, this.tif, this.postOnly])
      node.addEventListener("change", refresh);
    for (const node of [this.price, this.stopPrice, this.quantity, this.quoteQuantity]) {
      node.addEventListener("input", () => {
        node.classList.remove("invalid");
        this.updateSummary();
      });
    }
    this.root = form;
    this.refresh();
  }

  setMarket(market: Market): void {
    const changed = this.market?.symbol !== market.symbol;
    this.market = market;
    if (changed) {
      this.price.value = "";
      this.stopPrice.value = "";
      this.quantity.value = "";
      this.quoteQuantity.value = "";
      this.showMessage("", "");
    }
    setText(this.units.price, market.quote);
    setText(this.units.stop, market.quote);
    setText(this.units.qty, market.base);
    setText(this.units.quote, market.quote);
    this.price.placeholder = `tick ${market.tickSize}`;
    this.stopPrice.placeholder = `tick ${market.tickSize}`;
    this.quantity.placeholder = `lot ${market.lotSize}`;
    this.refresh();
  }

  /** A price picked in the ladder: fill it in, take the opposite side of the level clicked. */
  pick(price: string, side: Side): void {
    this.price.value = price;
    this.price.classList.remove("invalid");
    if (isMarketLike(this.type.value as OrderType)) this.type.value = "limit";
    this.setSide(side);
  }

  private setSide(side: Side): void {
    this.side = side;
    this.buyTab.classList.toggle("active", side === "buy");
    this.sellTab.classList.toggle("active", side === "sell");
    this.refresh();
  }

  /** Shows the fields the current type needs; called on every change of side, type or login. */
  refresh(): void {
    const type = this.type.value as OrderType;
    const market = this.market;
    const byQuoteAllowed = this.side === "buy" && isMarketLike(type);
    const byQuote = byQuoteAllowed && this.byQuote.checked;
    this.rows.stopPrice.hidden = !hasStopPrice(type);
    this.rows.price.hidden = !hasLimitPrice(type);
    this.rows.byQuote.hidden = !byQuoteAllowed;
    this.rows.quantity.hidden = byQuote;
    this.rows.quoteQuantity.hidden = !byQuote;
    const allowed = timesInForceFor(type, byQuote);
    const current = this.tif.value as TimeInForce;
    this.tif.replaceChildren(...allowed.map((t) => el("option", { value: t, text: t })));
    this.tif.value = allowed.includes(current) ? current : allowed[0]!;
    const tif = this.tif.value as TimeInForce;
    this.rows.expire.hidden = tif !== "GTD";
    if (tif === "GTD" && this.expire.value === "")
      this.expire.value = localInputValue(this.ctx.now() + 3_600_000);
    const postOnlyAllowed = type === "limit" && (tif === "GTC" || tif === "GTD");
    this.rows.postOnly.hidden = !postOnlyAllowed;
    if (!postOnlyAllowed) this.postOnly.checked = false;
    const base = market?.base ?? "";
    if (!this.ctx.loggedIn()) {
      setText(this.submit, "Log in to trade");
      this.submit.className = "submit neutral";
    } else {
      setText(this.submit, `${this.side === "buy" ? "Buy" : "Sell"} ${base}`);
      this.submit.className = `submit ${this.side}`;
    }
    this.submit.disabled = this.busy || market === null;
    this.updateSummary();
  }

  /** Available balance of the asset the order would spend, and the order's value and fee. */
  updateSummary(): void {
    const market = this.market;
    if (market === null) return;
    const spend = this.side === "buy" ? market.quote : market.base;
    const balance = this.ctx.balance(spend);
    setText(
      this.available,
      this.ctx.loggedIn()
        ? `Available ${balance === undefined ? "0" : grouped(balance.available)} ${spend}`
        : "",
    );
    const type = this.type.value as OrderType;
    const price = parseDec(this.price.value.trim());
    const quantity = parseDec(this.quantity.value.trim());
    if (hasLimitPrice(type) && price !== null && quantity !== null && !this.rows.quantity.hidden) {
      const places = this.ctx.quotePrecision(market.quote);
      const notional = mulDec(price, quantity);
      const feeBps = Math.max(market.makerFeeBps, market.takerFeeBps);
      const fee = { digits: (notional.digits * BigInt(feeBps) + 9_999n) / 10_000n, scale: notional.scale };
      setText(
        this.summary,
        `Value ${grouped(formatDec(notional, Math.min(places, notional.scale)))} ${market.quote} · fee ≤ ${grouped(
          formatDec(fee, Math.min(places, fee.scale)),
        )}`,
      );
    } else setText(this.summary, `Fees: maker ${market.makerFeeBps} bp, taker ${market.takerFeeBps} bp`);
  }

  private showMessage(text: string, kind: "" | "ok" | "error"): void {
    setText(this.message, text);
    this.message.className = `entry-message ${kind}`;
  }

  private async send(): Promise<void> {
    const market = this.market;
    if (market === null || this.busy) return;
    if (!this.ctx.loggedIn()) {
      this.ctx.login();
      return;
    }
    for (const node of [this.price, this.stopPrice, this.quantity, this.quoteQuantity])
      node.classList.remove("invalid");
    const expire = this.expire.value === "" ? null : new Date(this.expire.value).getTime();
    const result = validateOrder(
      market,
      this.ctx.quotePrecision(market.quote),
      {
        side: this.side,
        type: this.type.value as OrderType,
        price: this.price.value,
        stopPrice: this.stopPrice.value,
        quantity: this.quantity.value,
        byQuote: this.byQuote.checked,
        quoteQuantity: this.quoteQuantity.value,
        timeInForce: this.tif.value as TimeInForce,
        expireTime: expire === null || Number.isNaN(expire) ? null : expire,
        postOnly: this.postOnly.checked,
      },
      this.ctx.now(),
    );
    if (!result.ok) {
      this.markInvalid(result.field);
      this.showMessage(result.error, "error");
      return;
    }
    this.busy = true;
    this.refresh();
    this.showMessage("Sending…", "");
    try {
      const order = await this.ctx.place(result.order);
      this.showMessage(describe(order), "ok");
    } catch (error) {
      const e = error as { code?: string; message?: string };
      this.showMessage(`${e.code ?? "ERROR"}: ${e.message ?? String(error)}`, "error");
    } finally {
      this.busy = false;
      this.refresh();
    }
  }

  private markInvalid(field: FormField): void {
    const node: Partial<Record<FormField, HTMLElement>> = {
      price: this.price,
      stopPrice: this.stopPrice,
      quantity: this.quantity,
      quoteQuantity: this.quoteQuantity,
      timeInForce: this.tif,
      postOnly: this.postOnly,
    };
    node[field]?.classList.add("invalid");
    node[field]?.focus();
  }
}

/** A time as the value of an <input type="datetime-local"> (local time, minutes). */
function localInputValue(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}
