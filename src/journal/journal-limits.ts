/**
 * The journal's bounds live in src/limits.ts with every other bound; this module adds the fixed
 * sizes of the on-disk format and asserts the relations between them at load (TigerBeetle's habit).
 */
import { journalLimits } from "../limits.js";

export { journalLimits };

/** Fixed sizes of the on-disk format (docs/journal.md). */
export const recordHeaderBytes = 32;
export const segmentHeaderBytes = 64;
export const snapshotHeaderBytes = 96;
export const recordBytesMax = recordHeaderBytes + journalLimits.commandBytesMax;

function assertJournalLimits(): void {
  const l = journalLimits;
  for (const [name, value] of Object.entries(l)) {
    if (!Number.isSafeInteger(value) || value <= 0)
      throw new Error(`journalLimits: ${name} must be a positive safe integer`);
  }
  if (l.commandStringBytesMax > 255) throw new Error("journalLimits: string lengths are encoded in one byte");
  if (l.commandStringBytesMax * 2 + 128 > l.commandBytesMax) {
    throw new Error(
      "journalLimits: commandBytesMax must hold a place command with two strings at their maximum",
    );
  }
  if (recordBytesMax * 2 > l.batchBytesMax)
    throw new Error("journalLimits: a batch must hold several records");
  if (l.batchBytesMax + segmentHeaderBytes > l.segmentBytesMax) {
    throw new Error("journalLimits: a segment must hold at least one full batch");
  }
  if (l.segmentBytesMax > 2 ** 32 - 1) throw new Error("journalLimits: offsets in a segment are 32-bit");
  if (l.pendingCommandsMax < l.batchCommandsMax)
    throw new Error("journalLimits: the backlog must hold a full batch");
  if (l.snapshotsRetained < 1) throw new Error("journalLimits: at least one snapshot must be kept");
}
assertJournalLimits();
