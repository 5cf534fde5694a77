/** The Journal port suite on the file journal (on the simulated disk). The Redis journal runs it in test/cluster. */
import { describe } from "node:test";
import { FileJournal } from "../../src/journal/file-journal.js";
import { Prng } from "../../src/platform/prng.js";
import { SimulatedFileSystem } from "../../src/platform/simulated-file-system.js";
import { journalPortSuite } from "./port-suite.js";

describe("journal port: file journal", () => {
  let fs = new SimulatedFileSystem(new Prng(1), { autoSync: true });
  journalPortSuite({
    async fresh() {
      fs = new SimulatedFileSystem(new Prng(1), { autoSync: true });
      fs.mkdirp("/data");
    },
    journal: (bounds) =>
      new FileJournal({ fs, dir: "/data", segmentBytesMax: 64 * 1024, batchBytesMax: 8 * 1024, ...bounds }),
  });
});
