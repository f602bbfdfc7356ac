import assert from 'node:assert/strict';
import { test } from 'node:test';
import { grab, runExample } from './run-example.js';

test('gradient-cache --quick: the cached big batch needs a fraction of the plain big batch memory', async () => {
  const { code, stdout, stderr } = await runExample('gradient-cache', ['--quick']);
  assert.equal(code, 0, stderr);
  const row = (name: string) => {
    const [mib, loss] = grab(stdout, new RegExp(`^${name}\\s+peak\\s+([\\d.]+) MiB\\s+loss ([\\d.]+)$`, 'm'));
    return { mib: Number(mib), loss: Number(loss) };
  };
  const plainSmall = row('plain  batch 4');
  const plainBig = row('plain  batch 16');
  const cachedBig = row('cached batch 16 \\(chunks of 4\\)');
  // Activation memory grows with the batch for the plain loss, but only with the chunk for the cached one. At
  // --quick sizes the fixed part (the dense embedding-table gradient) dominates, so the margins are modest.
  assert.ok(plainBig.mib > 1.15 * plainSmall.mib, `plain 16 ${plainBig.mib} vs plain 4 ${plainSmall.mib}`);
  assert.ok(cachedBig.mib < 0.8 * plainBig.mib, `cached 16 ${cachedBig.mib} vs plain 16 ${plainBig.mib}`);
  assert.ok(cachedBig.mib <= plainSmall.mib * 1.5, `cached 16 ${cachedBig.mib} vs plain 4 ${plainSmall.mib}`);
  // Near-chance losses at random init: ln(B) for B candidates per query.
  assert.ok(Math.abs(plainSmall.loss - Math.log(4)) < 0.5, `loss ${plainSmall.loss}`);
  assert.ok(Math.abs(cachedBig.loss - Math.log(16)) < 0.5, `loss ${cachedBig.loss}`);

  const [ratio] = grab(stdout, /^cached 16 \/ plain 4: ([\d.]+)x memory/m).map(Number);
  assert.ok(Math.abs(ratio - cachedBig.mib / plainSmall.mib) < 0.02, `ratio ${ratio}`);

  for (const name of ['batch 4 \\(plain\\)', 'batch 16 \\(cached, chunks of 4\\)']) {
    const [first, last, ndcg] = grab(
      stdout,
      new RegExp(`^${name}\\s+loss ([\\d.]+) -> ([\\d.]+) .*nDCG@10 ([\\d.]+)$`, 'm'),
    ).map(Number);
    assert.ok(Number.isFinite(first) && Number.isFinite(last), `${name}: ${first} -> ${last}`);
    assert.ok(ndcg >= 0 && ndcg <= 1, `${name}: nDCG ${ndcg}`);
  }
  // Every model, optimizer state and gradient was disposed.
  assert.match(stdout, /^tensors left: 0$/m);
});

test('gradient-cache rejects a batch larger than the training set, naming the flag', async () => {
  const { code, stderr } = await runExample('gradient-cache', ['--quick', '--big', '5000']);
  assert.notEqual(code, 0);
  assert.match(stderr, /ArgumentError: --big: must be <= 919 \(train pairs\)/);
});

test('gradient-cache rejects a non-numeric flag value', async () => {
  const { code, stderr } = await runExample('gradient-cache', ['--quick', '--mini', 'x']);
  assert.notEqual(code, 0);
  assert.match(stderr, /ArgumentError: --mini: must be a positive number, got 'x'/);
});
