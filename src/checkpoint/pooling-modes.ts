/**
 * sentence-transformers' `Pooling` modes (the `pooling_mode` names of `1_Pooling/config.json`). Declared here,
 * below the models layer, because reading a checkpoint's files needs them; `models/pooling.ts` pools with them.
 */
export type PoolingMode = 'cls' | 'mean' | 'max' | 'mean_sqrt_len_tokens' | 'weightedmean' | 'lasttoken';

/** Every {@link PoolingMode}. */
export const POOLING_MODES: readonly PoolingMode[] = [
  'cls',
  'mean',
  'max',
  'mean_sqrt_len_tokens',
  'weightedmean',
  'lasttoken',
];
