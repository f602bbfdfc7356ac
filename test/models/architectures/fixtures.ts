import path from 'node:path';
import { REPO_ROOT } from '../../helpers/cli.js';

/** The checkpoints of scripts/make_architecture_fixtures.py, one directory each under test/fixtures/. */
export const ARCH_FIXTURES = [
  'roberta',
  'xlm-roberta',
  'distilbert',
  'distilbert-sinusoidal',
  'mpnet',
  'modernbert',
  'modernbert-bias',
] as const;

export const archDir = (arch: string): string => path.join(REPO_ROOT, 'test', 'fixtures', arch);
