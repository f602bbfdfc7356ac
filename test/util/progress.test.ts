import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createProgress } from '../../src/util/progress.js';

function fakeStream(isTTY: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  let out = '';
  const stream = {
    isTTY,
    columns: 200,
    write(chunk: string) {
      out += chunk;
      return true;
    },
  } as unknown as NodeJS.WriteStream;
  return { stream, text: () => out };
}

test('not on a TTY: plain lines with count, extras, rate, elapsed and ETA, never a redrawn bar', () => {
  const { stream, text } = fakeStream(false);
  const p = createProgress({ total: 4, label: 'train', unit: 'steps', stream, lineIntervalMs: 0 });
  p.tick(1, { loss: '0.9000', lr: '1.00e-3' });
  p.tick(1, { loss: '0.8000' });
  p.done();
  const lines = text().trimEnd().split('\n');
  assert.equal(lines.length, 3, text());
  assert.match(
    lines[0],
    /^train: 1\/4 steps \(25%\) loss=0\.9000 lr=1\.00e-3 [\d.]+ steps\/s elapsed \d\d:\d\d( ETA \d\d:\d\d)?$/,
  );
  assert.match(lines[1], /^train: 2\/4 steps \(50%\) loss=0\.8000 lr=1\.00e-3 /);
  assert.match(lines[2], /^train: 2\/4 steps \(50%\)/, 'done() closes with the final state');
  assert.ok(!text().includes('\r') && !text().includes('\x1b'), 'no terminal control characters');
});

test('not on a TTY: work shorter than the line interval prints nothing; quiet prints nothing at all', () => {
  const short = fakeStream(false);
  const p = createProgress({ total: 3, stream: short.stream });
  p.tick();
  p.done();
  assert.equal(short.text(), '');
  const quiet = fakeStream(false);
  const q = createProgress({ total: 3, stream: quiet.stream, quiet: true, lineIntervalMs: 0 });
  q.tick();
  q.done();
  assert.equal(quiet.text(), '');
});

test('on a TTY: a redrawn bar, no plain lines', () => {
  const { stream, text } = fakeStream(true);
  const p = createProgress({
    total: 2,
    label: 'encode',
    unit: 'texts',
    stream,
    lineIntervalMs: 0,
    intervalMs: 0,
  });
  p.tick();
  p.done();
  assert.match(text(), /^\rencode \[#+-*\] 1\/2 /);
  assert.ok(text().endsWith('\n'));
  assert.ok(!text().includes('encode: '));
});

test('log(): a line above a TTY bar (cleared and redrawn), a plain line elsewhere, nothing when quiet', () => {
  const tty = fakeStream(true);
  const p = createProgress({ total: 4, label: 'train', unit: 'steps', stream: tty.stream, intervalMs: 0 });
  p.tick(1);
  const before = tty.text().length;
  p.log('step 1: ndcg_cut_10 0.5000');
  const after = tty.text().slice(before);
  assert.ok(after.startsWith('\r\x1b[Kstep 1: ndcg_cut_10 0.5000\n'), JSON.stringify(after));
  assert.match(after.slice(after.indexOf('\n') + 1), /^\rtrain \[#+-+\] 1\/4 /, 'the bar is redrawn');
  p.done();
  p.log('after the bar');
  assert.ok(tty.text().endsWith('\nafter the bar\n'));

  const plain = fakeStream(false);
  const q = createProgress({ total: 4, stream: plain.stream });
  q.log('step 2: map 0.1000');
  q.done();
  assert.equal(plain.text(), 'step 2: map 0.1000\n');

  for (const isTTY of [true, false]) {
    const quiet = fakeStream(isTTY);
    const r = createProgress({ total: 4, stream: quiet.stream, quiet: true });
    r.log('hidden');
    r.done();
    assert.equal(quiet.text(), '');
  }
});
