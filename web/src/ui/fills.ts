/**
 * Fills history: GET /v1/fills pages (newest first, `nextCursor` for the next older page), plus the
 * fills the `orders` channel reports live, merged without duplicates.
 */
import { el } from "../dom.js";
import { dateTime, grouped, titleCase } from "../format.js";
import type { AccountFill } from "../types.js";

export interface FillsContext {
  page(cursor: string | undefined): Promise<{ fills: AccountFill[]; nextCursor?: string }>;
  notify(text: string, kind: "ok" | "error"): void;
  /** Something to draw (a page arrived). */
  changed(): void;
}

const columns = ["Time", "Market", "Side", "Price", "Quantity", "Fee", "Liquidity", "Order", "Trade"];
const keyOf = (f: AccountFill): string => `${f.tradeId}:${f.orderId}`;

export class FillsHistory {
  readonly root: HTMLElement;
  private readonly fills: AccountFill[] = [];
  private readonly keys = new Set<string>();
  private cursor: string | undefined;
  /** False until the first page is loaded; then whether an older page exists. */
  private loaded = false;
  private loading = false;
  /** A load of the next older page is queued (its cursor is read when it runs). */
  private olderQueued = false;
  /** Bumped by clear(): loads started before are dropped. */
  private generation = 0;
  private queue: Promise<void> = Promise.resolve();
  private readonly body: HTMLTableSectionElement;
  private readonly more: HTMLButtonElement;
  private readonly empty: HTMLDivElement;
  private dirty = true;

  constructor(private readonly ctx: FillsContext) {
    this.body = el("tbody");
    const head = el("tr");
    for (const c of columns) head.append(el("th", { text: c }));
    this.more = el("button", {
      class: "link",
      text: "Load older fills",
      testid: "fills-more",
      type: "button",
    });
    this.more.addEventListener("click", () => {
      if (this.olderQueued || this.cursor === undefined) return;
      this.olderQueued = true;
      void this.loadPage("older");
    });
    this.empty = el("div", { class: "table-empty", text: "No fills yet" });
    this.root = el(
      "div",
      { class: "table-wrap", testid: "fills" },
      el("table", { class: "grid" }, el("thead", {}, head), this.body),
      this.empty,
      el("div", { class: "table-foot" }, this.more),
    );
  }

  clear(): void {
    this.fills.length = 0;
    this.keys.clear();
    this.cursor = undefined;
    this.loaded = false;
    this.generation++;
    this.dirty = true;
  }

  /** The first page (again, after a reconnect: what was missed merges in). */
  async refresh(): Promise<void> {
    await this.loadPage("first");
  }

  /** Pages load one after the other: a click on "older" during a refresh waits for it. */
  private loadPage(kind: "first" | "older"): Promise<void> {
    const generation = this.generation;
    const next = this.queue.then(async () => {
      if (generation !== this.generation || (kind === "older" && this.cursor === undefined)) {
        if (kind === "older") this.olderQueued = false;
        return;
      }
      this.loading = true;
      this.dirty = true;
      this.ctx.changed();
      try {
        const page = await this.ctx.page(kind === "older" ? this.cursor : undefined);
        if (generation !== this.generation) return;
        this.add(page.fills);
        // A new first page (after a reconnect) leaves the cursor of older pages already loaded alone.
        if (kind === "older" || !this.loaded) this.cursor = page.nextCursor;
        this.loaded = true;
      } catch (error) {
        const e = error as Error & { code?: string };
        this.ctx.notify(`Fills: ${e.code ?? "ERROR"}: ${e.message}`, "error");
      } finally {
        this.loading = false;
        if (kind === "older") this.olderQueued = false;
        this.dirty = true;
        this.ctx.changed();
      }
    });
    this.queue = next;
    return next;
  }

  add(fills: readonly AccountFill[]): void {
    let added = false;
    for (const f of fills) {
      const key = keyOf(f);
      if (this.keys.has(key)) continue;
      this.keys.add(key);
      this.fills.push(f);
      added = true;
    }
    if (!added) return;
    this.fills.sort((a, b) => b.time - a.time || Number(b.tradeId) - Number(a.tradeId));
    this.dirty = true;
  }

  render(): void {
    if (!this.dirty) return;
    this.dirty = false;
    const rows: HTMLTableRowElement[] = [];
    for (const f of this.fills) {
      const side = el("td", { text: titleCase(f.side), class: f.side === "buy" ? "up" : "down" });
      const row = el(
        "tr",
        { testid: "fill" },
        el("td", { text: dateTime(f.time) }),
        el("td", { text: f.symbol }),
        side,
        el("td", { text: grouped(f.price) }),
        el("td", { text: f.quantity }),
        el("td", { text: `${f.fee} ${f.feeAsset}` }),
        el("td", { text: titleCase(f.liquidity) }),
        el("td", { text: f.orderId }),
        el("td", { text: f.tradeId }),
      );
      row.dataset.tradeId = f.tradeId;
      rows.push(row);
    }
    this.body.replaceChildren(...rows);
    this.empty.hidden = this.fills.length > 0 || this.loading;
    this.more.hidden = !this.loaded || this.cursor === undefined;
    this.more.disabled = this.loading || this.olderQueued;
  }
}
