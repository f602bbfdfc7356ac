import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { initBackend } from '../../src/backend/index.js';
import { InputFormatError } from '../../src/errors.js';
import { InBatchNegativesLoss } from '../../src/losses/in-batch-negatives.js';
import { BiEncoder } from '../../src/models/bi-encoder.js';
import { EVAL_LOG, formatEvaluationLine, readEvaluationLog } from '../../src/train/eval-log.js';
import type { EvaluationRecord } from '../../src/train/eval-log.js';
import { Trainer } from '../../src/train/trainer.js';
import type { StepRecord } from '../../src/train/trainer.js';
import { ToyEncoder } from '../losses/toy-encoder.js';
import { tmpDir } from '../helpers/tmp.js';

before(async () => {
  await initBackend();
});

const EXAMPLES = 'river mountain desert ocean forest glacier volcano canyon'.split(' ').map((t) => ({
  query: `what about the ${t}`,
  positive: `a ${t} far away`,
}));

function fakeStream(isTTY = false): { stream: NodeJS.WriteStream; text: () => string } {
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

const SCORES: Record<number, number> = { 2: 0.25, 4: 0.5, 6: 0.375 };

function trainer(dir: string | undefined, extra: Partial<ConstructorParameters<typeof Trainer>[0]> = {}) {
  const m = BiEncoder.tied(new ToyEncoder({ seed: 3, vocab: 64, embed: 8, hidden: 16, dim: 8 }));
  const t = new Trainer({
    model: m,
    loss: new InBatchNegativesLoss(),
    batchSize: 4,
    steps: 6,
    lr: 0.01,
    warmupSteps: 1,
    outputDir: dir,
    evaluateEvery: 2,
    evaluate: async (_m, step) => ({ score: SCORES[step], num_q: 12 }),
    metricForBestModel: 'score',
    ...extra,
  });
  return { m, t };
}

test('one summary line per evaluation through the progress path, and eval_log.jsonl with the best so far', async () => {
  const dir = tmpDir();
  const out = fakeStream(false);
  const seen: EvaluationRecord[] = [];
  const { m, t } = trainer(dir, { progressStream: out.stream, onEvaluate: (r) => void seen.push(r) });
  const result = await t.train(EXAMPLES);
  const lines = out
    .text()
    .split('\n')
    .filter((l) => l.startsWith('eval'));
  assert.deepEqual(lines, [
    'eval step 2/6: score 0.2500, num_q 12 (new best)',
    'eval step 4/6: score 0.5000, num_q 12 (new best)',
    'eval step 6/6: score 0.3750, num_q 12; best score 0.5000 at step 4',
  ]);
  const history = await readEvaluationLog(path.join(dir, EVAL_LOG));
  assert.deepEqual(history, result.evaluations);
  assert.deepEqual(history, seen);
  assert.deepEqual(history[2], {
    step: 6,
    epoch: 2,
    metrics: { score: 0.375, num_q: 12 },
    best: { step: 4, metric: 'score', value: 0.5 },
    isBest: false,
  });
  // train_log.jsonl keeps its form: the logged steps carry the results under `eval`.
  const log = readFileSync(path.join(dir, 'train_log.jsonl'), 'utf8').trim().split('\n');
  assert.deepEqual(
    log.map((l) => (JSON.parse(l) as StepRecord).eval?.score),
    [undefined, 0.25, undefined, 0.5, undefined, 0.375],
  );
  t.dispose();
  m.dispose();

  const quiet = fakeStream(false);
  const q = trainer(undefined, { progressStream: quiet.stream, quiet: true, metricForBestModel: undefined });
  const r = await q.t.train(EXAMPLES);
  assert.equal(quiet.text(), '', 'quiet prints nothing');
  assert.deepEqual(
    r.evaluations,
    [2, 4, 6].map((step) => ({
      step,
      epoch: (step - 2) / 2,
      metrics: { score: SCORES[step], num_q: 12 },
    })),
    'without metricForBestModel, no best fields',
  );
  q.t.dispose();
  q.m.dispose();
});

test('a resumed run rewrites the evaluations of the lost tail once', async () => {
  const dir = tmpDir();
  const killed = trainer(dir, {
    quiet: true,
    checkpointEvery: 3,
    onStep: (r) => {
      if (r.step === 5) throw new Error('killed');
    },
  });
  await assert.rejects(killed.t.train(EXAMPLES), /killed/);
  assert.deepEqual(
    (await readEvaluationLog(path.join(dir, EVAL_LOG))).map((r) => r.step),
    [2, 4],
  );
  killed.t.dispose();
  const resumed = trainer(dir, { quiet: true, checkpointEvery: 3 });
  await resumed.t.train(EXAMPLES, { resume: true });
  const history = await readEvaluationLog(path.join(dir, EVAL_LOG));
  assert.deepEqual(
    history.map((r) => [r.step, r.metrics.score, r.best?.step]),
    [
      [2, 0.25, 2],
      [4, 0.5, 4],
      [6, 0.375, 4],
    ],
  );
  resumed.t.dispose();
  for (const x of [killed, resumed]) x.m.dispose();
});

test('formatEvaluationLine and readEvaluationLog', async () => {
  assert.equal(
    formatEvaluationLine({ step: 3, epoch: 0, metrics: { ndcg_cut_10: 0.123456, num_q: 5 } }),
    'eval step 3: ndcg_cut_10 0.1235, num_q 5',
  );
  const dir = tmpDir();
  assert.deepEqual(await readEvaluationLog(path.join(dir, 'none.jsonl')), []);
  const bad = path.join(dir, EVAL_LOG);
  writeFileSync(bad, '{"step":1,"epoch":0,"metrics":{}}\n{"step":"x"}\n');
  await assert.rejects(
    readEvaluationLog(bad),
    (e: unknown) =>
      e instanceof InputFormatError && e.line === 2 && /expected an evaluation record/.test(e.message),
  );
  writeFileSync(bad, '{"step":1,\n');
  await assert.rejects(readEvaluationLog(bad), (e: unknown) => e instanceof InputFormatError && e.line === 1);
});
