/**
 * tfjs for the index kinds that can run their scans as matrix products (exact float search, the int8
 * code scan), imported only when a host has already loaded tfjs and initialised a backend. Those kinds
 * also have plain-JS scans, so a search never loads tfjs by itself: an HNSW, binary or pgvector search, or
 * an exact search in a process that never initialised a backend, costs no tfjs start-up, and tfjs never
 * picks a backend (its cpu one, with its console banner) behind the host's back.
 */
import type * as TfModule from '@tensorflow/tfjs';

/** The tfjs module's namespace. */
export type Tf = typeof TfModule;

/**
 * The tfjs module and its backend name when a tfjs engine exists in this process with a backend set
 * (tfjs keeps one engine per process in the global `_tfengine`, created when tfjs-core is first
 * imported); undefined otherwise, without importing anything.
 */
export async function tfWithBackend(): Promise<{ tf: Tf; backend: string } | undefined> {
  const engine = (globalThis as { _tfengine?: { backendName?: string | null } })._tfengine;
  if (engine === undefined || engine === null || typeof engine.backendName !== 'string') return undefined;
  const tf = await import('@tensorflow/tfjs');
  return { tf, backend: engine.backendName };
}
