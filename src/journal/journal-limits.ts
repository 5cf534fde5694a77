/**
 * Every bound of the journal, named, with its relations asserted at load (TigerBeetle's habit).
 * To be folded into src/limits.ts by the lead; kept here while both files change concurrently.
 */
export const journalLimits = {
  /** Bytes of one encoded command body. A bigger command is refused before it reaches the engine. JOURNAL_COMMAND_TOO_LARGE */
  commandBytesMax: 1_024,
  /** UTF-8 bytes of one string field of a command (symbol, asset, clientOrderId, transferId). JOURNAL_COMMAND_TOO_LARGE */
  commandStringBytesMax: 255,
  /** Records in one group-commit batch (one write + one fdatasync). */
  batchCommandsMax: 8_192,
  /** Bytes of one group-commit batch. */
  batchBytesMax: 1_048_576,
  /** Commands applied but not yet durable (the output gate's backlog). Beyond: JOURNAL_BACKLOG_FULL. */
  pendingCommandsMax: 200_000,
  /** A segment file is closed and the next one started before it would exceed this size. */
  segmentBytesMax: 67_108_864,
  /** Periodic snapshots: after this many commands... */
  snapshotEveryCommands: 1_000_000,
  /** ...or this much time with at least one new command, whichever comes first. */
  snapshotEveryMs: 600_000,
  /** Snapshots kept; segments wholly older than the oldest kept one are removed or archived. */
  snapshotsRetained: 2,
  /** Bytes of one snapshot file (engine state). */
  snapshotBytesMax: 4_294_967_295,
  /** Durable batches queued for the snapshot follower before it is dropped (snapshots pause until restart). */
  followerBacklogBytesMax: 268_435_456,
  /** Bytes of journal to replay above which recovery shows a progress bar (on a terminal). */
  progressBytesMin: 67_108_864,
} as const;

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
