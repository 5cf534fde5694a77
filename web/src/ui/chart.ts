/**
 * Candles (lightweight-charts, bundled): GET /v1/markets/{symbol}/candles for the history, then the
 * live trades extend the newest candle or open the next one. Interval switch 1m / 5m / 1h / 1d.
 */
import {
  CandlestickSeries,
  ColorType,
  CrosshairMode,
  createChart,
  HistogramSeries,
  type IChartApi,
  type ISeriesApi,
  type UTCTimestamp,
} from "lightweight-charts";
import { el } from "../dom.js";
import type { Candle, Trade } from "../types.js";

export type Interval = "1m" | "5m" | "1h" | "1d";
export const intervals: Interval[] = ["1m", "5m", "1h", "1d"];
const intervalMs: Record<Interval, number> = {
  "1m": 60_000,
  "5m": 300_000,
  "1h": 3_600_000,
  "1d": 86_400_000,
};

interface Bar {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

const up = "#16c784";
const down = "#ea3943";

export class CandleChart {
  readonly root: HTMLElement;
  interval: Interval = "1m";
  private readonly chart: IChartApi;
  private readonly candles: ISeriesApi<"Candlestick">;
  private readonly volume: ISeriesApi<"Histogram">;
  private readonly buttons = new Map<Interval, HTMLButtonElement>();
  private last: Bar | null = null;
  /** Trades are applied only once the history of the current interval is loaded. */
  private loaded = false;
  private pending: Trade[] = [];

  constructor(onInterval: (interval: Interval) => void) {
    const bar = el("div", { class: "chart-bar" });
    for (const interval of intervals) {
      const button = el("button", { class: "chip", text: interval, testid: `interval-${interval}` });
      button.addEventListener("click", () => onInterval(interval));
      this.buttons.set(interval, button);
      bar.append(button);
    }
    // Attribution required by lightweight-charts' NOTICE, as a plain link: its own logo injects a <style>
    // element, which the page's Content-Security-Policy (style-src 'self') refuses.
    bar.append(
      el("span", { class: "chart-note", text: "UTC" }),
      el("a", {
        class: "chart-credit",
        text: "Charts by TradingView",
        attrs: { href: "https://www.tradingview.com/", target: "_blank", rel: "noopener noreferrer" },
      }),
    );
    const host = el("div", { class: "chart-host", testid: "candles" });
    this.root = el("div", { class: "chart" }, bar, host);
    this.chart = createChart(host, {
      autoSize: true,
      layout: {
        attributionLogo: false,
        background: { type: ColorType.Solid, color: "#0f1318" },
        textColor: "#8a93a2",
        fontSize: 11,
        fontFamily: "ui-sans-serif, system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif",
      },
      grid: { vertLines: { color: "#171c23" }, horzLines: { color: "#171c23" } },
      crosshair: { mode: CrosshairMode.Normal },
      rightPriceScale: { borderColor: "#222a35" },
      timeScale: {
        borderColor: "#222a35",
        timeVisible: true,
        secondsVisible: false,
        rightOffset: 4,
        barSpacing: 9,
      },
    });
    this.candles = this.chart.addSeries(CandlestickSeries, {
      upColor: up,
      downColor: down,
      borderVisible: false,
      wickUpColor: up,
      wickDownColor: down,
    });
    this.volume = this.chart.addSeries(HistogramSeries, {
      priceScaleId: "volume",
      priceFormat: { type: "volume" },
      lastValueVisible: false,
      priceLineVisible: false,
    });
    this.chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.82, bottom: 0 } });
    this.candles.priceScale().applyOptions({ scaleMargins: { top: 0.08, bottom: 0.22 } });
    this.markInterval();
  }

  setPrecision(tickSize: string, places: number): void {
    this.candles.applyOptions({
      priceFormat: { type: "price", precision: places, minMove: Number(tickSize) },
    });
  }

  /** Before the history request of a market or interval. */
  reset(interval: Interval): void {
    this.interval = interval;
    this.loaded = false;
    this.pending = [];
    this.last = null;
    this.candles.setData([]);
    this.volume.setData([]);
    this.markInterval();
  }

  setHistory(rows: readonly Candle[]): void {
    const bars: Bar[] = rows.map((c) => ({
      time: Math.floor(c.time / 1000),
      open: Number(c.open),
      high: Number(c.high),
      low: Number(c.low),
      close: Number(c.close),
      volume: Number(c.volume),
    }));
    this.candles.setData(bars.map((b) => ({ ...b, time: b.time as UTCTimestamp })));
    this.volume.setData(bars.map((b) => this.volumeOf(b)));
    this.last = bars.length > 0 ? bars[bars.length - 1]! : null;
    this.loaded = true;
    const pending = this.pending;
    this.pending = [];
    for (const t of pending) this.addTrade(t);
    this.chart.timeScale().scrollToRealTime();
  }

  /** A live trade (oldest first within a message). */
  addTrade(trade: Trade): void {
    if (!this.loaded) {
      if (this.pending.length < 5_000) this.pending.push(trade);
      return;
    }
    const step = intervalMs[this.interval];
    const time = Math.floor(Math.floor(trade.time / step) * step) / 1000;
    const price = Number(trade.price);
    const quantity = Number(trade.quantity);
    const last = this.last;
    if (last !== null && time < last.time) return;
    let bar: Bar;
    if (last === null || time > last.time) {
      bar = { time, open: price, high: price, low: price, close: price, volume: quantity };
    } else {
      bar = last;
      bar.high = Math.max(bar.high, price);
      bar.low = Math.min(bar.low, price);
      bar.close = price;
      bar.volume += quantity;
    }
    this.last = bar;
    this.candles.update({ ...bar, time: bar.time as UTCTimestamp });
    this.volume.update(this.volumeOf(bar));
  }

  private volumeOf(b: Bar): { time: UTCTimestamp; value: number; color: string } {
    return {
      time: b.time as UTCTimestamp,
      value: b.volume,
      color: b.close >= b.open ? "rgba(22, 199, 132, 0.35)" : "rgba(234, 57, 67, 0.35)",
    };
  }

  private markInterval(): void {
    for (const [interval, button] of this.buttons)
      button.classList.toggle("active", interval === this.interval);
  }
}
