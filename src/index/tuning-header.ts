import { InputFormatError } from '../errors.js';
import { headerField } from './container.js';
import type { ContainerHeader } from './container.js';
import type { HnswTuning, TunedCandidate } from './tune.js';

/** The `tuning` header field (null or absent when the index was not tuned), checked field by field. */
export function parseTuning(header: ContainerHeader, file: string): HnswTuning | undefined {
  const t = header.tuning;
  if (t === undefined || t === null) return undefined;
  if (typeof t !== 'object' || Array.isArray(t)) {
    throw new InputFormatError(`corrupt index header: field 'tuning' must be an object or null`, file);
  }
  const h = t as ContainerHeader;
  const curve = h.curve;
  if (!Array.isArray(curve)) {
    throw new InputFormatError(`corrupt index header: field 'tuning.curve' must be a list`, file);
  }
  return {
    targetRecall: headerField.number(h, 'targetRecall', file, 0, 1),
    k: headerField.int(h, 'k', file, 1),
    ef: headerField.int(h, 'ef', file, 1, 2 ** 31),
    recall: headerField.number(h, 'recall', file, 0, 1),
    recallLowerBound: headerField.number(h, 'recallLowerBound', file, -Infinity, 1),
    met: headerField.bool(h, 'met', file),
    queries: headerField.int(h, 'queries', file, 0),
    source: headerField.choice(h, 'source', file, ['documents', 'queries', 'held-out'] as const),
    curve: curve.map((c: unknown) => {
      if (typeof c !== 'object' || c === null) {
        throw new InputFormatError(`corrupt index header: field 'tuning.curve' holds a non-object`, file);
      }
      const p = c as ContainerHeader;
      return {
        ef: headerField.int(p, 'ef', file, 1, 2 ** 31),
        recall: headerField.number(p, 'recall', file, 0, 1),
        recallLowerBound: headerField.number(p, 'recallLowerBound', file, -Infinity, 1),
      };
    }),
    ...(h.M === undefined ? {} : { M: headerField.int(h, 'M', file, 1, 2 ** 24) }),
    ...(h.space === undefined ? {} : { space: headerField.choice(h, 'space', file, SPACES) }),
    ...(h.candidates === undefined ? {} : { candidates: parseCandidates(h.candidates, file) }),
  };
}

const SPACES = ['cosine', 'l2', 'ip', 'l2-reduction'] as const;

function parseCandidates(list: unknown, file: string): TunedCandidate[] {
  if (!Array.isArray(list)) {
    throw new InputFormatError(`corrupt index header: field 'tuning.candidates' must be a list`, file);
  }
  return list.map((c: unknown) => {
    if (typeof c !== 'object' || c === null || Array.isArray(c)) {
      throw new InputFormatError(`corrupt index header: field 'tuning.candidates' holds a non-object`, file);
    }
    const p = c as ContainerHeader;
    return {
      M: headerField.int(p, 'M', file, 1, 2 ** 24),
      space: headerField.choice(p, 'space', file, SPACES),
      ef: headerField.int(p, 'ef', file, 1, 2 ** 31),
      recall: headerField.number(p, 'recall', file, 0, 1),
      recallLowerBound: headerField.number(p, 'recallLowerBound', file, -Infinity, 1),
      met: headerField.bool(p, 'met', file),
    };
  });
}
