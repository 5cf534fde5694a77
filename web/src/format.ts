/** Display formatting: times, and decimal strings shortened for narrow columns. */

const pad = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** HH:MM:SS, local time. */
export function clock(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** YYYY-MM-DD HH:MM:SS, local time. */
export function dateTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(ms)}`;
}

/** A number with a fixed number of decimals and thin grouping of thousands. */
export function fixed(value: number, places: number): string {
  return value.toLocaleString("en-US", { minimumFractionDigits: places, maximumFractionDigits: places });
}

/** A decimal string with grouped thousands, its decimals kept exactly ("60000.50" → "60,000.50"). */
export function grouped(text: string | null | undefined): string {
  if (text === null || text === undefined) return "—";
  const dot = text.indexOf(".");
  const whole = dot < 0 ? text : text.slice(0, dot);
  const rest = dot < 0 ? "" : text.slice(dot);
  return whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",") + rest;
}

/** Compact volume: 1234567.8 → "1.23M". */
export function compact(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e9) return `${(value / 1e9).toFixed(2)}B`;
  if (abs >= 1e6) return `${(value / 1e6).toFixed(2)}M`;
  if (abs >= 1e4) return `${(value / 1e3).toFixed(1)}K`;
  return value.toFixed(abs >= 100 ? 1 : 4);
}

export function titleCase(text: string): string {
  return text.replace(/_/g, " ").replace(/^\w/, (c) => c.toUpperCase());
}
