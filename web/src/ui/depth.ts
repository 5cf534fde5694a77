/**
 * The depth chart: cumulative bid and ask quantity by price, drawn on a canvas around the mid price.
 * Redrawn at most once per animation frame and only when the book changed (or the canvas resized).
 */
import type { BookSide, OrderBook } from "../book.js";
import { el } from "../dom.js";
import { compact, fixed } from "../format.js";

const levelsMax = 200;
const colors = {
  bidLine: "#16c784",
  bidFill: "rgba(22, 199, 132, 0.16)",
  askLine: "#ea3943",
  askFill: "rgba(234, 57, 67, 0.16)",
  grid: "#1c222b",
  text: "#7d8592",
  mid: "#3a4350",
};

export class DepthChart {
  readonly root: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  private drawnVersion = -1;
  private width = 0;
  private height = 0;
  private ratio = 1;
  private tickPlaces = 2;
  private dirty = true;
  // Reused point buffers: no allocation per frame.
  private readonly bx = new Float64Array(levelsMax + 2);
  private readonly by = new Float64Array(levelsMax + 2);
  private readonly ax = new Float64Array(levelsMax + 2);
  private readonly ay = new Float64Array(levelsMax + 2);

  constructor(private readonly book: OrderBook) {
    this.canvas = el("canvas", { class: "depth-canvas", testid: "depth-chart" });
    this.root = el("div", { class: "depth" }, this.canvas);
    this.ctx = this.canvas.getContext("2d", { alpha: false })!;
  }

  setMarket(tickPlaces: number): void {
    this.tickPlaces = tickPlaces;
    this.dirty = true;
  }

  resize(): void {
    const rect = this.root.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.floor(rect.width));
    const h = Math.max(1, Math.floor(rect.height));
    if (w === this.width && h === this.height && ratio === this.ratio) return;
    this.width = w;
    this.height = h;
    this.ratio = ratio;
    this.canvas.width = Math.round(w * ratio);
    this.canvas.height = Math.round(h * ratio);
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${h}px`;
    this.dirty = true;
  }

  render(): void {
    if (this.width === 0) this.resize();
    if (!this.dirty && this.drawnVersion === this.book.version) return;
    this.dirty = false;
    this.drawnVersion = this.book.version;
    const { ctx, width: w, height: h } = this;
    ctx.setTransform(this.ratio, 0, 0, this.ratio, 0, 0);
    ctx.fillStyle = "#0f1318";
    ctx.fillRect(0, 0, w, h);
    ctx.font = "11px ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', monospace";
    const { bids, asks } = this.book;
    const bestBid = bids.at(0);
    const bestAsk = asks.at(0);
    if (bestBid === undefined && bestAsk === undefined) {
      ctx.fillStyle = colors.text;
      ctx.textAlign = "center";
      ctx.fillText("No depth yet", w / 2, h / 2);
      return;
    }
    const mid =
      bestBid !== undefined && bestAsk !== undefined
        ? (bestBid.price + bestAsk.price) / 2
        : (bestBid ?? bestAsk)!.price;
    // Half of the price range shown: as far as the deeper side's last level, capped at ±10 % of mid.
    const nb = Math.min(levelsMax, bids.size);
    const na = Math.min(levelsMax, asks.size);
    let half = 0;
    if (nb > 0) half = Math.max(half, mid - bids.at(nb - 1)!.price);
    if (na > 0) half = Math.max(half, asks.at(na - 1)!.price - mid);
    half = Math.min(Math.max(half * 1.08, mid * 0.0005), mid * 0.1);
    const lo = mid - half;
    const hi = mid + half;
    const padTop = 14;
    const padBottom = 20;
    const plotH = h - padTop - padBottom;
    const nbUsed = points(bids, nb, lo, hi, this.bx, this.by);
    const naUsed = points(asks, na, lo, hi, this.ax, this.ay);
    let maxTotal = 0;
    if (nbUsed > 0) maxTotal = Math.max(maxTotal, this.by[nbUsed - 1]!);
    if (naUsed > 0) maxTotal = Math.max(maxTotal, this.ay[naUsed - 1]!);
    maxTotal = maxTotal * 1.1 || 1;
    const xOf = (price: number): number => ((price - lo) / (hi - lo)) * w;
    const yOf = (total: number): number => padTop + plotH - (total / maxTotal) * plotH;

    // Grid: four horizontal lines with their cumulative quantity.
    ctx.strokeStyle = colors.grid;
    ctx.lineWidth = 1;
    ctx.fillStyle = colors.text;
    ctx.textAlign = "right";
    for (let i = 1; i <= 4; i++) {
      const y = Math.round(padTop + plotH - (plotH * i) / 4) + 0.5;
      ctx.beginPath();
      ctx.moveTo(0, y);
      ctx.lineTo(w, y);
      ctx.stroke();
      ctx.fillText(compact((maxTotal * i) / 4), w - 4, y - 3);
    }
    ctx.strokeStyle = colors.mid;
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    ctx.moveTo(Math.round(xOf(mid)) + 0.5, padTop);
    ctx.lineTo(Math.round(xOf(mid)) + 0.5, padTop + plotH);
    ctx.stroke();
    ctx.setLineDash([]);

    this.drawSide(nbUsed, this.bx, this.by, xOf, yOf, padTop + plotH, 0, colors.bidLine, colors.bidFill);
    this.drawSide(naUsed, this.ax, this.ay, xOf, yOf, padTop + plotH, w, colors.askLine, colors.askFill);

    // Price axis: the ends and the mid.
    ctx.fillStyle = colors.text;
    const y = h - 6;
    ctx.textAlign = "left";
    ctx.fillText(fixed(lo, this.tickPlaces), 4, y);
    ctx.textAlign = "center";
    ctx.fillText(fixed(mid, this.tickPlaces), w / 2, y);
    ctx.textAlign = "right";
    ctx.fillText(fixed(hi, this.tickPlaces), w - 4, y);
  }

  /** A staircase from the best price outwards, then to the edge of the chart, filled below. */
  private drawSide(
    n: number,
    xs: Float64Array,
    ys: Float64Array,
    xOf: (p: number) => number,
    yOf: (t: number) => number,
    baseY: number,
    edgeX: number,
    line: string,
    fill: string,
  ): void {
    if (n === 0) return;
    const ctx = this.ctx;
    ctx.beginPath();
    let x = xOf(xs[0]!);
    ctx.moveTo(x, baseY);
    let prevY = baseY;
    for (let i = 0; i < n; i++) {
      x = xOf(xs[i]!);
      ctx.lineTo(x, prevY);
      prevY = yOf(ys[i]!);
      ctx.lineTo(x, prevY);
    }
    ctx.lineTo(edgeX, prevY);
    ctx.strokeStyle = line;
    ctx.lineWidth = 1.5;
    ctx.stroke();
    ctx.lineTo(edgeX, baseY);
    ctx.closePath();
    ctx.fillStyle = fill;
    ctx.fill();
  }
}

/** Cumulative totals of the levels within [lo, hi], best first, into xs/ys; returns how many. */
function points(
  side: BookSide,
  n: number,
  lo: number,
  hi: number,
  xs: Float64Array,
  ys: Float64Array,
): number {
  let total = 0;
  let used = 0;
  for (let i = 0; i < n; i++) {
    const level = side.at(i)!;
    if (level.price < lo || level.price > hi) break;
    total += level.quantity;
    xs[used] = level.price;
    ys[used] = total;
    used++;
  }
  return used;
}
