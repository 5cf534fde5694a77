/** A replay progress bar on a terminal (cli-progress), silent elsewhere. */
import cliProgress from "cli-progress";
import { journalLimits } from "./journal-limits.js";
import type { ReplayProgress } from "./recovery.js";

export function terminalProgress(label: string, stream: NodeJS.WriteStream = process.stderr): ReplayProgress {
  if (!stream.isTTY) return { start() {}, update() {}, stop() {} };
  let bar: cliProgress.SingleBar | null = null;
  return {
    start(totalBytes) {
      // Small replays finish before a bar would be read.
      if (totalBytes < journalLimits.progressBytesMin) return;
      bar = new cliProgress.SingleBar(
        {
          format: `${label} [{bar}] {percentage}% | {value}/{total} MB | eta {eta}s`,
          stream,
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(Math.ceil(totalBytes / 1_048_576), 0);
    },
    update(doneBytes) {
      bar?.update(Math.floor(doneBytes / 1_048_576));
    },
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}
