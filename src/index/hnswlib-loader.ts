import { createRequire } from 'node:module';
import type hnswlibTypes from 'hnswlib-node';
import { BackendError } from '../errors.js';

/** The `hnswlib-node` module (a native addon), as its typings describe it. */
export type Hnswlib = typeof hnswlibTypes;

let loaded: Hnswlib | undefined;

/**
 * `hnswlib-node`, loaded on first use. It is a native build (node-gyp): without its compiled binary
 * (no compiler on Windows, slim/alpine images) requiring it throws, and a top-level import would make the
 * whole package (and every CLI command) unusable for users who never build an HNSW index. Only
 * {@link HnswIndex} calls this, when a graph is built or loaded.
 *
 * @throws {BackendError} when the addon cannot be loaded, saying what to install.
 */
export function loadHnswlib(): Hnswlib {
  if (loaded !== undefined) return loaded;
  try {
    // createRequire (not import()): the HnswIndex constructor is synchronous, and hnswlib-node is CommonJS.
    const mod = createRequire(import.meta.url)('hnswlib-node') as Hnswlib & { default?: Hnswlib };
    loaded = mod.HierarchicalNSW === undefined && mod.default !== undefined ? mod.default : mod;
    return loaded;
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new BackendError(
      `HNSW indexes need the native package hnswlib-node, which cannot be loaded here (${reason}). ` +
        'Install it with a C++ toolchain present (npm install hnswlib-node; on Windows the "Desktop ' +
        'development with C++" build tools, on Alpine/slim images python3, make and g++), or use an exact index.',
    );
  }
}
