import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { InputFormatError } from '../errors.js';
import { writeDirAtomic, writeFileAtomic } from '../util/atomic.js';
import type { AdamW } from '../optim/adamw.js';
import { checkFloat32Entries, float32Sha256, readFloat32File } from '../util/float32-file.js';
import type { SamplerState } from './sampler.js';
import type { TrainingDataState } from './training-stream.js';

/**
 * Training checkpoints: everything needed to continue a run exactly where it stopped. A checkpoint is a
 * directory `step-<N>` written atomically with the raw float32 values of the model's trainable variables
 * (by position, so a fresh process with the same model layout can restore them), the AdamW state and
 * `trainer_state.json` (step, sampler position, seed and the run's configuration).
 */

/** Contents of `trainer_state.json`. */
export interface TrainerState {
  format: 'dense-retrieval.trainer-state';
  version: 1;
  /** Updates completed. */
  step: number;
  totalSteps: number;
  seed: number;
  batchSize: number;
  sampler: SamplerState;
  /** Number of training examples and a fingerprint of their texts: resuming on other data is refused. */
  examples: { count: number; fingerprint: string };
  /** Datasets, sampling and group size of a run given `TrainingData` (absent for a plain example list). */
  data?: TrainingDataState;
  loss: Record<string, unknown>;
  scheduler: Record<string, unknown>;
  /** Best-model tracking and early stopping, when the run has `metricForBestModel`. */
  bestModel?: BestModelState;
}

/** The best evaluation so far and the early-stopping counter, as a checkpoint records them. */
export interface BestModelState {
  /** The metric's key in the evaluation results, e.g. `ndcg_cut_10`. */
  metric: string;
  greaterIsBetter: boolean;
  /** The best evaluation so far (absent before the first one). */
  best?: { step: number; value: number; metrics: Record<string, number> };
  /** Evaluations since the last improvement larger than the threshold. */
  patienceCounter: number;
}

const CHECKPOINT_RE = /^step-(\d+)$/;

/** Directory name of the checkpoint after `step` updates. */
export function checkpointName(step: number): string {
  return `step-${String(step).padStart(8, '0')}`;
}

/** Write a checkpoint directory atomically. */
export async function writeCheckpoint(
  dir: string,
  variables: tf.Variable[],
  optimizer: AdamW,
  state: TrainerState,
): Promise<void> {
  await writeDirAtomic(dir, async (tmp) => {
    await writeWeightFiles(tmp, variables);
    await optimizer.saveState(tmp, variables);
    await writeFileAtomic(path.join(tmp, 'trainer_state.json'), JSON.stringify(state, null, 2) + '\n');
  });
}

/**
 * Write the variables' values as `weights.bin` (raw float32, in order) and `weights.json` (names, shapes,
 * offsets, sha256) into `dir`, the form {@link restoreWeights} reads.
 */
export async function writeWeightFiles(dir: string, variables: tf.Variable[]): Promise<void> {
  const entries: { name: string; shape: number[]; offset: number }[] = [];
  const parts: Float32Array[] = [];
  let offset = 0;
  for (const v of variables) {
    const data = (await v.data()) as Float32Array;
    entries.push({ name: v.name, shape: v.shape.slice(), offset });
    parts.push(data);
    offset += data.length;
  }
  const all = new Float32Array(offset);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  await writeFileAtomic(path.join(dir, 'weights.bin'), new Uint8Array(all.buffer));
  await writeFileAtomic(
    path.join(dir, 'weights.json'),
    JSON.stringify({ variables: entries, sha256: float32Sha256(all) }, null, 2) + '\n',
  );
}

/** The newest complete checkpoint under `checkpointsDir`, or undefined. */
export async function latestCheckpoint(checkpointsDir: string): Promise<string | undefined> {
  let names: string[];
  try {
    names = await fs.readdir(checkpointsDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const steps = names
    .map((n) => CHECKPOINT_RE.exec(n))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ name: m[0], step: Number(m[1]) }))
    .sort((a, b) => b.step - a.step);
  return steps.length === 0 ? undefined : path.join(checkpointsDir, steps[0].name);
}

/** Remove all but the newest `keep` checkpoints. */
export async function pruneCheckpoints(checkpointsDir: string, keep: number): Promise<void> {
  const names = (await fs.readdir(checkpointsDir)).filter((n) => CHECKPOINT_RE.test(n)).sort();
  for (const n of names.slice(0, Math.max(0, names.length - keep))) {
    await fs.rm(path.join(checkpointsDir, n), { recursive: true, force: true });
  }
}

/** Read `trainer_state.json` of a checkpoint. */
export async function readTrainerState(dir: string): Promise<TrainerState> {
  const file = path.join(dir, 'trainer_state.json');
  let state: TrainerState;
  try {
    state = JSON.parse(await fs.readFile(file, 'utf8')) as TrainerState;
  } catch (error) {
    throw new InputFormatError(`cannot read trainer state: ${(error as Error).message}`, file);
  }
  if (state === null || typeof state !== 'object') {
    throw new InputFormatError('expected a JSON object', file);
  }
  if (state.format !== 'dense-retrieval.trainer-state' || state.version !== 1) {
    throw new InputFormatError(`not a trainer state (format '${String(state.format)}')`, file);
  }
  return state;
}

/**
 * Assign a checkpoint's variable values to `variables` (same order and shapes as when written). Everything
 * is checked before the first assignment: a truncated `weights.bin`, an invalid `weights.json` or a shape
 * mismatch is an {@link InputFormatError} naming the file, and the model is left untouched.
 */
export async function restoreWeights(dir: string, variables: tf.Variable[]): Promise<void> {
  const jsonFile = path.join(dir, 'weights.json');
  let text: string;
  try {
    text = await fs.readFile(jsonFile, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputFormatError(code === 'ENOENT' ? 'missing' : `cannot read (${code})`, jsonFile);
  }
  let json: { variables?: unknown; sha256?: unknown };
  try {
    json = JSON.parse(text) as { variables?: unknown; sha256?: unknown };
  } catch (error) {
    throw new InputFormatError(`invalid JSON (${(error as Error).message})`, jsonFile);
  }
  if (json === null || typeof json !== 'object' || !Array.isArray(json.variables)) {
    throw new InputFormatError('expected an object with a "variables" list', jsonFile);
  }
  const entries = json.variables as { name: string; shape: number[]; offset: number }[];
  if (entries.length !== variables.length) {
    throw new InputFormatError(
      `checkpoint has ${entries.length} variables but the model has ${variables.length}`,
      jsonFile,
    );
  }
  // Checkpoints written before the checksum was recorded have none; they are still read.
  const sha = typeof json.sha256 === 'string' ? json.sha256 : undefined;
  const all = await readFloat32File(path.join(dir, 'weights.bin'), sha);
  const sizes = checkFloat32Entries(entries, all.length, jsonFile, 'weights.bin');
  entries.forEach((e, i) => {
    if (e.shape.join(',') !== variables[i].shape.join(',')) {
      throw new InputFormatError(
        `variable #${i} '${e.name}' has shape [${e.shape}] but the model's '${variables[i].name}' has [${variables[i].shape}]`,
        jsonFile,
      );
    }
  });
  entries.forEach((e, i) => {
    const t = tf.tensor(all.subarray(e.offset, e.offset + sizes[i]), e.shape);
    variables[i].assign(t);
    t.dispose();
  });
}
