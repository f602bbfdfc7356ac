import { spawn } from 'node:child_process';
import path from 'node:path';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

const ROOT = path.resolve(import.meta.dirname, '..', '..');
// Resolved here, not by the child: a child started in another cwd (a test's temp dir) could not find 'tsx'.
const TSX = import.meta.resolve('tsx');

/**
 * Run a TypeScript entry point of the repository (relative to its root) as a child process through tsx, as a
 * user would run it, so that top-level code, flag parsing and exit codes are what is tested.
 */
export function runTsScript(
  script: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, path.join(ROOT, script), ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Run the CLI from source (through tsx) as a child process, as a user would run the bin. */
export function runCli(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<CliResult> {
  return runTsScript('src/cli/main.ts', args, options);
}

export const REPO_ROOT = ROOT;
