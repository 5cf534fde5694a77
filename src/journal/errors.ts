/**
 * The journal's errors. Expected refusals of one command carry a code (the API maps them to 503/413);
 * damage on disk is a JournalCorruptionError naming the file and byte offset, and stops the start;
 * a failed write or fsync puts the pipeline in a failed state (fail-stop: nothing more is accepted).
 */
export type JournalErrorCode =
  | "JOURNAL_COMMAND_TOO_LARGE" // a string or the whole command is beyond journalLimits
  | "JOURNAL_INVALID_COMMAND" // a field the codec cannot store exactly (ill-formed string, unknown enum)
  | "JOURNAL_BACKLOG_FULL" // pendingCommandsMax commands wait for durability: retry later
  | "JOURNAL_FAILED" // a write or fsync failed: the process must restart and recover
  | "JOURNAL_CLOSED"
  | "JOURNAL_FENCED" // a newer leader holds the log (a higher epoch): this writer's appends are refused
  | "JOURNAL_UNAVAILABLE"; // the log's server did not confirm durability in time: the outcome is unknown

export class JournalError extends Error {
  override name = "JournalError";
  constructor(
    readonly code: JournalErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${message}`, options);
  }
}

/** Damage found on disk: where, and what. Only `bourse journal repair` truncates it. */
export class JournalCorruptionError extends Error {
  override name = "JournalCorruptionError";
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(
      `journal corruption in ${file} at byte offset ${offset}: ${reason}. ` +
        "Bourse will not start on a damaged journal; inspect it with `bourse journal verify`, and if losing " +
        "everything from this point on is acceptable, run `bourse journal repair --yes`.",
    );
  }
}
