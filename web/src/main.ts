/**
 * The Bourse dashboard: one page, DOM + canvas, talking to the API of the server that serves it.
 *
 *   REST (src/api.ts)       markets, assets, candles, trades, book resyncs; signed account requests
 *   WebSocket (socket.ts)   book (snapshot + sequenced updates), trades, ticker; after `auth`, orders
 *                           and balances of the account
 *   book.ts                 the book replica and its sequence/gap/resync rule
 *   ui/*                    one component per panel; each draws at most once per animation frame
 */
import "./style.css";
import { Api, type Credentials, credentialsOf, RequestError, serverNow } from "./api.js";
import { BookSync } from "./book.js";
import { placesOf } from "./decimal.js";
import { el, setText } from "./dom.js";
import { compact, grouped } from "./format.js";
import { signingAvailable, wsAuthMessage } from "./sign.js";
import { Socket } from "./socket.js";
import type {
  AccountFill,
  Asset,
  Balance,
  BookSnapshot,
  Candle,
  Market,
  Order,
  PlaceOrder,
  ServerPush,
  Ticker,
  Trade,
} from "./types.js";
import { Balances } from "./ui/balances.js";
import { CandleChart, type Interval } from "./ui/chart.js";
import { DepthChart } from "./ui/depth.js";
import { OrderEntry } from "./ui/entry.js";
import { FillsHistory } from "./ui/fills.js";
import { Ladder } from "./ui/ladder.js";
import { LoginDialog } from "./ui/login.js";
import { OpenOrders } from "./ui/orders.js";
import { Tape } from "./ui/tape.js";
import { Toasts } from "./ui/toast.js";

const storageKey = "bourse.credentials";
type Connection = "connecting" | "live" | "reconnecting" | "resyncing";
const connectionLabels: Record<Connection, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  resyncing: "Resyncing book…",
};

interface Session {
  apiKey: string;
  credentials: Credentials;
  accountId: string | null;
}

class Dashboard {
  private readonly api = new Api();
  private markets: Market[] = [];
  private readonly quotePlaces = new Map<string, number>();
  private symbol = "";
  private market: Market | null = null;
  private marketGeneration = 0;
  private interval: Interval = "1m";
  private readonly tickers = new Map<string, Ticker>();
  private session: Session | null = null;
  private frameRequested = false;

  private readonly sync: BookSync;
  private readonly socket: Socket;
  private readonly ladder: Ladder;
  private readonly depth: DepthChart;
  private readonly chart: CandleChart;
  private readonly tape = new Tape();
  private readonly entry: OrderEntry;
  private readonly orders: OpenOrders;
  private readonly fills: FillsHistory;
  private readonly balances = new Balances();
  private readonly login: LoginDialog;
  private readonly toasts = new Toasts();

  // Header parts.
  private readonly marketTabs = el("nav", { class: "market-tabs", testid: "markets" });
  private readonly tabButtons = new Map<string, { button: HTMLButtonElement; last: HTMLSpanElement }>();
  private readonly stats = {
    last: el("span", { class: "stat-value big", testid: "ticker-last" }),
    high: el("span", { class: "stat-value", testid: "ticker-high" }),
    low: el("span", { class: "stat-value", testid: "ticker-low" }),
    volume: el("span", { class: "stat-value", testid: "ticker-volume" }),
    bid: el("span", { class: "stat-value up", testid: "ticker-bid" }),
    ask: el("span", { class: "stat-value down", testid: "ticker-ask" }),
  };
  private readonly connection = el("div", { class: "connection", testid: "connection" });
  private readonly accountBox = el("div", { class: "account", testid: "account" });
  private readonly ordersTab = el("button", {
    class: "tab active",
    text: "Open orders",
    testid: "tab-orders",
  });
  private readonly fillsTab = el("button", { class: "tab", text: "Fills", testid: "tab-fills" });
  private lastTickerTitle = "";

  constructor() {
    this.sync = new BookSync({
      fetchSnapshot: (symbol) =>
        this.api.get<BookSnapshot>(`/v1/markets/${encodeURIComponent(symbol)}/book?depth=1000`),
      onState: () => {
        this.showConnection();
        this.schedule();
      },
      onChange: () => this.schedule(),
    });
    this.socket = new Socket({
      url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/ws`,
      onState: () => this.showConnection(),
      onOpen: () => this.onSocketOpen(),
      onPush: (message) => this.onPush(message as unknown as ServerPush),
    });
    this.ladder = new Ladder(this.sync.book, (price, side) => this.entry.pick(price, side));
    this.depth = new DepthChart(this.sync.book);
    this.chart = new CandleChart((interval) => this.setInterval(interval));
    this.entry = new OrderEntry({
      loggedIn: () => this.session !== null,
      balance: (asset) => this.balances.get(asset),
      quotePrecision: (asset) => this.quotePlaces.get(asset) ?? 8,
      place: (order) => this.place(order),
      login: () => this.login.open(),
      now: serverNow,
    });
    const notify = (text: string, kind: "ok" | "error"): void => this.toasts.show(text, kind);
    this.orders = new OpenOrders({
      market: (symbol) => this.markets.find((m) => m.symbol === symbol),
      cancel: (orderId) => this.cancel(orderId),
      amend: (orderId, body) => this.amend(orderId, body),
      cancelAll: async (symbol) => {
        await this.api.signed("DELETE", symbol === undefined ? "/v1/orders" : `/v1/orders?symbol=${symbol}`);
        await this.loadOpenOrders();
      },
      notify,
    });
    this.orders.onCount = (n) => setText(this.ordersTab, n === 0 ? "Open orders" : `Open orders (${n})`);
    this.fills = new FillsHistory({
      page: (cursor) =>
        this.api.signed<{ fills: AccountFill[]; nextCursor?: string }>(
          "GET",
          `/v1/fills?limit=50${cursor === undefined ? "" : `&cursor=${encodeURIComponent(cursor)}`}`,
        ),
      notify,
      changed: () => this.schedule(),
    });
    this.balances.onChange = () => {
      this.entry.updateSummary();
      this.schedule();
    };
    this.login = new LoginDialog((key, secret, remember) => this.logIn(key, secret, remember));
  }

  // ───────────────────────────── layout ─────────────────────────────

  mount(root: HTMLElement): void {
    const stat = (label: string, value: HTMLElement): HTMLElement =>
      el("div", { class: "stat" }, el("span", { class: "stat-label", text: label }), value);
    const header = el(
      "header",
      { class: "top" },
      el("div", { class: "brand" }, el("span", { class: "brand-mark" }), el("span", { text: "Bourse" })),
      this.marketTabs,
      el(
        "div",
        { class: "stats", testid: "ticker" },
        stat("Last", this.stats.last),
        stat("24h high", this.stats.high),
        stat("24h low", this.stats.low),
        stat("24h volume", this.stats.volume),
        stat("Bid", this.stats.bid),
        stat("Ask", this.stats.ask),
      ),
      el("div", { class: "spacer" }),
      this.connection,
      this.accountBox,
    );
    const panel = (title: string, body: HTMLElement, extra = "", head?: HTMLElement): HTMLElement =>
      el(
        "section",
        { class: `panel ${extra}` },
        el("div", { class: "panel-head" }, el("h3", { text: title }), head),
        el("div", { class: "panel-body" }, body),
      );
    const bottomBody = el("div", { class: "panel-body" }, this.orders.root, this.fills.root);
    this.fills.root.hidden = true;
    const switchTab = (showOrders: boolean): void => {
      this.ordersTab.classList.toggle("active", showOrders);
      this.fillsTab.classList.toggle("active", !showOrders);
      this.orders.root.hidden = !showOrders;
      this.fills.root.hidden = showOrders;
    };
    this.ordersTab.addEventListener("click", () => switchTab(true));
    this.fillsTab.addEventListener("click", () => switchTab(false));
    const bottom = el(
      "section",
      { class: "panel bottom" },
      el("div", { class: "panel-head tabs" }, this.ordersTab, this.fillsTab),
      bottomBody,
    );
    const grid = el(
      "main",
      { class: "grid-layout" },
      panel("Order book", this.ladder.root, "book-panel"),
      el(
        "div",
        { class: "center" },
        panel("Chart", this.chart.root, "chart-panel"),
        panel("Depth", this.depth.root, "depth-panel"),
      ),
      panel("Trades", this.tape.root, "tape-panel"),
      el(
        "div",
        { class: "right" },
        panel("Place order", this.entry.root, "entry-panel"),
        panel("Balances", this.balances.root, "balances-panel"),
      ),
      bottom,
    );
    root.replaceChildren(header, grid, this.login.root, this.toasts.root);
    const observer = new ResizeObserver(() => {
      this.ladder.resize();
      this.depth.resize();
      this.schedule();
    });
    observer.observe(this.ladder.root);
    observer.observe(this.depth.root);
    this.showAccount();
    this.showConnection();
  }

  // ───────────────────────────── start ─────────────────────────────

  async start(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        const [markets, assets] = await Promise.all([
          this.api.get<Market[]>("/v1/markets"),
          this.api.get<Asset[]>("/v1/assets"),
        ]);
        this.markets = markets;
        for (const a of assets) this.quotePlaces.set(a.asset, a.precision);
        break;
      } catch {
        this.setConnectionText("reconnecting");
        await new Promise((r) => setTimeout(r, Math.min(5_000, 500 * 2 ** attempt)));
      }
    }
    for (const m of this.markets) {
      const last = el("span", { class: "tab-last" });
      const button = el(
        "button",
        { class: "market-tab", testid: `market-${m.symbol}` },
        el("span", { text: m.symbol }),
        last,
      );
      button.addEventListener("click", () => this.selectMarket(m.symbol));
      this.marketTabs.append(button);
      this.tabButtons.set(m.symbol, { button, last });
    }
    const wanted = decodeURIComponent(location.hash.slice(1));
    this.selectMarket(
      this.markets.some((m) => m.symbol === wanted) ? wanted : (this.markets[0]?.symbol ?? ""),
    );
    this.socket.start();
    void this.restoreSession();
    window.addEventListener("hashchange", () => {
      const symbol = decodeURIComponent(location.hash.slice(1));
      if (symbol !== this.symbol && this.markets.some((m) => m.symbol === symbol)) this.selectMarket(symbol);
    });
    // Diagnostics for tests and benchmarks: read-only figures, no credentials.
    (window as unknown as { bourse: unknown }).bourse = {
      stats: () => ({
        symbol: this.symbol,
        sequence: this.sync.book.sequence,
        bookState: this.sync.state,
        bookUpdates: this.sync.applied,
        gaps: this.sync.gaps,
        resyncs: this.sync.resyncs,
        socket: this.socket.state,
        socketOpens: this.socket.opens,
        bids: this.sync.book.bids.size,
        asks: this.sync.book.asks.size,
      }),
    };
  }

  private selectMarket(symbol: string): void {
    const market = this.markets.find((m) => m.symbol === symbol);
    if (market === undefined) return;
    const previous = this.symbol;
    if (previous !== "" && previous !== symbol && this.socket.state === "live") {
      for (const channel of ["book", "trades"]) {
        this.socket.request("unsubscribe", { channel, symbol: previous }).catch(() => {});
      }
    }
    this.symbol = symbol;
    this.market = market;
    const generation = ++this.marketGeneration;
    if (location.hash.slice(1) !== symbol) history.replaceState(null, "", `#${symbol}`);
    for (const [s, tab] of this.tabButtons) tab.button.classList.toggle("active", s === symbol);
    const tickPlaces = placesOf(market.tickSize);
    this.sync.reset(symbol);
    this.ladder.setMarket(tickPlaces, placesOf(market.lotSize));
    this.ladder.setMyPrices(this.orders.pricesIn(symbol));
    this.depth.setMarket(tickPlaces);
    this.chart.setPrecision(market.tickSize, tickPlaces);
    this.entry.setMarket(market);
    this.tape.clear();
    if (this.socket.state === "live") this.subscribeMarket();
    this.loadChart(generation);
    this.api.get<Trade[]>(`/v1/markets/${encodeURIComponent(symbol)}/trades?limit=60`).then(
      (trades) => {
        if (generation === this.marketGeneration) {
          this.tape.add(trades);
          this.schedule();
        }
      },
      () => {},
    );
    this.api.get<Ticker>(`/v1/markets/${encodeURIComponent(symbol)}/ticker`).then(
      (ticker) => {
        if (!this.tickers.has(ticker.symbol)) this.setTicker(ticker);
      },
      () => {},
    );
    this.showTicker();
    this.schedule();
  }

  private setInterval(interval: Interval): void {
    if (interval === this.interval) return;
    this.interval = interval;
    this.loadChart(this.marketGeneration);
  }

  private loadChart(generation: number): void {
    const symbol = this.symbol;
    const interval = this.interval;
    this.chart.reset(interval);
    this.api.get<Candle[]>(`/v1/markets/${encodeURIComponent(symbol)}/candles?interval=${interval}`).then(
      (candles) => {
        if (generation === this.marketGeneration && interval === this.interval)
          this.chart.setHistory(candles);
      },
      (error: Error) => this.toasts.show(`Candles: ${error.message}`, "error"),
    );
  }

  // ───────────────────────────── WebSocket ─────────────────────────────

  private onSocketOpen(): void {
    this.sync.reset(this.symbol);
    for (const m of this.markets) {
      this.socket.request("subscribe", { channel: "ticker", symbol: m.symbol }).catch(() => {});
    }
    this.subscribeMarket();
    if (this.session !== null) {
      this.authenticateSocket().catch((error: Error) =>
        this.toasts.show(`Account stream: ${error.message}`, "error"),
      );
    }
    // Trades missed while disconnected.
    if (this.socket.opens > 1) {
      const generation = this.marketGeneration;
      this.api.get<Trade[]>(`/v1/markets/${encodeURIComponent(this.symbol)}/trades?limit=60`).then(
        (trades) => {
          if (generation === this.marketGeneration) this.tape.add(trades);
          this.schedule();
        },
        () => {},
      );
    }
  }

  private subscribeMarket(): void {
    const symbol = this.symbol;
    if (symbol === "") return;
    this.socket.request("subscribe", { channel: "book", symbol }).catch(() => {});
    this.socket.request("subscribe", { channel: "trades", symbol }).catch(() => {});
  }

  private onPush(message: ServerPush): void {
    switch (message.channel) {
      case "book":
        if (message.type === "snapshot") this.sync.snapshot(message);
        else this.sync.update(message);
        break;
      case "trades":
        if (message.symbol === this.symbol) {
          this.tape.add(message.trades);
          for (const t of message.trades) this.chart.addTrade(t);
        }
        break;
      case "ticker":
        this.setTicker(message);
        break;
      case "orders":
        this.onOrder(message.order);
        break;
      case "balances":
        if (message.type === "snapshot") this.balances.load(message.balances);
        else this.balances.update(message.balance);
        break;
    }
    this.schedule();
  }

  private onOrder(order: Order): void {
    this.orders.update(order);
    if (order.fills.length > 0) {
      this.fills.add(
        order.fills.map((f) => ({ ...f, orderId: order.orderId, symbol: order.symbol, side: order.side })),
      );
    }
    if (order.symbol === this.symbol) this.ladder.setMyPrices(this.orders.pricesIn(this.symbol));
    this.schedule();
  }

  private setTicker(ticker: Ticker): void {
    const { channel: _, ...rest } = ticker as Ticker & { channel?: string };
    this.tickers.set(ticker.symbol, rest);
    const tab = this.tabButtons.get(ticker.symbol);
    if (tab !== undefined) setText(tab.last, grouped(ticker.last));
    if (ticker.symbol === this.symbol) this.showTicker();
  }

  private showTicker(): void {
    const t = this.tickers.get(this.symbol);
    const m = this.market;
    setText(this.stats.last, grouped(t?.last));
    setText(this.stats.high, grouped(t?.high24h));
    setText(this.stats.low, grouped(t?.low24h));
    setText(this.stats.volume, t === undefined ? "—" : `${compact(Number(t.volume24h))} ${m?.base ?? ""}`);
    setText(this.stats.bid, grouped(t?.bestBid));
    setText(this.stats.ask, grouped(t?.bestAsk));
    this.ladder.setLast(t?.last ?? null);
    const title = t?.last ? `${grouped(t.last)} ${this.symbol} · Bourse` : "Bourse";
    if (title !== this.lastTickerTitle) {
      this.lastTickerTitle = title;
      document.title = title;
    }
  }

  private showConnection(): void {
    // A book that is being resynced (or not loaded yet) is shown dimmed: it may be out of date.
    const stale = this.sync.state !== "live" || this.socket.state !== "live";
    this.ladder.root.classList.toggle("stale", stale);
    this.depth.root.classList.toggle("stale", stale);
    let state: Connection;
    if (this.socket.state !== "live") state = this.socket.state;
    else if (this.sync.state === "resyncing") state = "resyncing";
    else if (this.sync.state === "waiting") state = "connecting";
    else state = "live";
    this.setConnectionText(state);
  }

  private setConnectionText(state: Connection): void {
    this.connection.dataset.state = state;
    this.connection.replaceChildren(
      el("span", { class: "dot" }),
      el("span", { text: connectionLabels[state] }),
    );
  }

  // ───────────────────────────── account ─────────────────────────────

  private async restoreSession(): Promise<void> {
    const saved = sessionStorage.getItem(storageKey);
    if (saved === null) return;
    try {
      const { apiKey, apiSecret } = JSON.parse(saved) as { apiKey: string; apiSecret: string };
      await this.logIn(apiKey, apiSecret, true);
    } catch (error) {
      sessionStorage.removeItem(storageKey);
      this.toasts.show(`Saved login refused: ${(error as Error).message}`, "error");
    }
  }

  private async logIn(apiKey: string, apiSecret: string, remember: boolean): Promise<void> {
    if (!signingAvailable()) {
      throw new Error(
        "This page is not a secure context: browsers only sign with WebCrypto over HTTPS or on localhost.",
      );
    }
    const credentials = await credentialsOf(apiKey, apiSecret);
    const previous = this.api.credentials;
    this.api.credentials = credentials;
    let balances: Balance[];
    try {
      balances = await this.api.signed<Balance[]>("GET", "/v1/balances");
    } catch (error) {
      this.api.credentials = previous;
      if (error instanceof RequestError && error.status === 401) {
        throw new Error("Refused: wrong API key or secret (or this computer's clock is more than 5 s off).");
      }
      throw error;
    }
    if (remember) sessionStorage.setItem(storageKey, JSON.stringify({ apiKey, apiSecret }));
    else sessionStorage.removeItem(storageKey);
    this.session = { apiKey, credentials, accountId: null };
    this.orders.clear();
    this.fills.clear();
    this.balances.load(balances);
    this.showAccount();
    this.entry.refresh();
    if (this.socket.state === "live") await this.authenticateSocket();
    else await Promise.all([this.loadOpenOrders(), this.fills.refresh()]);
    this.schedule();
  }

  private logOut(): void {
    sessionStorage.removeItem(storageKey);
    this.session = null;
    this.api.credentials = null;
    this.orders.clear();
    this.fills.clear();
    this.balances.clear();
    this.ladder.setMyPrices(new Set());
    this.showAccount();
    this.entry.refresh();
    // A new connection: the old one stays authenticated as the account otherwise.
    this.socket.reconnect();
    this.schedule();
  }

  /** `auth` on the WebSocket, then the account's channels, then what the channels may have missed. */
  private async authenticateSocket(): Promise<void> {
    const session = this.session;
    if (session === null) return;
    const { op: _, ...auth } = await wsAuthMessage(session.apiKey, session.credentials.key, serverNow());
    const reply = await this.socket.request<{ accountId: string }>("auth", auth);
    if (this.session !== session) return;
    session.accountId = reply.accountId;
    this.showAccount();
    this.orders.beginLoad();
    await Promise.all([
      this.socket.request("subscribe", { channel: "orders" }),
      this.socket.request("subscribe", { channel: "balances" }),
    ]);
    await Promise.all([this.loadOpenOrders(false), this.fills.refresh()]);
  }

  private async loadOpenOrders(begin = true): Promise<void> {
    if (this.session === null) return;
    if (begin) this.orders.beginLoad();
    const [open, untriggered] = await Promise.all([
      this.api.signed<Order[]>("GET", "/v1/orders?status=open"),
      this.api.signed<Order[]>("GET", "/v1/orders?status=untriggered"),
    ]);
    this.orders.load([...open, ...untriggered]);
    this.ladder.setMyPrices(this.orders.pricesIn(this.symbol));
    this.schedule();
  }

  private showAccount(): void {
    const session = this.session;
    if (session === null) {
      const button = el("button", { class: "button", text: "Log in", testid: "login" });
      button.addEventListener("click", () => this.login.open());
      this.accountBox.replaceChildren(button);
      return;
    }
    const button = el("button", { class: "link", text: "Log out", testid: "logout" });
    button.addEventListener("click", () => this.logOut());
    this.accountBox.replaceChildren(
      el(
        "span",
        { class: "account-id", testid: "account-id", title: session.apiKey },
        session.accountId === null ? "Account" : `Account #${session.accountId}`,
      ),
      button,
    );
  }

  private async place(order: PlaceOrder): Promise<Order> {
    const placed = await this.api.signed<Order>("POST", "/v1/orders", order);
    this.onOrder(placed);
    return placed;
  }

  private async cancel(orderId: string): Promise<Order> {
    const order = await this.api.signed<Order>("DELETE", `/v1/orders/${encodeURIComponent(orderId)}`);
    this.onOrder(order);
    return order;
  }

  private async amend(orderId: string, body: { price?: string; quantity?: string }): Promise<Order> {
    const order = await this.api.signed<Order>("PATCH", `/v1/orders/${encodeURIComponent(orderId)}`, body);
    this.onOrder(order);
    return order;
  }

  // ───────────────────────────── drawing ─────────────────────────────

  private schedule(): void {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => {
      this.frameRequested = false;
      this.ladder.render();
      this.depth.render();
      this.tape.render();
      this.orders.render();
      this.fills.render();
      this.balances.render();
    });
  }
}

const app = new Dashboard();
app.mount(document.getElementById("app")!);
void app.start();
