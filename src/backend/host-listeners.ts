/**
 * Keeps the host process's event handlers as they were while a backend loads.
 *
 * Emscripten's Node glue (every build tfjs-backend-wasm ships, threaded or not) runs
 * `process.on('uncaughtException', ex => { throw ex })` and `process.on('unhandledRejection', r => { throw r })`
 * when its module starts. In someone else's server that turns any uncaught error, even one the host handles
 * with its own `uncaughtException` listener, into a crash (exit 7) blamed on tfjs, and prints the glue's
 * minified source. A library must leave the host's error handling as it found it.
 */

type Listener = (...args: unknown[]) => void;

function snapshot(): Map<string | symbol, Listener[]> {
  const before = new Map<string | symbol, Listener[]>();
  for (const event of process.eventNames()) {
    before.set(event, process.rawListeners(event) as Listener[]);
  }
  return before;
}

/** Remove every `process` listener that is not in `before` (for every event, not only the two known ones). */
function restore(before: Map<string | symbol, Listener[]>): void {
  for (const event of process.eventNames()) {
    const kept = new Set(before.get(event) ?? []);
    for (const listener of process.rawListeners(event) as Listener[]) {
      if (!kept.has(listener)) process.removeListener(event, listener);
    }
  }
}

/**
 * Run `load` and then remove whatever `process` listeners it added, on success and on failure alike.
 * Nested calls are fine (the inner one restores its own snapshot first).
 */
export async function withHostListeners<T>(load: () => Promise<T>): Promise<T> {
  const before = snapshot();
  try {
    return await load();
  } finally {
    restore(before);
  }
}
