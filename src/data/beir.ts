import { promises as fs } from 'node:fs';
import path from 'node:path';
import { InputFormatError } from '../errors.js';
import type { CorpusDoc, Qrels } from '../types.js';
import { readJsonlRecords, stringField } from './jsonl.js';
import { readQrels } from './qrels.js';
import { checkOptionKeys } from '../util/options.js';

/** A BEIR dataset split held in memory. */
export interface BeirDataset {
  corpus: CorpusDoc[];
  /** Query id -> text, for the queries judged in the split only (as BEIR's loader does). */
  queries: Map<string, string>;
  qrels: Qrels;
}

/**
 * Stream the documents of a BEIR `corpus.jsonl` (`{"_id", "title"?, "text"}` per line), without holding
 * the corpus in memory. A missing title is read as `''`.
 *
 * @throws {InputFormatError} naming file and line for invalid JSON, a missing `_id` or `text`, a
 *   duplicate `_id`, or an empty file.
 * @example
 * ```ts
 * for await (const doc of streamCorpus('scifact/corpus.jsonl')) console.log(doc.id, doc.title);
 * ```
 */
export async function* streamCorpus(file: string): AsyncGenerator<CorpusDoc> {
  const firstLine = new Map<string, number>();
  for await (const { value, line, text: source } of readJsonlRecords(file)) {
    const id = stringField(value, '_id', file, line, source);
    const text = stringField(value, 'text', file, line, source);
    const rawTitle = (value as Record<string, unknown>).title;
    const title =
      rawTitle === undefined || rawTitle === null ? '' : stringField(value, 'title', file, line, source);
    const previous = firstLine.get(id);
    if (previous !== undefined) {
      throw new InputFormatError(`duplicate document id '${id}' (first at line ${previous})`, file, line);
    }
    firstLine.set(id, line);
    yield { id, title, text };
  }
  if (firstLine.size === 0) throw new InputFormatError('empty file: no documents', file);
}

/**
 * Read a BEIR `queries.jsonl` (`{"_id", "text"}` per line) into a map from id to text.
 *
 * @throws {InputFormatError} naming file and line for invalid JSON, a missing field, a duplicate `_id`,
 *   or an empty file.
 * @example
 * ```ts
 * const queries = await readQueries('scifact/queries.jsonl');
 * ```
 */
export async function readQueries(file: string): Promise<Map<string, string>> {
  const queries = new Map<string, string>();
  const firstLine = new Map<string, number>();
  for await (const { value, line, text: source } of readJsonlRecords(file)) {
    const id = stringField(value, '_id', file, line, source);
    const text = stringField(value, 'text', file, line, source);
    const previous = firstLine.get(id);
    if (previous !== undefined) {
      throw new InputFormatError(`duplicate query id '${id}' (first at line ${previous})`, file, line);
    }
    firstLine.set(id, line);
    queries.set(id, text);
  }
  if (queries.size === 0) throw new InputFormatError('empty file: no queries', file);
  return queries;
}

/**
 * List the splits of a BEIR dataset directory (`qrels/<split>.tsv`), sorted; empty if there are none.
 *
 * @example
 * ```ts
 * await listBeirSplits('data/scifact'); // ['test', 'train']
 * ```
 */
export async function listBeirSplits(dir: string): Promise<string[]> {
  try {
    const names = await fs.readdir(path.join(dir, 'qrels'));
    return names
      .filter((n) => n.endsWith('.tsv'))
      .map((n) => n.slice(0, -4))
      .sort();
  } catch {
    return [];
  }
}

/**
 * Load a BEIR dataset directory: `corpus.jsonl`, `queries.jsonl` and `qrels/<split>.tsv`. Like BEIR's
 * `GenericDataLoader`, only the queries judged in the split are kept.
 *
 * @param options.split qrels split to load, default `'test'`.
 * @throws {InputFormatError} if the split does not exist (the message lists those that do), if the
 *   qrels judge a query that `queries.jsonl` lacks, or for any bad line of the three files.
 * @example
 * ```ts
 * const { corpus, queries, qrels } = await loadBeir('data/scifact', { split: 'test' });
 * console.log(corpus.length, queries.size, qrels.size);
 * ```
 */
export async function loadBeir(dir: string, options: { split?: string } = {}): Promise<BeirDataset> {
  checkOptionKeys('loadBeir', options, ['split']);
  const split = options.split ?? 'test';
  const qrelsFile = path.join(dir, 'qrels', `${split}.tsv`);
  const stat = await fs.stat(dir).catch(() => undefined);
  if (stat === undefined || !stat.isDirectory()) {
    throw new InputFormatError(
      stat === undefined
        ? `no such directory (a BEIR dataset directory holds corpus.jsonl, queries.jsonl and qrels/<split>.tsv)`
        : 'is a file; expected a BEIR dataset directory',
      dir,
    );
  }
  try {
    await fs.access(qrelsFile);
  } catch {
    const splits = await listBeirSplits(dir);
    const available = splits.length > 0 ? `available splits: ${splits.join(', ')}` : 'no qrels/*.tsv found';
    throw new InputFormatError(`no split '${split}' in BEIR dataset ${dir} (${available})`, qrelsFile);
  }
  const qrels = await readQrels(qrelsFile);
  const queriesFile = path.join(dir, 'queries.jsonl');
  const allQueries = await readQueries(queriesFile);
  const queries = new Map<string, string>();
  for (const qid of qrels.keys()) {
    const text = allQueries.get(qid);
    if (text === undefined) {
      throw new InputFormatError(
        `qrels judge query '${qid}', which ${queriesFile} does not contain`,
        qrelsFile,
      );
    }
    queries.set(qid, text);
  }
  const corpus: CorpusDoc[] = [];
  for await (const doc of streamCorpus(path.join(dir, 'corpus.jsonl'))) corpus.push(doc);
  return { corpus, queries, qrels };
}
