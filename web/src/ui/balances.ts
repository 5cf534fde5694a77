/** Balances of the account: available, locked (held by open orders) and total, per asset. */
import { addText } from "../decimal.js";
import { el } from "../dom.js";
import { grouped } from "../format.js";
import type { Balance } from "../types.js";

export class Balances {
  readonly root: HTMLElement;
  private readonly balances = new Map<string, Balance>();
  private readonly body: HTMLTableSectionElement;
  private readonly empty: HTMLDivElement;
  private dirty = true;
  onChange: () => void = () => {};

  constructor() {
    this.body = el("tbody");
    const head = el(
      "tr",
      {},
      el("th", { text: "Asset" }),
      el("th", { text: "Available" }),
      el("th", { text: "Locked" }),
    );
    this.empty = el("div", { class: "table-empty", text: "Log in to see balances" });
    this.root = el(
      "div",
      { class: "balances", testid: "balances" },
      el("table", { class: "grid compact" }, el("thead", {}, head), this.body),
      this.empty,
    );
  }

  get(asset: string): Balance | undefined {
    return this.balances.get(asset);
  }

  clear(): void {
    this.balances.clear();
    this.dirty = true;
    this.onChange();
  }

  load(list: readonly Balance[]): void {
    this.balances.clear();
    for (const b of list) this.balances.set(b.asset, b);
    this.dirty = true;
    this.onChange();
  }

  update(balance: Balance): void {
    this.balances.set(balance.asset, balance);
    this.dirty = true;
    this.onChange();
  }

  render(): void {
    if (!this.dirty) return;
    this.dirty = false;
    const rows = [...this.balances.values()]
      .sort((a, b) => a.asset.localeCompare(b.asset))
      .map((b) => {
        const row = el(
          "tr",
          { testid: "balance" },
          el("td", { text: b.asset, class: "asset" }),
          el("td", { text: grouped(b.available) }),
          el("td", { text: grouped(b.locked), class: "muted" }),
        );
        row.title = `Total ${grouped(addText(b.available, b.locked))} ${b.asset}`;
        row.dataset.asset = b.asset;
        return row;
      });
    this.body.replaceChildren(...rows);
    this.empty.hidden = rows.length > 0;
  }
}
