import { DenseRetrievalError } from '../errors.js';

/** A wrong flag, a missing argument or a missing file on the command line (exit code 2). */
export class UsageError extends DenseRetrievalError {}
