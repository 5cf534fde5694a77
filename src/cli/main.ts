#!/usr/bin/env -S node --max-semi-space-size=64
/**
 * The `bourse` command. Each group of subcommands lives in its own module and registers itself here.
 */
import { Command } from "commander";
import { registerAccounts } from "./accounts.js";
import { registerClusterCommands } from "./cluster.js";
import { registerHistoryCommands } from "./history.js";
import { registerJournalCommands } from "./journal.js";
import { registerStart } from "./start.js";

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("bourse")
    .description("Bourse: a real-time exchange core with a durable journal, cache and trade history")
    .version("0.1.0");
  registerStart(program);
  registerAccounts(program);
  registerJournalCommands(program);
  registerHistoryCommands(program);
  registerClusterCommands(program);
  return program;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  process.stderr.write(`bourse: ${(error as Error).message}\n`);
  process.exit(1);
}
