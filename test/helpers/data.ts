import path from 'node:path';
import { REPO_ROOT } from './cli.js';

/** The real collections shipped with the repository (examples/data, see its README for licences). */
export const SCIFACT_DIR = path.join(REPO_ROOT, 'examples', 'data', 'scifact');
export const CRANFIELD_DIR = path.join(REPO_ROOT, 'examples', 'data', 'cranfield');
