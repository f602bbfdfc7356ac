import type { Command } from './command.js';

/**
 * Every CLI command, in the order `--help` lists them. Each command lives in its own file under
 * `commands/`; add it here.
 */
export const COMMANDS: Command[] = [];
