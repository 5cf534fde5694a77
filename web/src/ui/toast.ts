/** Short notices in a corner (order results, errors), each gone after a few seconds. */
import { el } from "../dom.js";

export class Toasts {
  readonly root = el("div", { class: "toasts", testid: "toasts", attrs: { "aria-live": "polite" } });

  show(text: string, kind: "ok" | "error"): void {
    const node = el("div", { class: `toast ${kind}`, text });
    this.root.prepend(node);
    while (this.root.childElementCount > 4) this.root.lastElementChild!.remove();
    setTimeout(() => node.remove(), kind === "error" ? 7_000 : 4_000);
  }
}
