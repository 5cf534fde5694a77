#!/usr/bin/env node
/**
 * The `bourse` command. Each group of subcommands lives in its own module and registers itself here.
 */
import { Command } from "commander";
import { registerJournalCommands } from "./journal.js";

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("bourse")
    .description("Bourse: a real-time exchange core with a durable journal, cache and trade history")
    .version("0.1.0");
  program
    .command("start")
    .description("run Bourse (for now: the engine demo; the API server arrives with the API issue)")
    .action(async () => {
      const { runDemo } = await import("./demo.js");
      await runDemo();
    });
  registerJournalCommands(program);
  return program;
}

await buildProgram().parseAsync(process.argv);
