/**
 * Child-process probe of host-health.test.ts: a host application with its own error handling loads the
 * library. `PROBE_MODE` picks what it does:
 * - `uncaught`: installs an `uncaughtException` handler, calls `initBackend()`, then throws from a timer;
 *   its handler decides the process lives on and exits 0 after a moment.
 * - `rejection`: the same with an `unhandledRejection` handler and a rejected promise.
 * - `implicit`: never calls `initBackend()`; embeds with a scratch model and prints the backend it got.
 * - `cpu`: `initBackend({ backend: 'cpu' })`, then makes and reads a tensor.
 * It prints one JSON line with what it observed.
 */
import * as tf from '@tensorflow/tfjs';
import { currentBackend, initBackend, loadModel } from '../../src/index.js';

const mode = process.env.PROBE_MODE;
const events = ['uncaughtException', 'unhandledRejection', 'exit', 'warning'] as const;
const counts = (): number[] => events.map((e) => process.listenerCount(e));

if (mode === 'uncaught' || mode === 'rejection') {
  const event = mode === 'uncaught' ? 'uncaughtException' : 'unhandledRejection';
  process.on(event, (error: unknown) => {
    process.stdout.write(`handled ${(error as Error).message}\n`);
    setTimeout(() => {
      process.stdout.write('still alive\n');
      process.exit(0);
    }, 100);
  });
  const before = counts();
  const backend = await initBackend();
  process.stdout.write(JSON.stringify({ backend, before, after: counts() }) + '\n');
  if (mode === 'uncaught') {
    setTimeout(() => {
      throw new Error('host failure');
    }, 0);
  } else {
    void Promise.reject(new Error('host rejection'));
  }
} else if (mode === 'implicit') {
  const encoder = await loadModel(`scratch:${process.env.PROBE_CONFIG}`, { quiet: true, seed: 1 });
  const m = await encoder.encode(['a first text', 'another one']);
  process.stdout.write(
    JSON.stringify({ backend: currentBackend(), tf: tf.getBackend(), rows: m.rows }) + '\n',
  );
} else if (mode === 'cpu') {
  await initBackend({ backend: 'cpu' });
  const t = tf.tensor1d([1, 2, 3]);
  const sum = tf.sum(t).dataSync()[0];
  process.stdout.write(JSON.stringify({ backend: tf.getBackend(), sum }) + '\n');
}
