import { parseArgs } from 'node:util';
import path from 'node:path';
import { ArgumentError, DenseRetrievalError, WriteError } from '../errors.js';
import { joinNegativeValues, nearestFlag } from './args.js';
import { UsageError } from './errors.js';
import { packageVersion } from '../util/package.js';
import { COMMANDS } from './registry.js';
import type { CommandEntry } from './registry.js';
import { parseInteger } from '../util/number.js';

const PROGRAM = 'dense-retrieval';

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length), 8);
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    `Usage: ${PROGRAM} <command> [options]`,
    '',
    'Commands:',
    ...lines,
    '',
    `Run '${PROGRAM} <command> --help' for a command's options.`,
    'Every command that runs a model also takes --backend NAME and --threads N (wasm threads).',
    'Environment: DENSE_RETRIEVAL_BACKEND=tensorflow-gpu|tensorflow|wasm|cpu forces a tfjs backend;',
    '  DENSE_RETRIEVAL_WASM_THREADS=N sets the wasm thread count (default: one per core, at most 8).',
  ].join('\n');
}

/** Find the command named by the leading words of argv (commands may have two words, e.g. `index build`). */
function findCommand(argv: string[]): { entry: CommandEntry; rest: string[] } | undefined {
  for (const words of [2, 1]) {
    const name = argv.slice(0, words).join(' ');
    const entry = COMMANDS.find((c) => c.name === name);
    if (entry) return { entry, rest: argv.slice(words) };
  }
  return undefined;
}

/** Library parameter names that take a path the CLI passes on from a flag (`exportOnnx(encoder, dir)`). */
const PATH_PARAMETERS = new Set(['dir', 'file', 'path', 'source', 'out', 'output']);

/**
 * A library error about a path, retold in the terms the user typed: the library names its own parameter
 * (`dir: out exists and is not a directory`) or the path it could not write; the user gave a flag.
 */
function inFlagTerms(error: DenseRetrievalError, values: Record<string, unknown>): string {
  const flags = Object.entries(values).filter(
    (e): e is [string, string] => typeof e[1] === 'string' && e[1] !== '',
  );
  if (error instanceof WriteError) {
    const at = path.resolve(error.path);
    let best: [string, string] | undefined;
    for (const [flag, value] of flags) {
      const rel = path.relative(path.resolve(value), at);
      const inside = rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
      if (inside && (best === undefined || value.length > best[1].length)) best = [flag, value];
    }
    if (best === undefined) return error.message;
    return path.resolve(best[1]) === at
      ? `--${best[0]} ${error.message}`
      : `--${best[0]} ${best[1]}: ${error.message}`;
  }
  if (error instanceof ArgumentError && PATH_PARAMETERS.has(error.argument)) {
    for (const [flag, value] of flags) {
      // `dir: out exists ...` or `dir: out/onnx/model.onnx is a directory ...`: the flag's value, then a
      // space or a path inside it.
      const prefix = `${error.argument}: ${value}`;
      const next = error.message.charAt(prefix.length);
      if (
        error.message.startsWith(prefix) &&
        (next === ' ' || next === ':' || next === '/' || next === path.sep)
      )
        return `--${flag} ${error.message.slice(error.argument.length + 2)}`;
    }
  }
  return error.message;
}

/** The subcommands of a command group (`index` -> `build`, `search`), or none when `word` is no group. */
function subcommands(word: string): CommandEntry[] {
  return COMMANDS.filter((c) => c.name.startsWith(`${word} `));
}

function groupUsage(group: string, entries: CommandEntry[]): string {
  const width = Math.max(...entries.map((c) => c.name.length));
  return [
    `Usage: ${PROGRAM} ${group} <subcommand> [options]`,
    '',
    'Subcommands:',
    ...entries.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    `Run '${PROGRAM} ${group} <subcommand> --help' for a subcommand's options.`,
  ].join('\n');
}

/** Run the CLI on `argv` (without the node and script paths); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(usage() + '\n');
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === '--version' || argv[0] === '-v') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const found = findCommand(argv);
  const group = found === undefined ? subcommands(argv[0]) : [];
  if (group.length > 0 && (argv.length === 1 || argv[1].startsWith('-'))) {
    // `index` alone (or `index --help`) is a group, not a command: list what it holds.
    const help = argv[1] === '--help' || argv[1] === '-h';
    (help ? process.stdout : process.stderr).write(groupUsage(argv[0], group) + '\n');
    return help ? 0 : 2;
  }
  let values: Record<string, unknown> = {};
  try {
    if (!found && group.length > 0) {
      const names = group.map((c) => c.name.slice(argv[0].length + 1)).join(', ');
      throw new UsageError(`unknown subcommand '${argv[1]}' of '${argv[0]}' (${names})`);
    }
    if (!found) throw new UsageError(`unknown command '${argv[0]}' (see '${PROGRAM} --help')`);
    const { entry, rest } = found;
    const command = await entry.load();
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(command.help.trimEnd() + '\n');
      return 0;
    }
    let parsed;
    try {
      const options = {
        ...command.options,
        backend: { type: 'string' },
        threads: { type: 'string' },
      } as const;
      parsed = parseArgs({
        args: joinNegativeValues(rest, options),
        options,
        allowPositionals: true,
        strict: true,
      });
    } catch (error) {
      const message = (error as Error).message.split('\n')[0];
      const unknown = /^Unknown option '(-{1,2}[^']+)'/.exec(message);
      if (unknown) {
        const known = [...Object.keys(command.options), 'backend', 'threads', 'help'];
        const near = nearestFlag(unknown[1], known);
        const hint = near === undefined ? '' : `; did you mean --${near}?`;
        throw new UsageError(
          `${command.name}: Unknown option '${unknown[1]}'${hint} (see '${PROGRAM} ${command.name} --help')`,
        );
      }
      throw new UsageError(`${command.name}: ${message}`);
    }
    values = parsed.values;
    if (command.needsBackend) {
      // Imported here, not at the top: tfjs takes over a second to load, and commands without a model
      // (evaluate, --help) must start fast.
      const { initBackend } = await import('../backend/index.js');
      const { MAX_WASM_THREADS, wasmThreadCount } = await import('../backend/threaded-wasm.js');
      const backend = typeof parsed.values.backend === 'string' ? parsed.values.backend : undefined;
      const threads = typeof parsed.values.threads === 'string' ? parsed.values.threads : undefined;
      let wasmThreads: number | undefined;
      if (threads !== undefined) {
        wasmThreads = parseInteger(threads);
        if (wasmThreads === undefined || wasmThreads < 1 || wasmThreads > MAX_WASM_THREADS) {
          throw new UsageError(
            `--threads must be an integer from 1 to ${MAX_WASM_THREADS}, got '${threads}'`,
          );
        }
      }
      const name = await initBackend({ backend: backend as never, wasmThreads });
      const count = name === 'wasm' ? await wasmThreadCount() : 0;
      process.stderr.write(`${PROGRAM}: backend ${name}${count > 1 ? ` (${count} threads)` : ''}\n`);
    }
    const code = await command.run(parsed.values, parsed.positionals);
    return code ?? 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${PROGRAM}: error: ${error.message}\n`);
      return 2;
    }
    if (error instanceof DenseRetrievalError) {
      process.stderr.write(`${PROGRAM}: error: ${inFlagTerms(error, values)}\n`);
      return 1;
    }
    const err = error as NodeJS.ErrnoException;
    if (err && typeof err.code === 'string' && err.path !== undefined) {
      process.stderr.write(`${PROGRAM}: error: ${err.code}: ${err.path}\n`);
      return 1;
    }
    if (process.env.DENSE_RETRIEVAL_DEBUG) throw error;
    process.stderr.write(
      `${PROGRAM}: internal error: ${(err && err.message) || String(error)} (set DENSE_RETRIEVAL_DEBUG=1 for a stack trace)\n`,
    );
    return 70;
  }
}

// Run when executed as a program (the bin, or `tsx src/cli/main.ts`), not when imported by tests.
const invokedAs = process.argv[1] ?? '';
if (/(?:^|[\\/])(?:cli\.(?:c?js)|main\.ts|dense-retrieval(?:\.js)?)$/.test(invokedAs)) {
  // `dense-retrieval ... | head` closes the pipe early: progress and log lines then have no reader, which
  // must not kill the work (an unhandled EPIPE 'error' event would). The program's process, not the library's.
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
    });
  }
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`${PROGRAM}: internal error: ${String(error)}\n`);
      process.exitCode = 70;
    },
  );
}
