// Child process of model-dir.test.ts: saves two versions of a model directory into argv[2] in a loop until
// killed. Every file of version v holds the text `v<n>` padded to a size, so a mix is easy to recognise.
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { writeModelDir } from '../../src/checkpoint/model-dir.js';

const dir = process.argv[2];
const FILES = ['config.json', 'model.safetensors', 'tokenizer.json', '1_Pooling/config.json', 'modules.json'];

for (let n = 0; ; n++) {
  const tag = `v${n % 2}`;
  await writeModelDir(dir, async (tmp) => {
    for (const f of FILES) {
      mkdirSync(path.dirname(path.join(tmp, f)), { recursive: true });
      // Different sizes per version, so some mixes differ in size and others only in content.
      writeFileSync(path.join(tmp, f), tag.repeat(f === 'model.safetensors' ? 200_000 : 10 + (n % 2)));
    }
  });
  if (n === 0) process.stdout.write('ready\n');
}
