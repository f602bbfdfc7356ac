import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { ArgumentError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { checkOptionKeys, optionKeys } from '../util/options.js';
import { packageVersion } from '../util/package.js';
import type { EvaluationRecord } from './eval-log.js';
import { describeModelDir, formatArchitecture } from './model-architecture.js';
import type { ModelArchitecture } from './model-architecture.js';

/**
 * The model card of a trained model: `README.md` in the Hugging Face model-card format (YAML front matter
 * with the Hub's metadata keys, then Markdown), with the sections sentence-transformers' trainer writes:
 * model details and the module tree, usage in Python and here, the evaluation, the training dataset, loss,
 * hyperparameters and logs.
 */

/** File name of the model card in a model directory. */
export const MODEL_CARD = 'README.md';

/**
 * Last line of a card this library wrote: the sha256 of everything above it. A README.md without it, or
 * whose text no longer matches it (edited by hand), is the user's and is never overwritten implicitly.
 */
const MARKER_RE = /\n<!-- dense-retrieval model card; sha256 ([0-9a-f]{64}) -->\n?$/;

/** The evaluation of the saved model, as the card's metrics table and `model-index` show it. */
export interface ModelCardEvaluation {
  /** Dataset name, e.g. `scifact`. */
  dataset: string;
  split?: string;
  /** trec_eval results, e.g. `{ ndcg_cut_10: 0.41, recall_100: 0.83 }`. */
  metrics: Record<string, number>;
  /** The training step the saved weights are from. */
  step?: number;
  /** The metric that chose the saved weights among the evaluations (best-model selection). */
  selectedBy?: string;
}

/** Options of {@link writeModelCard}. */
export interface ModelCardOptions {
  /** Title; default the directory's name. */
  modelName?: string;
  /** What the model was trained from: a Hub id (linked, and `base_model` in the metadata) or a path. */
  baseModel?: string;
  /** Training datasets (Hub dataset ids or names). */
  datasets?: string[];
  /** Number of training examples (`dataset_size:N` tag). */
  trainingExamples?: number;
  language?: string[];
  license?: string;
  /** Extra tags, after the standard ones. */
  tags?: string[];
  /** The loss as its `toJSON()` gives it (`kind` and settings). */
  loss?: Record<string, unknown>;
  /** Training settings shown in the hyperparameters table, e.g. `{ batch_size: 32, learning_rate: 2e-5 }`. */
  hyperparameters?: Record<string, string | number | boolean | undefined>;
  evaluation?: ModelCardEvaluation;
  /** The evaluations during training (`eval_log.jsonl`), shown as the training-log table. */
  evaluationHistory?: EvaluationRecord[];
  /** Replace a README.md this library did not write (or that was edited since). Default false. */
  overwrite?: boolean;
}

const CARD_KEYS = optionKeys<ModelCardOptions>({
  modelName: true,
  baseModel: true,
  datasets: true,
  trainingExamples: true,
  language: true,
  license: true,
  tags: true,
  loss: true,
  hyperparameters: true,
  evaluation: true,
  evaluationHistory: true,
  overwrite: true,
});

/** What {@link writeModelCard} did. */
export interface ModelCardResult {
  file: string;
  /** False when a README.md written by someone else was left in place. */
  written: boolean;
}

const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

/** sentence-transformers' class for a loss `kind` (the name its model cards use); others in PascalCase. */
function lossName(loss: Record<string, unknown>): string {
  const kind = String(loss.kind ?? 'unknown');
  const symmetric = loss.symmetric === true ? 'Symmetric' : '';
  const known: Record<string, string> = {
    'in-batch-negatives': `MultipleNegatives${symmetric}RankingLoss`,
    'cached-in-batch-negatives': `CachedMultipleNegatives${symmetric}RankingLoss`,
    'margin-mse': 'MarginMSELoss',
    'distill-kl': 'DistillKLDivLoss',
    'distill-kl-div': 'DistillKLDivLoss',
    'gist-embed': 'GISTEmbedLoss',
    'cached-gist-embed': 'CachedGISTEmbedLoss',
    matryoshka: 'MatryoshkaLoss',
  };
  if (known[kind] !== undefined) return known[kind];
  const pascal = kind.replace(/(^|[-_])(\w)/g, (_, _s: string, c: string) => c.toUpperCase());
  return pascal.endsWith('Loss') ? pascal : `${pascal}Loss`;
}

/** Display names of trec_eval measures, as model cards write them (`ndcg_cut_10` -> `nDCG@10`). */
function measureName(key: string): string {
  const m = /^(ndcg_cut|recall|P|map_cut|success)_(\d+)$/.exec(key);
  if (m === null) return key === 'map' ? 'MAP' : key === 'recip_rank' ? 'MRR' : key;
  const family: Record<string, string> = {
    ndcg_cut: 'nDCG',
    recall: 'Recall',
    P: 'P',
    map_cut: 'MAP',
    success: 'Success',
  };
  return `${family[m[1]]}@${m[2]}`;
}

// The front matter is emitted here rather than with a YAML library: its shape is fixed (strings, numbers,
// lists and the Hub's model-index), and every string is written JSON-quoted, which is a valid YAML 1.2
// double-quoted scalar, so no value can be misread (`yes`, `1e5`, `: `) whatever it contains.
type Yaml = string | number | boolean | Yaml[] | { [key: string]: Yaml | undefined };

function yamlLines(value: Yaml, indent: string): string[] {
  if (Array.isArray(value)) {
    return value.flatMap((item) => {
      const lines = yamlLines(item, `${indent}  `);
      if (typeof item === 'object') return [`${indent}- ${lines[0].trimStart()}`, ...lines.slice(1)];
      return [`${indent}- ${lines[0].trimStart()}`];
    });
  }
  if (typeof value === 'object') {
    return Object.entries(value).flatMap(([key, v]) => {
      if (v === undefined) return [];
      if (typeof v === 'object') {
        if (Array.isArray(v) && v.length === 0) return [`${indent}${key}: []`];
        return [`${indent}${key}:`, ...yamlLines(v, Array.isArray(v) ? indent : `${indent}  `)];
      }
      return [`${indent}${key}: ${yamlLines(v, '')[0]}`];
    });
  }
  if (typeof value === 'number') return [Number.isFinite(value) ? String(value) : '.nan'];
  if (typeof value === 'boolean') return [String(value)];
  return [`${indent}${JSON.stringify(value)}`];
}

/** Markdown table from a header and rows (cells escaped for `|`). */
function table(header: string[], rows: string[][], align: string[]): string {
  const cell = (c: string) => c.replace(/\|/g, '\\|');
  return [
    `| ${header.map(cell).join(' | ')} |`,
    `|${align.join('|')}|`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ].join('\n');
}

const fmt = (v: number): string => (Number.isInteger(v) ? String(v) : v.toFixed(4));

/**
 * The model card text for `dir`'s saved files and the training facts in `options` (without the ownership
 * marker {@link writeModelCard} appends).
 */
export function renderModelCard(
  arch: ModelArchitecture,
  options: ModelCardOptions & { dir: string },
): string {
  const name = options.modelName ?? path.basename(path.resolve(options.dir));
  const base = options.baseModel;
  const hubBase = base !== undefined && HUB_ID.test(base) ? base : undefined;
  const evaluation = options.evaluation;
  const loss = options.loss && lossName(options.loss);
  const tags = [
    'sentence-transformers',
    'sentence-similarity',
    'feature-extraction',
    'dense-retrieval',
    'generated_from_trainer',
    ...(options.trainingExamples !== undefined ? [`dataset_size:${options.trainingExamples}`] : []),
    ...(loss !== undefined ? [`loss:${loss}`] : []),
    ...(options.tags ?? []),
  ];
  const metricKeys = evaluation ? Object.keys(evaluation.metrics).filter((k) => !k.startsWith('num_')) : [];
  const front: Yaml = {
    ...(options.language && { language: options.language }),
    ...(options.license && { license: options.license }),
    library_name: 'sentence-transformers',
    pipeline_tag: 'sentence-similarity',
    tags,
    ...(hubBase && { base_model: hubBase }),
    ...(options.datasets && options.datasets.length > 0 && { datasets: options.datasets }),
    ...(evaluation && {
      metrics: metricKeys,
      'model-index': [
        {
          name,
          results: [
            {
              task: { type: 'information-retrieval', name: 'Information Retrieval' },
              dataset: {
                name: evaluation.split ? `${evaluation.dataset} (${evaluation.split})` : evaluation.dataset,
                type: evaluation.dataset,
                ...(evaluation.split && { split: evaluation.split }),
              },
              metrics: metricKeys.map((k) => ({
                type: k,
                value: evaluation.metrics[k],
                name: measureName(k),
              })),
            },
          ],
        },
      ],
    }),
  };
  const similarity =
    arch.similarity === 'cosine'
      ? 'Cosine Similarity'
      : arch.similarity === 'dot'
        ? 'Dot Product'
        : arch.similarity;
  const baseText =
    base === undefined
      ? ''
      : hubBase
        ? ` finetuned from [${hubBase}](https://huggingface.co/${hubBase})`
        : ` trained from \`${base}\``;
  const on = options.datasets && options.datasets.length > 0 ? ` on ${options.datasets.join(', ')}` : '';
  const out: string[] = [];
  out.push('---', ...yamlLines(front, ''), '---', '');
  out.push(`# ${name}`, '');
  out.push(
    `This is a [sentence-transformers](https://www.SBERT.net) model${baseText}${on}, trained with ` +
      `[dense-retrieval](https://www.npmjs.com/package/dense-retrieval) (TensorFlow.js). It maps queries and ` +
      `passages to a ${arch.dimension ?? '?'}-dimensional dense vector space for semantic search (dense retrieval).`,
    '',
  );
  out.push('## Model Details', '', '### Model Description', '');
  const type =
    arch.layout === 'modules'
      ? 'Sentence Transformer (one encoder for queries and passages)'
      : 'Sentence Transformer with separate query and passage encoders';
  out.push(`- **Model Type:** ${type}`);
  if (base !== undefined)
    out.push(
      `- **Base model:** ${hubBase ? `[${hubBase}](https://huggingface.co/${hubBase})` : `\`${base}\``}`,
    );
  if (arch.maxSeqLength !== undefined) out.push(`- **Maximum Sequence Length:** ${arch.maxSeqLength} tokens`);
  if (arch.dimension !== undefined) out.push(`- **Output Dimensionality:** ${arch.dimension} dimensions`);
  if (similarity !== undefined) out.push(`- **Similarity Function:** ${similarity}`);
  if (on !== '') out.push(`- **Training Dataset:** ${options.datasets!.join(', ')}`);
  if (options.language) out.push(`- **Language:** ${options.language.join(', ')}`);
  if (options.license) out.push(`- **License:** ${options.license}`);
  out.push('', '### Full Model Architecture', '', '```', formatArchitecture(arch), '```', '');

  const prompts = arch.prompts ?? {};
  out.push(
    '## Usage',
    '',
    '### Direct Usage (Sentence Transformers)',
    '',
    'First install the Sentence Transformers library:',
    '',
  );
  out.push(
    '```bash',
    'pip install -U sentence-transformers',
    '```',
    '',
    'Then load this model and run inference:',
    '',
  );
  out.push('```python', 'from sentence_transformers import SentenceTransformer', '');
  out.push(`model = SentenceTransformer(${JSON.stringify(name)})  # this directory, or its Hub id`);
  out.push(
    'queries = ["what is dense retrieval?"]',
    'passages = ["Dense retrieval ranks passages by the similarity of learned embeddings."]',
  );
  if (arch.layout === 'modules' && Object.keys(prompts).length === 0) {
    out.push('query_embeddings = model.encode(queries)', 'passage_embeddings = model.encode(passages)');
  } else {
    out.push('# sentence-transformers >= 5: the query and document routes and prompts');
    out.push(
      'query_embeddings = model.encode_query(queries)',
      'passage_embeddings = model.encode_document(passages)',
    );
  }
  out.push('print(model.similarity(query_embeddings, passage_embeddings))', '```', '');
  out.push(
    '### In JavaScript (dense-retrieval)',
    '',
    '```ts',
    "import { loadRetrievalModel } from 'dense-retrieval';",
    '',
  );
  out.push(`const model = await loadRetrievalModel(${JSON.stringify(name)}); // this directory`);
  out.push("const queries = await model.encodeQueries(['what is dense retrieval?']);");
  out.push(
    "const passages = await model.encodePassages(['Dense retrieval ranks passages by learned embeddings.']);",
  );
  out.push('model.dispose();', '```', '');
  out.push(
    'or from the command line: `dense-retrieval encode --model DIR --input texts.txt --output embeddings.npy`.',
    '',
  );

  if (evaluation) {
    out.push('## Evaluation', '', '### Metrics', '', '#### Information Retrieval', '');
    out.push(
      `* Dataset: \`${evaluation.dataset}\`${evaluation.split ? ` (split \`${evaluation.split}\`)` : ''}`,
    );
    out.push('* Evaluated with exhaustive search over the corpus, trec_eval measures');
    if (evaluation.step !== undefined) {
      const how = evaluation.selectedBy
        ? `, the best of the evaluations during training by \`${evaluation.selectedBy}\``
        : '';
      out.push(`* Weights of training step ${evaluation.step}${how}`);
    }
    out.push(
      '',
      table(
        ['Metric', 'Value'],
        Object.entries(evaluation.metrics).map(([k, v]) => [k, fmt(v)]),
        [':-------', '-----:'],
      ),
      '',
    );
  }

  out.push('## Training Details', '');
  if (on !== '' || options.trainingExamples !== undefined) {
    out.push('### Training Dataset', '');
    if (on !== '') out.push(`- ${options.datasets!.join(', ')}`);
    if (options.trainingExamples !== undefined)
      out.push(`- Size: ${options.trainingExamples} training examples`);
    out.push('');
  }
  if (options.loss) {
    out.push(
      '### Loss',
      '',
      `[\`${loss}\`](https://sbert.net/docs/package_reference/sentence_transformer/losses.html) with these parameters:`,
      '',
    );
    out.push('```json', JSON.stringify(options.loss, null, 2), '```', '');
  }
  const hp = Object.entries(options.hyperparameters ?? {}).filter(([, v]) => v !== undefined);
  if (hp.length > 0) {
    out.push(
      '### Training Hyperparameters',
      '',
      table(
        ['Hyperparameter', 'Value'],
        hp.map(([k, v]) => [`\`${k}\``, String(v)]),
        [':---------------', ':-----'],
      ),
      '',
    );
  }
  const history = options.evaluationHistory ?? [];
  if (history.length > 0) {
    const keys = [...new Set(history.flatMap((r) => Object.keys(r.metrics)))].filter(
      (k) => !k.startsWith('num_'),
    );
    const rows = history.map((r) => {
      const bold = (s: string) => (evaluation?.step === r.step ? `**${s}**` : s);
      return [
        bold(String(r.step)),
        bold(String(r.epoch)),
        ...keys.map((k) => bold(r.metrics[k] === undefined ? '' : fmt(r.metrics[k]))),
      ];
    });
    out.push(
      '### Training Logs',
      '',
      table(['Step', 'Epoch', ...keys], rows, ['-----:', '-----:', ...keys.map(() => '-----:')]),
    );
    if (evaluation?.step !== undefined) out.push('', '* The bold row denotes the saved checkpoint.');
    out.push('');
  }
  out.push(
    '### Framework Versions',
    '',
    `- dense-retrieval: ${packageVersion()}`,
    `- Node.js: ${process.versions.node}`,
    '',
  );
  return out.join('\n');
}

/** Whether `text` is a card this library wrote and nobody edited since. */
function isOurUneditedCard(text: string): boolean {
  const m = MARKER_RE.exec(text);
  if (m === null) return false;
  const body = text.slice(0, m.index + 1);
  return createHash('sha256').update(body).digest('hex') === m[1];
}

/**
 * Write the model card (`README.md`) of the saved model in `dir`, atomically. The architecture comes from the
 * directory's own files (modules.json and the module configs, so save the model first); the training facts
 * from `options`. An existing README.md is replaced only when this library wrote it and it was not edited
 * since (a hash in its last line says so), or with `overwrite: true`: a card someone wrote stays.
 *
 * @returns The file and whether it was written.
 * @throws {ArgumentError} for unknown options or a `dir` without a saved model.
 * @throws {InputFormatError} for a malformed modules.json or module config of the saved model.
 * @example
 * ```ts
 * await model.save('runs/scifact');
 * await writeModelCard('runs/scifact', {
 *   baseModel: 'sentence-transformers/all-MiniLM-L6-v2',
 *   datasets: ['scifact'],
 *   loss: trainer.loss.toJSON(),
 *   hyperparameters: { batch_size: 32, learning_rate: 2e-5 },
 *   evaluation: { dataset: 'scifact', split: 'test', metrics: { ndcg_cut_10: 0.41 } },
 * }); // { file: 'runs/scifact/README.md', written: true }
 * ```
 */
export async function writeModelCard(dir: string, options: ModelCardOptions = {}): Promise<ModelCardResult> {
  checkOptionKeys('writeModelCard', options, CARD_KEYS);
  const file = path.join(dir, MODEL_CARD);
  const arch = await describeModelDir(dir);
  if (Object.keys(arch.routes).length === 0) {
    throw new ArgumentError('dir', `${dir} holds no saved model (no modules.json); save the model first`);
  }
  let existing: string | undefined;
  try {
    existing = await fs.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (existing !== undefined && !options.overwrite && !isOurUneditedCard(existing))
    return { file, written: false };
  const body = renderModelCard(arch, { ...options, dir });
  const hash = createHash('sha256').update(`${body}\n`).digest('hex');
  await writeFileAtomic(file, `${body}\n<!-- dense-retrieval model card; sha256 ${hash} -->\n`);
  return { file, written: true };
}
