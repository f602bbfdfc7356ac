// Fusion grew into src/index/fusion/ (normalisations, methods); this path stays for existing imports.
export { fuse, FUSION_METHODS } from './fusion/fuse.js';
export type { FuseOptions, FusionMethod } from './fusion/fuse.js';
export { normalizeRun, SCORE_NORMS } from './fusion/normalize.js';
export type { ScoreNorm } from './fusion/normalize.js';
