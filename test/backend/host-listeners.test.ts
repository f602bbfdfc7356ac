import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withHostListeners } from '../../src/backend/host-listeners.js';

test('withHostListeners removes what a load added and puts back the host listeners a load removed', async () => {
  const host = (): void => undefined;
  const glue = (): void => undefined;
  process.on('uncaughtException', host);
  try {
    await withHostListeners(async () => {
      // What tfjs-backend-wasm's module dispose does: it removes every listener, the host's included.
      process.removeAllListeners('uncaughtException');
      process.on('uncaughtException', glue);
    });
    const now = process.rawListeners('uncaughtException');
    assert.ok(now.includes(host), "the host's handler is back");
    assert.ok(!now.includes(glue), "the loader's handler is gone");
  } finally {
    process.removeListener('uncaughtException', host);
  }
});
