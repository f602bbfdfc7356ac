import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ArgumentError } from '../../src/errors.js';
import { checkOptionKeys, optionKeys } from '../../src/util/options.js';

test('checkOptionKeys accepts known keys and no options, and names every unknown key', () => {
  const allowed = ['batchSize', 'normalize', 'quiet'];
  checkOptionKeys('encode', undefined, allowed);
  checkOptionKeys('encode', {}, allowed);
  checkOptionKeys('encode', { batchSize: 2, quiet: true }, allowed);
  assert.throws(
    () => checkOptionKeys('encode', { normalise: true, showProgressBar: false, quiet: true }, allowed),
    (e: unknown) => {
      assert.ok(e instanceof ArgumentError);
      assert.equal(e.argument, 'options');
      assert.equal(
        e.message,
        "options: unknown options 'normalise' (did you mean 'normalize'?), 'showProgressBar' of encode; " +
          'accepted: batchSize, normalize, quiet',
      );
      return true;
    },
  );
  // A snake_case spelling of an accepted key is suggested too.
  assert.throws(
    () => checkOptionKeys('encode', { batch_size: 8 }, allowed),
    /'batch_size' \(did you mean 'batchSize'\?\)/,
  );
  assert.throws(
    () => checkOptionKeys('encode', 5, allowed),
    /options: encode expects an options object, got number/,
  );
  assert.throws(() => checkOptionKeys('encode', [1], allowed), /got an array/);
});

test('optionKeys lists the keys of an options type', () => {
  assert.deepEqual(optionKeys<{ a?: number; b: string }>({ a: true, b: true }), ['a', 'b']);
});
