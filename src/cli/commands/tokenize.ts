import { loadTokenizerFor } from '../../models/load.js';
import { towerSource } from '../../models/load-retrieval-model.js';
import type { Tower } from '../../models/load-retrieval-model.js';
import { optionalChoice, optionalInt, requireFile, requireString } from '../args.js';
import type { Command } from '../command.js';
import { readTexts } from './encode.js';

const CHUNK = 256;

/** `dense-retrieval tokenize`: print the token ids a model would see for each input text. */
export const tokenizeCommand: Command = {
  name: 'tokenize',
  summary: "print a model's token ids for each text (one JSON line per text)",
  help: `Usage: dense-retrieval tokenize --model SRC --input FILE [--max-length N]

Print one JSON line {"input_ids": [...], "attention_mask": [...]} per input text, with the special
tokens and truncation the model's encoder applies (no padding).

Options:
  --model SRC          model directory, Hugging Face hub id (org/name), or scratch:<config.json> (required)
  --tower query|passage  which tower's tokenizer, for an untied model (required then)
  --input FILE         .txt (one text per line) or .jsonl ({"text", optional "title"}) (required)
  --max-length N       truncate to N tokens (default: the model's max_seq_length)
  -h, --help           show this help
`,
  options: {
    model: { type: 'string' },
    tower: { type: 'string' },
    input: { type: 'string' },
    'max-length': { type: 'string' },
  },
  async run(values) {
    const model = requireString(values, 'model');
    const input = requireFile(values, 'input');
    const maxLength = optionalInt(values, 'max-length', 3);
    const texts = await readTexts(input);
    const tower = optionalChoice(values, 'tower', ['query', 'passage'] as const) as Tower | undefined;
    const source = await towerSource(model, tower);
    const { tokenizer, maxSeqLength } = await loadTokenizerFor(source.source, {
      maxSeqLength: maxLength,
      quiet: true,
      ...(source.route === undefined ? {} : { route: source.route }),
    });
    for (let start = 0; start < texts.length; start += CHUNK) {
      const batch = tokenizer.encodeBatch(texts.slice(start, start + CHUNK), { maxLength: maxSeqLength });
      const lines: string[] = [];
      for (let r = 0; r < batch.batchSize; r++) {
        const row = batch.attentionMask.subarray(r * batch.seqLen, (r + 1) * batch.seqLen);
        const n = row.reduce((a, b) => a + b, 0);
        const ids = Array.from(batch.inputIds.subarray(r * batch.seqLen, r * batch.seqLen + n));
        lines.push(JSON.stringify({ input_ids: ids, attention_mask: Array.from(row.subarray(0, n)) }));
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    }
  },
};
