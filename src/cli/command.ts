import type { ParseArgsConfig } from 'node:util';

/** Option spec of a CLI command, in `node:util` `parseArgs` form. */
export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Parsed flag values of a command. */
export type OptionValues = Record<string, string | boolean | string[] | boolean[] | undefined>;

/** One `dense-retrieval <name>` sub-command. */
export interface Command {
  /** Name as typed, e.g. `evaluate` or `index build`. */
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Full `--help` text (usage line and options). */
  help: string;
  options: OptionSpec;
  /** Whether the command needs a tfjs backend (the CLI then initialises it and prints its name once). */
  needsBackend?: boolean;
  run(values: OptionValues, positionals: string[]): Promise<number | void>;
}
