import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readQueries, streamCorpus } from '../../data/beir.js';
import { InputFormatError } from '../../errors.js';
import type { TrainingExample } from '../../train/examples.js';
import { readTrainingFile } from '../../train/training-data.js';
import type { CorpusDoc } from '../../types.js';
import { UsageError } from '../errors.js';

/**
 * `train --train-file FILE` (repeatable): the JSONL training files as named datasets. A dataset's name is
 * its file name without `.jsonl` (the path when two files share a name), as sentence-transformers names the
 * datasets of a `DatasetDict`.
 */
export async function readTrainFiles(
  files: string[],
  data: string | undefined,
): Promise<Record<string, TrainingExample[]>> {
  for (const f of files) {
    if (f === '') throw new UsageError('--train-file needs a file name');
  }
  let resolve: { queries: Map<string, string>; corpus: Map<string, CorpusDoc> } | undefined;
  if (data !== undefined) resolve = await readQueriesAndCorpus(data);
  const base = (f: string) => path.basename(f).replace(/\.jsonl$/i, '');
  const names = files.map((f) => (files.filter((g) => base(g) === base(f)).length > 1 ? f : base(f)));
  if (new Set(names).size !== names.length) {
    throw new UsageError(`--train-file: a file is given twice (${files.join(', ')})`);
  }
  const out: Record<string, TrainingExample[]> = {};
  for (const [i, file] of files.entries()) {
    const stat = await fs.stat(file).catch(() => undefined);
    if (stat === undefined) throw new UsageError(`--train-file: no such file: ${file}`);
    out[names[i]] = await readTrainingFile(file, resolve ?? {});
  }
  return out;
}

/**
 * All queries and the corpus of a BEIR directory, for the id form (no qrels split: a training file names
 * its own pairs, and mined files name queries of any split).
 */
async function readQueriesAndCorpus(
  dir: string,
): Promise<{ queries: Map<string, string>; corpus: Map<string, CorpusDoc> }> {
  const stat = await fs.stat(dir).catch(() => undefined);
  if (stat === undefined || !stat.isDirectory()) {
    throw new InputFormatError(
      stat === undefined
        ? 'no such directory (a BEIR dataset directory holds corpus.jsonl and queries.jsonl)'
        : 'is a file; expected a BEIR dataset directory',
      dir,
    );
  }
  for (const f of ['queries.jsonl', 'corpus.jsonl']) {
    const file = path.join(dir, f);
    if ((await fs.stat(file).catch(() => undefined)) === undefined) {
      throw new InputFormatError(`no ${f} in BEIR dataset ${dir}`, file);
    }
  }
  const queries = await readQueries(path.join(dir, 'queries.jsonl'));
  const corpus = new Map<string, CorpusDoc>();
  for await (const doc of streamCorpus(path.join(dir, 'corpus.jsonl'))) corpus.set(doc.id, doc);
  return { queries, corpus };
}
