/**
 * Summarizes V8 .cpuprofile files (node --cpu-prof): self and total time by function, or self time
 * by source line (--lines, from the profile's per-line ticks), mapped back to the TypeScript sources
 * through the emitted source maps. Function figures are exact sums of samples; line figures inside
 * code that V8 inlined into its caller are approximate (positions of inlined callees can land on
 * neighbouring lines).
 *
 *   node dist/bench/lib/profile-summary.js <file.cpuprofile | dir> [--top N] [--filter text] [--lines]
 *
 * --filter keeps functions whose location contains the text (e.g. src/engine/) and gives their
 * percentages both of the filtered time and of the whole profile. A directory means every
 * .cpuprofile in it (merged).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { SourceMap } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
  positionTicks?: { line: number; ticks: number }[];
  hitCount?: number;
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const maps = new Map<string, SourceMap | null>();

function sourceMapOf(file: string): SourceMap | null {
  let map = maps.get(file);
  if (map !== undefined) return map;
  map = null;
  try {
    map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, "utf8")));
  } catch {
    // no map: report the JS location
  }
  maps.set(file, map);
  return map;
}

/** "file.ts:line" for a 0-based JS line/column of a file:// url, via its source map when there is one. */
function locate(url: string, line0: number, column0: number): string {
  if (url === "") return "(native)";
  if (!url.startsWith("file://")) return `${url}:${line0 + 1}`;
  const file = fileURLToPath(url);
  const map = sourceMapOf(file);
  if (map !== null) {
    const e = map.findEntry(line0, Math.max(0, column0)) as {
      originalSource?: string;
      originalLine?: number;
    };
    if (e.originalSource !== undefined && e.originalLine !== undefined) {
      const src = e.originalSource.startsWith("file://") ? fileURLToPath(e.originalSource) : e.originalSource;
      return `${shorten(path.resolve(path.dirname(file), src))}:${e.originalLine + 1}`;
    }
  }
  return `${shorten(file)}:${line0 + 1}`;
}

const sources = new Map<string, string[]>();

/** Column of the first non-blank character of a JS line (column 0 could map to the previous statement). */
function indentOf(url: string, line0: number): number {
  if (!url.startsWith("file://")) return 0;
  let lines = sources.get(url);
  if (lines === undefined) {
    try {
      lines = readFileSync(fileURLToPath(url), "utf8").split("\n");
    } catch {
      lines = [];
    }
    sources.set(url, lines);
  }
  const text = lines[line0] ?? "";
  const column = text.search(/\S/);
  return Math.max(column, 0);
}

function shorten(file: string): string {
  const cwd = `${process.cwd()}${path.sep}`;
  const f = file.startsWith(cwd) ? file.slice(cwd.length) : file;
  const nm = f.lastIndexOf("node_modules/");
  return nm >= 0 ? f.slice(nm + "node_modules/".length) : f;
}

interface Row {
  key: string;
  name: string;
  where: string;
  selfUs: number;
  totalUs: number;
}

function summarize(profiles: Profile[], byLine: boolean): { rows: Row[]; totalUs: number } {
  const rows = new Map<string, Row>();
  let totalUs = 0;
  const row = (key: string, name: string, where: string): Row => {
    let r = rows.get(key);
    if (r === undefined) {
      r = { key, name, where, selfUs: 0, totalUs: 0 };
      rows.set(key, r);
    }
    return r;
  };
  for (const p of profiles) {
    const byId = new Map<number, ProfileNode>();
    const parent = new Map<number, number>();
    for (const n of p.nodes) byId.set(n.id, n);
    for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const fnKey = new Map<number, string>();
    const nodeRow = (n: ProfileNode): Row => {
      const cf = n.callFrame;
      const name = cf.functionName || "(anonymous)";
      const where = locate(cf.url, cf.lineNumber, cf.columnNumber);
      const key = `${name} ${where}`;
      fnKey.set(n.id, key);
      return row(key, name, where);
    };
    const selfById = new Map<number, number>();
    for (let i = 0; i < p.samples.length; i++) {
      const id = p.samples[i]!;
      // The first delta runs from the profiler's start to its first sample, which can include the
      // profiler's own start-up (hundreds of ms when started through the inspector): not program time.
      const dt = i === 0 ? 0 : (p.timeDeltas[i] ?? 0);
      totalUs += dt;
      selfById.set(id, (selfById.get(id) ?? 0) + dt);
      // total: every distinct function on the sample's stack
      const seen = new Set<string>();
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        const n = byId.get(cur)!;
        const key = fnKey.get(cur) ?? nodeRow(n).key;
        if (seen.has(key)) continue;
        seen.add(key);
        rows.get(key)!.totalUs += dt;
      }
    }
    for (const [id, us] of selfById) {
      const n = byId.get(id)!;
      if (!byLine || !n.positionTicks || n.positionTicks.length === 0) {
        const key = fnKey.get(id) ?? nodeRow(n).key;
        rows.get(key)!.selfUs += us;
        continue;
      }
      // Spread the node's self time over its lines by their tick counts.
      const ticks = n.positionTicks.reduce((s, t) => s + t.ticks, 0);
      const cf = n.callFrame;
      for (const t of n.positionTicks) {
        const where = locate(cf.url, t.line - 1, indentOf(cf.url, t.line - 1));
        const name = cf.functionName || "(anonymous)";
        row(`${name} ${where}`, name, where).selfUs += (us * t.ticks) / ticks;
      }
    }
  }
  return { rows: [...rows.values()], totalUs };
}

function profilesAt(target: string): Profile[] {
  const files = statSync(target).isDirectory()
    ? readdirSync(target)
        .filter((f) => f.endsWith(".cpuprofile"))
        .map((f) => path.join(target, f))
    : [target];
  return files.map((f) => JSON.parse(readFileSync(f, "utf8")) as Profile);
}

function main(): void {
  const args = process.argv.slice(2);
  let top = 25;
  let filter = "";
  let byLine = false;
  const targets: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--top") top = Number(args[++i]);
    else if (a === "--filter") filter = args[++i] ?? "";
    else if (a === "--lines") byLine = true;
    else targets.push(a);
  }
  if (targets.length === 0) {
    console.error("usage: profile-summary <file.cpuprofile | dir> [--top N] [--filter text] [--lines]");
    process.exit(2);
  }
  const profiles = targets.flatMap(profilesAt);
  const { rows, totalUs } = summarize(profiles, byLine);
  const kept = filter === "" ? rows : rows.filter((r) => r.where.includes(filter));
  const keptSelf = kept.reduce((s, r) => s + r.selfUs, 0);
  kept.sort((a, b) => b.selfUs - a.selfUs);
  const pct = (x: number, of: number) => `${((100 * x) / Math.max(1, of)).toFixed(1)}%`;
  console.log(
    `${profiles.length} profile(s), ${(totalUs / 1000).toFixed(0)} ms sampled` +
      (filter === ""
        ? ""
        : `; "${filter}": ${(keptSelf / 1000).toFixed(0)} ms self (${pct(keptSelf, totalUs)})`),
  );
  const header = ["self ms", filter === "" ? "self %" : "self % (of filter)", "total %", "function", "where"];
  const lines = kept
    .slice(0, top)
    .map((r) => [
      (r.selfUs / 1000).toFixed(1),
      filter === "" ? pct(r.selfUs, totalUs) : `${pct(r.selfUs, totalUs)} (${pct(r.selfUs, keptSelf)})`,
      byLine ? "" : pct(r.totalUs, totalUs),
      r.name,
      r.where,
    ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) =>
    cells.map((c, i) => (i < 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ");
  console.log(fmt(header));
  for (const l of lines) console.log(fmt(l));
}

main();
