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

/**
 * Put the `process` listeners back as they were in `before`: remove every listener the load added (for every
 * event, not only the two known ones), and re-add the host's `uncaughtException` / `unhandledRejection`
 * listeners the load removed. tfjs-backend-wasm's post-js records
 * "the listeners it added" with a filter that keeps every listener (`!a.indexOf(l) > -1` is always true), so
 * disposing a module (the threaded build falling back to one thread does) removes the host's own handlers.
 */
function restore(before: Map<string | symbol, Listener[]>): void {
  for (const event of process.eventNames()) {
    const kept = new Set(before.get(event) ?? []);
    for (const listener of process.rawListeners(event) as Listener[]) {
      if (!kept.has(listener)) process.removeListener(event, listener);
    }
  }
  // Only the two events the glue's dispose clears: elsewhere a listener gone during the load was removed
  // on purpose (a `once` listener that fired, a listener its owner took back) and must stay gone.
  for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
    const now = new Set(process.rawListeners(event) as Listener[]);
    for (const listener of before.get(event) ?? []) if (!now.has(listener)) process.on(event, listener);
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
