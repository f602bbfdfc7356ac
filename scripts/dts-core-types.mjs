#!/usr/bin/env node
// Post-build step of `npm run build`: point the published type declarations at @tensorflow/tfjs-core instead
// of the @tensorflow/tfjs union. The public API only names core types (Tensor, Variable, Scalar...), while
// the union's declarations pull in tfjs-layers', which do not compile in a consumer project with
// `skipLibCheck: false` and `strict` (tfjs issue: LayersModel vs InferenceModel). test/docs/docs.test.ts
// type-checks the published declarations in such a project, so a type that core lacks fails there.
import { readFileSync, writeFileSync } from 'node:fs';

const UNION = /^(import\b[^\n]*?\bfrom\s+)(['"])@tensorflow\/tfjs\2/gm;
for (const file of ['dist/index.d.ts', 'dist/index.d.cts']) {
  const before = readFileSync(file, 'utf8');
  const after = before.replace(UNION, '$1$2@tensorflow/tfjs-core$2');
  if (after === before)
    throw new Error(`${file}: no import of @tensorflow/tfjs to rewrite (did tsup change?)`);
  writeFileSync(file, after);
}
