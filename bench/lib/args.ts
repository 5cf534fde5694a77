/** Command-line options of the benchmarks. */

/** The word after `name` in `argv` (`--seconds 10` → "10"), or undefined when `name` is absent. */
export function argValue(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}
