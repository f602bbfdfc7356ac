import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/cli.js';

/** What an example printed and how it ended. */
export interface ExampleResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Run `examples/<name>.ts` as a user would (`npx tsx examples/<name>.ts ...`, from the repository root), as a
 * child process through tsx, so that top-level code, flag parsing and exit codes are what is tested.
 */
export function runExample(
  name: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv } = {},
): Promise<ExampleResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(REPO_ROOT, 'examples', `${name}.ts`), ...args],
      {
        cwd: REPO_ROOT,
        env: { ...process.env, ...options.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** The capture groups of `re`'s first match in `text`, or a failure that shows the whole output. */
export function grab(text: string, re: RegExp): string[] {
  const m = re.exec(text);
  if (m === null) throw new Error(`no match for ${re} in output:\n${text}`);
  return m.slice(1);
}
