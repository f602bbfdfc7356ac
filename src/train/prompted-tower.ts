import type { TrainableEncoder } from '../losses/types.js';

/**
 * A training tower that embeds every text with a prompt, for the Trainer's `queryPrompt` /
 * `documentPrompt`. A prompt-aware encoder (a `SentenceEncoder`) gets the prompt as `embed`'s `prompt`
 * option, so a model whose Pooling says `include_prompt: false` leaves the prompt tokens out of pooling in
 * training exactly as in `encode` (sentence-transformers masks the first `prompt_length` tokens in both);
 * any other encoder gets the prompt prepended to the text. Losses see an ordinary encoder, so every loss
 * applies prompts without knowing about them.
 */

/** The options `SentenceEncoder.embed` takes beyond {@link TrainableEncoder}'s. */
type PromptEmbedOptions = { training?: boolean; dropoutSeed?: number; prompt?: string };

interface PromptAwareEncoder extends TrainableEncoder {
  readonly includePrompt: boolean;
  embed(texts: string[], options?: PromptEmbedOptions): ReturnType<TrainableEncoder['embed']>;
}

/** What the wasm memory guard (`src/train/memory.ts`) reads of a tower, when it has it. */
interface Profile {
  bert?: unknown;
  maxSeqLength?: number;
  tokenizer?: { tokenLength(text: string, options?: { maxLength?: number }): number };
}

function isPromptAware(encoder: TrainableEncoder): encoder is PromptAwareEncoder {
  return typeof (encoder as Partial<PromptAwareEncoder>).includePrompt === 'boolean';
}

/**
 * `encoder` embedding with `prompt` (itself when the prompt is empty). The view shares the encoder's
 * variables, and the memory guard sizes it with the prompt's tokens counted.
 *
 * @example
 * ```ts
 * const q = promptedTower(model.queryEncoder, 'query: ');
 * const emb = q.embed(['how do vaccines work'], { training: true }); // embeds "query: how do vaccines work"
 * ```
 */
export function promptedTower(encoder: TrainableEncoder, prompt: string): TrainableEncoder {
  if (prompt === '') return encoder;
  const embed: TrainableEncoder['embed'] = isPromptAware(encoder)
    ? (texts, options) => encoder.embed(texts, { ...options, prompt })
    : (texts, options) =>
        encoder.embed(
          texts.map((t) => prompt + t),
          options,
        );
  const view: TrainableEncoder & Profile = {
    embed,
    trainableVariables: () => encoder.trainableVariables(),
  };
  const profile = encoder as TrainableEncoder & Profile;
  const tokenizer = profile.tokenizer;
  if (profile.bert !== undefined && typeof tokenizer?.tokenLength === 'function') {
    view.bert = profile.bert;
    view.maxSeqLength = profile.maxSeqLength;
    view.tokenizer = {
      tokenLength: (text, options) => tokenizer.tokenLength(prompt + text, options),
    };
  }
  return view;
}
