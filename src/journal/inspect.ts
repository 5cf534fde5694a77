/** `bourse journal inspect`: the files of a data directory and its records, human-readable. */
import type { Command } from "../engine/types.js";
import type { FileSystem } from "../platform/file-system.js";
import { joinPath } from "../platform/file-system.js";
import { CommandDecoder } from "./command-codec.js";
import { decodeSeal, decodeSegmentHeader, type ScanState, scanRecords, sealName } from "./format.js";
import { segmentHeaderBytes, snapshotHeaderBytes } from "./journal-limits.js";
import { listSegments, listSnapshots, readSnapshotFile } from "./snapshot-store.js";

export interface InspectOptions {
  fromSeq?: number;
  limit?: number;
  json?: boolean;
  print: (line: string) => void;
}

export function describeCommand(cmd: Command): string {
  const fields = Object.entries(cmd)
    .filter(([k, v]) => k !== "type" && k !== "seq" && k !== "time" && v !== "" && v !== 0 && v !== false)
    .map(([k, v]) =>
      k === "sealedSecret"
        ? `${k}=<sealed, ${String(v).length} chars>`
        : `${k}=${typeof v === "bigint" ? `${v}n` : v}`,
    );
  return `${cmd.type} ${fields.join(" ")}`.trim();
}

export function inspectJournal(fs: FileSystem, dir: string, options: InspectOptions): void {
  const { print } = options;
  const fromSeq = options.fromSeq ?? 1;
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  for (const s of listSnapshots(fs, dir).reverse()) {
    const read = readSnapshotFile(fs, joinPath(dir, s.name));
    print(
      typeof read === "string"
        ? `snapshot ${s.name}: DAMAGED: ${read}`
        : `snapshot ${s.name}: seq ${read.header.seq}, time ${new Date(read.header.time).toISOString()}, ` +
            `${snapshotHeaderBytes + read.header.payloadBytes} bytes, continues in segment ${read.header.segmentFirstSeq} at offset ${read.header.nextOffset}`,
    );
  }
  if (fs.exists(joinPath(dir, sealName))) {
    const seal = decodeSeal(fs.readFile(joinPath(dir, sealName)));
    print(
      typeof seal === "string" ? `seal: DAMAGED: ${seal}` : `seal: closed cleanly at seq ${seal.lastSeq}`,
    );
  }
  const decoder = new CommandDecoder();
  let printed = 0;
  const replacer = (_: string, v: unknown) => (typeof v === "bigint" ? v.toString() : v);
  for (const { name } of listSegments(fs, dir)) {
    const bytes = fs.readFile(joinPath(dir, name));
    const header = decodeSegmentHeader(bytes);
    if (typeof header === "string") {
      print(`segment ${name}: ${bytes.length} bytes, DAMAGED header: ${header}`);
      continue;
    }
    print(
      `segment ${name}: ${bytes.length} bytes, first seq ${header.firstSeq}, created ${new Date(header.createdMs).toISOString()}`,
    );
    const state: ScanState = { nextSeq: header.firstSeq, chain: header.prevChain, time: 0 };
    const end = scanRecords(
      bytes,
      segmentHeaderBytes,
      state,
      (b, view, bodyStart, bodyEnd, seq, time, offset) => {
        if (seq < fromSeq || printed >= limit) return;
        printed++;
        const cmd = decoder.decode(b, view, bodyStart, bodyEnd, seq, time);
        if (options.json)
          print(JSON.stringify({ file: name, offset, bytes: bodyEnd - offset, ...cmd }, replacer));
        else
          print(
            `  seq ${seq}  ${new Date(time).toISOString()}  @${offset} ${bodyEnd - offset}B  ${describeCommand(cmd)}`,
          );
      },
    );
    if (end.kind === "corrupt") print(`  DAMAGED at offset ${end.offset}: ${end.reason}`);
    if (end.kind === "torn") print(`  torn tail at offset ${end.offset}: ${end.reason}`);
    if (printed >= limit) break;
  }
}
