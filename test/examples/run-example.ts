import { runTsScript } from '../helpers/cli.js';
import type { CliResult } from '../helpers/cli.js';

/** What an example printed and how it ended. */
export type ExampleResult = CliResult;

/**
 * Run `examples/<name>.ts` as a user would (`npx tsx examples/<name>.ts ...`, from the repository root).
 */
export function runExample(
  name: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<ExampleResult> {
  return runTsScript(`examples/${name}.ts`, args, options);
}

/** The capture groups of `re`'s first match in `text`, or a failure that shows the whole output. */
export function grab(text: string, re: RegExp): string[] {
  const m = re.exec(text);
  if (m === null) throw new Error(`no match for ${re} in output:\n${text}`);
  return m.slice(1);
}
