import { defineConfig } from 'tsup';

export default defineConfig({
  // The encode worker is loaded by path (new URL('./parallel-encode-worker.js', import.meta.url)), so it
  // must be an entry of its own next to index.js.
  entry: {
    index: 'src/index.ts',
    cli: 'src/cli/main.ts',
    'parallel-encode-worker': 'src/models/parallel-encode-worker.ts',
  },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'src/index.ts' } },
  sourcemap: true,
  shims: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  // tfjs and the native/optional backends must resolve from the user's node_modules, never be bundled.
  external: [
    '@tensorflow/tfjs',
    '@tensorflow/tfjs-core',
    '@tensorflow/tfjs-backend-wasm',
    '@tensorflow/tfjs-node',
    '@tensorflow/tfjs-node-gpu',
    '@huggingface/tokenizers',
    'hnswlib-node',
  ],
});
