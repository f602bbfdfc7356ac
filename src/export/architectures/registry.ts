import { ArgumentError } from '../../errors.js';
import { architectureFor, SUPPORTED_MODEL_TYPES } from '../../models/architectures/registry.js';
import { BERT_FAMILY_EXPORT } from './bert-family.js';
import { MODERNBERT_EXPORT } from './modernbert.js';
import type { ArchitectureExport } from './types.js';

/**
 * The ONNX exporter of each architecture, keyed by the `model_type` of the architecture registry
 * (`models/architectures/registry.ts`): that registry cannot import the exporters (`export` depends on
 * `models`, not the reverse), so this table mirrors its keys, and a test checks that every supported
 * `model_type` has an exporter.
 */
const EXPORTS: ReadonlyMap<string, ArchitectureExport> = new Map([
  ['bert', BERT_FAMILY_EXPORT],
  ['roberta', BERT_FAMILY_EXPORT],
  ['xlm-roberta', BERT_FAMILY_EXPORT],
  ['distilbert', BERT_FAMILY_EXPORT],
  ['mpnet', BERT_FAMILY_EXPORT],
  ['modernbert', MODERNBERT_EXPORT],
]);

/** Every `model_type` that exports (the registry's, when each has an exporter). */
export const EXPORTABLE_MODEL_TYPES: readonly string[] = SUPPORTED_MODEL_TYPES.filter((t) => EXPORTS.has(t));

/**
 * The exporter of a `model_type`.
 *
 * @throws {InputFormatError} for a `model_type` the library does not run (from the architecture registry).
 * @throws {ArgumentError} for a supported one without an exporter.
 */
export function exporterFor(modelType: string): ArchitectureExport {
  architectureFor(modelType);
  const found = EXPORTS.get(modelType);
  if (found === undefined) {
    throw new ArgumentError(
      'encoder',
      `model_type ${modelType} cannot be exported to ONNX yet (exportable: ${EXPORTABLE_MODEL_TYPES.join(', ')})`,
    );
  }
  return found;
}
