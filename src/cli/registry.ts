import type { Command } from './command.js';
import { evaluateCommand } from './commands/evaluate.js';
import { compareCommand } from './commands/compare.js';
import { fuseCommand } from './commands/fuse.js';
import { encodeCommand } from './commands/encode.js';
import { tokenizeCommand } from './commands/tokenize.js';
import { trainCommand } from './commands/train.js';
import { indexBuildCommand } from './commands/index-build.js';
import { indexSearchCommand } from './commands/index-search.js';
import { evaluateModelCommand } from './commands/evaluate-model.js';

/**
 * Every CLI command, in the order `--help` lists them. Each command lives in its own file under
 * `commands/`; add it here.
 */
export const COMMANDS: Command[] = [
  tokenizeCommand,
  encodeCommand,
  evaluateCommand,
  compareCommand,
  fuseCommand,
  trainCommand,
  indexBuildCommand,
  indexSearchCommand,
  evaluateModelCommand,
];
