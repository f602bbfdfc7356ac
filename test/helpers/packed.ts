import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { ensureBuilt } from './build.js';
import { REPO_ROOT } from './cli.js';
import { tmpDir } from './tmp.js';

let tarball: string | undefined;

/** `npm pack` of the current build, once per test file. */
export function packTarball(): string {
  if (tarball !== undefined) return tarball;
  ensureBuilt();
  const dir = tmpDir('dr-pack-');
  const out = execFileSync('npm', ['pack', '--pack-destination', dir, '--ignore-scripts', '--silent'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  tarball = path.join(dir, out.trim().split('\n').pop()!);
  return tarball;
}

function link(project: string, name: string): void {
  const target = path.join(REPO_ROOT, 'node_modules', name);
  const at = path.join(project, 'node_modules', name);
  if (existsSync(at)) return;
  mkdirSync(path.dirname(at), { recursive: true });
  symlinkSync(target, at, 'dir');
}

export interface PackedProject {
  /** The consumer project's root (has package.json and node_modules/). */
  dir: string;
  /** Environment for child processes: the package's bin on PATH, one wasm thread, offline hub. */
  env: NodeJS.ProcessEnv;
}

/**
 * An empty consumer project with the packed tarball installed as `node_modules/dense-retrieval`, as
 * `npm install <tarball>` lays it out, without the network or a dependency resolution: the tarball is
 * unpacked and each of its dependencies is a symlink into the repository's own `node_modules` (Node
 * resolves a symlinked package's own dependencies from its real path). Only what `files` in package.json
 * ships is there, which is the point.
 *
 * `optionalPeers` links optional peer dependencies too, as a user who followed a guide's install line has
 * them. `hideHnswlibBinary` installs a copy of hnswlib-node without its compiled `build/` directory: what a
 * machine without a C++ toolchain ends up with.
 */
export function installPacked(
  options: { type?: 'module' | 'commonjs'; hideHnswlibBinary?: boolean; optionalPeers?: string[] } = {},
): PackedProject {
  const dir = tmpDir('dr-consumer-');
  const pkgDir = path.join(dir, 'node_modules', 'dense-retrieval');
  mkdirSync(pkgDir, { recursive: true });
  execFileSync('tar', ['-xzf', packTarball(), '-C', pkgDir, '--strip-components=1']);
  writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: options.type ?? 'module' }, null, 2),
  );
  const pkg = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  for (const name of Object.keys(pkg.dependencies)) {
    if (name === 'hnswlib-node' && options.hideHnswlibBinary) {
      const source = path.join(REPO_ROOT, 'node_modules', name);
      cpSync(source, path.join(dir, 'node_modules', name), {
        recursive: true,
        filter: (file) => path.relative(source, file).split(path.sep)[0] !== 'build',
      });
      for (const dep of ['bindings', 'file-uri-to-path', 'node-addon-api']) link(dir, dep);
    } else {
      link(dir, name);
    }
  }
  // Optional peer dependencies a user installs when a guide says so (e.g. PGlite for pgvector).
  for (const name of options.optionalPeers ?? []) link(dir, name);
  // Type packages npm would hoist to the top (tfjs-core's d.ts use the global `Long` of @types/long), and
  // @types/node, which a TypeScript consumer installs itself.
  for (const types of ['node', 'long', 'offscreencanvas', 'seedrandom']) link(dir, `@types/${types}`);
  const bin = path.join(dir, 'node_modules', '.bin');
  mkdirSync(bin, { recursive: true });
  symlinkSync(
    path.join('..', 'dense-retrieval', 'bin', 'dense-retrieval.js'),
    path.join(bin, 'dense-retrieval'),
  );
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}`,
    DENSE_RETRIEVAL_WASM_THREADS: '1',
    DENSE_RETRIEVAL_CACHE: path.join(dir, 'cache'),
    HF_HUB_OFFLINE: '1',
    // onnxruntime-node's install script would download CUDA libraries; its CPU binary ships in the package.
    ONNXRUNTIME_NODE_INSTALL: 'skip',
    NODE_OPTIONS: '',
  };
  return { dir, env };
}

/** Files a directory tree holds, relative to it (for assertions on what was shipped). */
export function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}
