/**
 * Extraction of the runnable blocks of a Markdown file, for docs.test.ts. The conventions (also in
 * DEVELOPERS.md, "Documentation blocks"):
 * - ```sh / ```bash / ```shell blocks run with bash; ```console blocks run their `$ ` lines.
 * - ```ts / ```typescript / ```js / ```javascript blocks of one file are joined, in order, into one ES module
 *   (imports merged), type-checked against the installed package and run.
 * - Any other fence (python, text, none) is not code the test can run and is only counted.
 * - `<!-- not-run: reason -->` on the line before a fence skips that block, counted with its reason.
 * - Tiny settings: before running, sizes are shrunk by {@link tinySettings} (steps, epochs, batch sizes...),
 *   so a block may show realistic numbers and still run in seconds.
 */

export type BlockKind = 'shell' | 'code' | 'other';

export interface DocBlock {
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  kind: BlockKind;
  source: string;
  /** The reason of a `<!-- not-run: reason -->` marker, if any. */
  notRun?: string;
}

const SHELL = new Set(['sh', 'bash', 'shell', 'console']);
const CODE = new Set(['ts', 'typescript', 'js', 'javascript', 'mjs']);

/** Every fenced block of a Markdown text, with its kind and marker. */
export function extractBlocks(markdown: string): DocBlock[] {
  const lines = markdown.split('\n');
  const blocks: DocBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s*(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i]);
    if (!open) continue;
    const fence = open[1];
    const lang = open[2].toLowerCase();
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !lines[j].trimStart().startsWith(fence)) body.push(lines[j++]);
    let k = i - 1;
    while (k >= 0 && lines[k].trim() === '') k--;
    const marker = k >= 0 ? /^<!--\s*not-run:\s*(.*?)\s*-->$/.exec(lines[k].trim()) : null;
    blocks.push({
      line: i + 1,
      lang,
      kind: SHELL.has(lang) ? 'shell' : CODE.has(lang) ? 'code' : 'other',
      source: lang === 'console' ? consoleCommands(body) : body.join('\n'),
      ...(marker ? { notRun: marker[1] || 'no reason given' } : {}),
    });
    i = j;
  }
  return blocks;
}

/** The commands of a console transcript: `$ ` lines and their `\` continuations; output lines dropped. */
function consoleCommands(lines: string[]): string {
  const out: string[] = [];
  let continuing = false;
  for (const line of lines) {
    if (continuing || line.startsWith('$ ')) {
      out.push(continuing ? line : line.slice(2));
      continuing = line.trimEnd().endsWith('\\');
    }
  }
  return out.join('\n');
}

/** CLI flags shrunk to at most this value. */
export const TINY_FLAGS: Readonly<Record<string, number>> = {
  steps: 2,
  epochs: 1,
  'batch-size': 4,
  warmup: 1,
  'cache-mini-batch': 2,
  'max-length': 32,
  k: 10,
};

/** Object keys (TypeScript options) shrunk to at most this value. */
export const TINY_KEYS: Readonly<Record<string, number>> = {
  steps: 2,
  epochs: 1,
  batchSize: 4,
  warmupSteps: 1,
  miniBatchSize: 2,
  checkpointEvery: 1,
  evaluateEvery: 1,
  maxSeqLength: 32,
};

/** A block's source with the sizes of {@link TINY_FLAGS} and {@link TINY_KEYS} shrunk (never grown). */
export function tinySettings(source: string): string {
  const shrink =
    (tiny: number) =>
    (_: string, head: string, n: string): string =>
      `${head}${Math.min(Number(n), tiny)}`;
  let out = source;
  for (const [name, tiny] of Object.entries(TINY_FLAGS)) {
    out = out.replace(new RegExp(`(--${name}[ =])(\\d+)\\b`, 'g'), shrink(tiny));
  }
  for (const [name, tiny] of Object.entries(TINY_KEYS)) {
    out = out.replace(new RegExp(`(\\b${name}: )(\\d+)\\b`, 'g'), shrink(tiny));
  }
  return out;
}

const IMPORT_RE = /^import\s+(?:(\*\s+as\s+\w+)|\{([^}]*)\}|(\w+))\s+from\s+['"]([^'"]+)['"];?[ \t]*$/gm;

/**
 * Join code blocks into one ES module: import declarations are hoisted and merged per module (a block may
 * repeat an import an earlier block made), the rest keeps its order.
 */
export function joinCodeBlocks(sources: string[]): string {
  const named = new Map<string, Set<string>>();
  const others: string[] = [];
  const bodies: string[] = [];
  for (const source of sources) {
    const body = source.replace(
      IMPORT_RE,
      (_m, ns: string | undefined, names: string | undefined, def: string | undefined, mod: string) => {
        if (names === undefined) {
          const decl = `import ${ns ?? def} from '${mod}';`;
          if (!others.includes(decl)) others.push(decl);
        } else {
          const set = named.get(mod) ?? new Set<string>();
          for (const n of names.split(',')) if (n.trim() !== '') set.add(n.trim());
          named.set(mod, set);
        }
        return '';
      },
    );
    bodies.push(body.trim());
  }
  const imports = [
    ...others,
    ...[...named].map(([mod, names]) => `import { ${[...names].join(', ')} } from '${mod}';`),
  ];
  return `${imports.join('\n')}\n\n${bodies.join('\n\n')}\n`;
}
