import { promises as fs } from 'node:fs';
import { exportOnnx } from '../../export/export-onnx.js';
import { MAX_OPSET, MIN_OPSET } from '../../export/onnx-model.js';
import { loadRetrievalModel, towerEncoder } from '../../models/load-retrieval-model.js';
import type { Tower } from '../../models/load-retrieval-model.js';
import { optionalChoice, optionalInt, requireString } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../errors.js';

/** `dense-retrieval export`: write a model as ONNX (transformers.js layout) beside its sentence-transformers files. */
export const exportCommand: Command = {
  name: 'export',
  summary: 'export a model to ONNX: a directory that transformers.js and sentence-transformers both load',
  help: `Usage: dense-retrieval export --model SRC --out DIR [--quantize q8] [--opset N]

Write the model as onnx/model.onnx (inputs input_ids, attention_mask and, where the architecture has
them, token_type_ids; outputs last_hidden_state and sentence_embedding with the model's pooling, Dense
and Normalize), plus config.json, the tokenizer files and the sentence-transformers files, so that DIR
loads in transformers.js (offline), in sentence-transformers and here. Files of DIR that are not the
model's are kept.

Options:
  --model SRC          model directory, Hugging Face hub id (org/name), or scratch:<config.json> (required)
  --out DIR            output directory (required)
  --tower query|passage  which tower of an untied model to export (required then)
  --quantize q8        also write onnx/model_quantized.onnx: int8 weights, dynamic activation quantization
  --opset N            ONNX opset, ${MIN_OPSET} to ${MAX_OPSET} (default 17)
  --replace            replace DIR as a whole (deleting other files) instead of keeping them
  --quiet              no progress bar
  -h, --help           show this help
`,
  options: {
    model: { type: 'string' },
    out: { type: 'string' },
    tower: { type: 'string' },
    quantize: { type: 'string' },
    opset: { type: 'string' },
    replace: { type: 'boolean' },
    quiet: { type: 'boolean' },
  },
  needsBackend: true,
  async run(values, positionals) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    const source = requireString(values, 'model');
    const out = requireString(values, 'out');
    const quantize = optionalChoice(values, 'quantize', ['q8'] as const);
    const opset = optionalInt(values, 'opset', MIN_OPSET);
    if (opset !== undefined && opset > MAX_OPSET) {
      throw new UsageError(`--opset must be <= ${MAX_OPSET}, got ${opset}`);
    }
    const tower = optionalChoice(values, 'tower', ['query', 'passage'] as const) as Tower | undefined;
    const quiet = values.quiet === true;
    const model = await loadRetrievalModel(source, {
      quiet,
      log: (m) => void process.stderr.write(`dense-retrieval: ${m}\n`),
    });
    try {
      if (!model.tied && tower === undefined) {
        throw new UsageError(
          `${source} has separate query and passage towers (untied): give --tower query or --tower passage`,
        );
      }
      const result = await exportOnnx(towerEncoder(model, tower), out, {
        quantize,
        opset,
        quiet,
        overwrite: values.replace === true ? 'replace' : 'files',
      });
      // Every file written, with its size: with q8 the float model.onnx is written too, not only the q8 file.
      const written: string[] = [];
      for (const file of result.files) {
        const mb = ((await fs.stat(file)).size / 2 ** 20).toFixed(1);
        written.push(`${file} (${mb} MiB)`);
      }
      process.stdout.write(
        `exported ${source} to ${written.join(', ')}; opset ${result.opset}, inputs ` +
          `${result.inputNames.join(', ')}; outputs ${result.outputNames.join(', ')}\n`,
      );
    } finally {
      model.dispose();
    }
  },
};
