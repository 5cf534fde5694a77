/**
 * The login dialog: an API key and its secret. Both stay in this browser: the secret is imported as
 * a non-extractable WebCrypto key to sign requests, and is written to sessionStorage (this tab only,
 * gone when it closes) only if "remember" is ticked. Nothing is ever sent but signatures.
 */
import { el, setText } from "../dom.js";

export class LoginDialog {
  readonly root: HTMLDialogElement;
  private readonly key: HTMLInputElement;
  private readonly secret: HTMLInputElement;
  private readonly remember: HTMLInputElement;
  private readonly error: HTMLDivElement;
  private readonly submit: HTMLButtonElement;

  constructor(
    private readonly onLogin: (apiKey: string, apiSecret: string, remember: boolean) => Promise<void>,
  ) {
    this.key = el("input", {
      type: "text",
      testid: "login-key",
      placeholder: "bk_…",
      attrs: { autocomplete: "username", spellcheck: "false", required: "" },
    });
    this.secret = el("input", {
      type: "password",
      testid: "login-secret",
      placeholder: "64 hex characters",
      attrs: { autocomplete: "current-password", spellcheck: "false", required: "" },
    });
    this.remember = el("input", { type: "checkbox", testid: "login-remember" });
    this.remember.checked = true;
    this.error = el("div", { class: "entry-message error", testid: "login-error", attrs: { role: "alert" } });
    this.submit = el("button", {
      class: "submit neutral",
      type: "submit",
      text: "Log in",
      testid: "login-submit",
    });
    const cancel = el("button", { class: "link", type: "button", text: "Cancel" });
    cancel.addEventListener("click", () => this.root.close());
    const form = el(
      "form",
      { class: "login-form", attrs: { method: "dialog" } },
      el("h2", { text: "Log in with an API key" }),
      el(
        "p",
        { class: "muted" },
        "Requests are signed in this browser with HMAC-SHA256. The secret never leaves it and is kept, if at all, only for this tab.",
      ),
      el("label", { class: "field" }, el("span", { class: "field-label", text: "API key" }), this.key),
      el("label", { class: "field" }, el("span", { class: "field-label", text: "API secret" }), this.secret),
      el(
        "label",
        { class: "check" },
        this.remember,
        el("span", { text: "Remember in this tab (sessionStorage)" }),
      ),
      this.error,
      el("div", { class: "dialog-actions" }, cancel, this.submit),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.send();
    });
    this.root = el("dialog", { class: "login", testid: "login-dialog" }, form);
  }

  open(): void {
    setText(this.error, "");
    this.secret.value = "";
    if (!this.root.open) this.root.showModal();
    (this.key.value === "" ? this.key : this.secret).focus();
  }

  private async send(): Promise<void> {
    const apiKey = this.key.value.trim();
    const apiSecret = this.secret.value.trim();
    if (apiKey === "" || apiSecret === "") {
      setText(this.error, "Enter both the API key and the secret");
      return;
    }
    this.submit.disabled = true;
    setText(this.error, "");
    try {
      await this.onLogin(apiKey, apiSecret, this.remember.checked);
      this.secret.value = "";
      this.root.close();
    } catch (error) {
      setText(this.error, (error as Error).message);
    } finally {
      this.submit.disabled = false;
    }
  }
}
