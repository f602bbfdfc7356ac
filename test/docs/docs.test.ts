/**
 * Every shell and code block of README.md and docs/*.md runs against the packed package installed in an
 * empty project (see doc-blocks.ts and DEVELOPERS.md "Documentation blocks" for the conventions). The
 * Markdown files are read from the installed package, so a guide that is not shipped fails too.
 *
 * What the blocks get, as a user of the documentation would have it:
 * - `examples/data/scifact`: a tiny BEIR dataset (the real one comes with a clone of the repository or any
 *   BEIR download) in each file's working directory;
 * - the hub id `sentence-transformers/all-MiniLM-L6-v2` in an offline cache (`HF_HUB_OFFLINE=1`), filled
 *   by hand as docs/hub-cache.md describes, with a tiny random model of the same layout (mean pooling,
 *   normalised): the blocks' output numbers are not MiniLM's, their code paths are;
 * - `dense-retrieval` on PATH (and through npx), one wasm thread.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers/cli.js';
import { installPacked } from '../helpers/packed.js';
import type { PackedProject } from '../helpers/packed.js';
import { extractBlocks, joinCodeBlocks, tinySettings } from './doc-blocks.js';
import type { DocBlock } from './doc-blocks.js';

/**
 * A tiny BEIR dataset: 12 topics, 4 documents and 4 queries each (3 train, 1 test): 36 training pairs, enough
 * for the default batch of 32.
 */
function writeTinyBeir(dir: string): void {
  const topics = [
    'protein',
    'vaccine',
    'climate',
    'neuron',
    'bacteria',
    'insulin',
    'gene',
    'tumor',
    'virus',
    'enzyme',
    'cortex',
    'plasma',
  ];
  const corpus: string[] = [];
  const queries: string[] = [];
  const train = ['query-id\tcorpus-id\tscore'];
  const testQrels = ['query-id\tcorpus-id\tscore'];
  topics.forEach((topic, t) => {
    for (let i = 0; i < 4; i++) {
      const id = `d${t * 4 + i}`;
      corpus.push(
        JSON.stringify({
          _id: id,
          title: `${topic} study ${i}`,
          text: `The ${topic} result number ${i} shows an effect of ${topic} on cells.`,
        }),
      );
      const qid = `q${t * 4 + i}`;
      queries.push(JSON.stringify({ _id: qid, text: `does ${topic} have an effect ${i}` }));
      (i < 3 ? train : testQrels).push(`${qid}\t${id}\t1`);
    }
  });
  mkdirSync(path.join(dir, 'qrels'), { recursive: true });
  writeFileSync(path.join(dir, 'corpus.jsonl'), corpus.join('\n') + '\n');
  writeFileSync(path.join(dir, 'queries.jsonl'), queries.join('\n') + '\n');
  writeFileSync(path.join(dir, 'qrels', 'train.tsv'), train.join('\n') + '\n');
  writeFileSync(path.join(dir, 'qrels', 'test.tsv'), testQrels.join('\n') + '\n');
}

const HUB_ID = 'sentence-transformers/all-MiniLM-L6-v2';

/** Fill the offline hub cache with a tiny random model in the sentence-transformers layout. */
function seedHubCache(project: PackedProject): void {
  const dir = path.join(project.env.DENSE_RETRIEVAL_CACHE!, 'hub', HUB_ID.replace('/', '--'), 'main');
  const script = [
    "import { writeFileSync } from 'node:fs';",
    "import { loadModel } from 'dense-retrieval';",
    "const e = await loadModel('scratch:tiny', { quiet: true, seed: 3, pooling: 'mean', normalize: true, maxSeqLength: 32 });",
    `await e.save(${JSON.stringify(dir)});`,
    `writeFileSync(${JSON.stringify(path.join(dir, '.complete'))}, '');`,
  ].join('\n');
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: project.dir,
    env: project.env,
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
}

interface Step {
  doc: string;
  line: number;
  what: string;
  run: () => { status: number | null; stdout: string; stderr: string };
}

test('every shell and code block of README.md and docs/*.md runs from the packed package', async (t) => {
  // The guides' install lines for optional peers (docs/scale.md: PGlite + pgvector, docs/deploy.md:
  // onnxruntime-node) are not run: link them.
  const project = installPacked({
    optionalPeers: ['@electric-sql/pglite', '@electric-sql/pglite-pgvector', 'pg', 'onnxruntime-node'],
  });
  const pkg = path.join(project.dir, 'node_modules', 'dense-retrieval');
  const fixture = path.join(project.dir, 'fixture-scifact');
  writeTinyBeir(fixture);
  seedHubCache(project);

  const docs = [
    'README.md',
    ...readdirSync(path.join(pkg, 'docs'))
      .filter((f) => f.endsWith('.md'))
      .sort()
      .map((f) => `docs/${f}`),
  ];
  // Every guide of the repository is shipped (and so tested).
  const repoDocs = readdirSync(path.join(REPO_ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort();
  assert.deepEqual(
    docs.slice(1),
    repoDocs.map((f) => `docs/${f}`),
  );

  const programs: string[] = [];
  const steps: Step[] = [];
  const counts = { shell: 0, code: 0, notRun: [] as string[], other: 0 };
  for (const doc of docs) {
    const blocks = extractBlocks(readFileSync(path.join(pkg, doc), 'utf8'));
    const work = path.join(project.dir, 'work', doc.replace(/[/.]/g, '_'));
    mkdirSync(path.join(work, 'examples', 'data'), { recursive: true });
    symlinkSync(fixture, path.join(work, 'examples', 'data', 'scifact'), 'dir');
    const exec = (cmd: string, args: string[]) => () =>
      spawnSync(cmd, args, { cwd: work, env: project.env, encoding: 'utf8', timeout: 240_000 });
    const code: DocBlock[] = [];
    for (const block of blocks) {
      if (block.notRun !== undefined) {
        counts.notRun.push(`${doc}:${block.line} (${block.notRun})`);
        continue;
      }
      if (block.kind === 'other') {
        counts.other++;
        continue;
      }
      if (block.kind === 'shell') {
        counts.shell++;
        steps.push({
          doc,
          line: block.line,
          what: block.source,
          run: exec('bash', ['-e', '-o', 'pipefail', '-c', tinySettings(block.source)]),
        });
        continue;
      }
      counts.code++;
      if (code.length === 0) {
        // The file's code blocks run as one module, where its first code block stands.
        const file = path.join(work, 'doc.mts');
        programs.push(file);
        steps.push({
          doc,
          line: block.line,
          what: 'the code blocks as one module',
          run: exec(process.execPath, ['doc.mjs']),
        });
      }
      code.push(block);
    }
    if (code.length > 0) {
      writeFileSync(path.join(work, 'doc.mts'), joinCodeBlocks(code.map((b) => tinySettings(b.source))));
    }
    if (doc === 'README.md') {
      // The quickstart again from CommonJS: `import x = require()` type-checks against index.d.cts.
      const quickstart = tinySettings(code[0].source);
      const cjs = quickstart.replace(
        /^import \* as dr from 'dense-retrieval';$/m,
        "import dr = require('dense-retrieval');",
      );
      assert.notEqual(cjs, quickstart, 'the README quickstart imports dense-retrieval as dr');
      const [head, ...body] = cjs.split('\n');
      writeFileSync(
        path.join(work, 'quickstart.cts'),
        `${head}\n\nasync function main(): Promise<void> {\n${body.join('\n')}\n}\nvoid main();\n`,
      );
      programs.push(path.join(work, 'quickstart.cts'));
      steps.push({
        doc,
        line: code[0].line,
        what: 'the quickstart from CommonJS',
        run: exec(process.execPath, ['quickstart.cjs']),
      });
    }
  }

  // One type check (and emit) of every program, as a strict consumer project would: skipLibCheck off.
  writeFileSync(
    path.join(project.dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        strict: true,
        skipLibCheck: false,
      },
      files: programs,
    }),
  );
  const tsc = spawnSync(
    process.execPath,
    [path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project.dir],
    {
      cwd: project.dir,
      encoding: 'utf8',
    },
  );
  assert.equal(tsc.status, 0, `type check of the documentation's code failed:\n${tsc.stdout}${tsc.stderr}`);

  const failures: string[] = [];
  for (const step of steps) {
    const r = step.run();
    if (r.status !== 0) {
      const tail = `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-8).join('\n    ');
      failures.push(`${step.doc}:${step.line} (${step.what.split('\n')[0]}): exit ${r.status}\n    ${tail}`);
    }
  }
  t.diagnostic(
    `${counts.shell} shell and ${counts.code} code blocks run in ${docs.length} files; ${counts.other} non-code blocks; ` +
      `${counts.notRun.length} marked not-run: ${counts.notRun.join('; ')}`,
  );
  assert.deepEqual(failures, [], failures.join('\n'));
});
