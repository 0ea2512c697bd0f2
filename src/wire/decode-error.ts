/**
 * DecodeError is the only error a decoder throws (house-style R4/R9): a stable code, the path of
 * names the decoder had descended through, and the byte offset where the input stopped making sense.
 */
export type DecodeCode =
  | 'SHORT' // fewer bytes than a length or fixed size demands
  | 'BAD_LENGTH' // a length field that is smaller than its header or larger than its container
  | 'BAD_SIZE' // a known attribute whose payload has the wrong size
  | 'BAD_VALUE' // a field whose value the protocol forbids
  | 'MISSING' // a mandatory field is absent
  | 'TRAILING'; // bytes left over where none may be

export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  constructor(
    readonly code: DecodeCode,
    readonly path: readonly string[],
    readonly offset: number,
    readonly detail: string,
    options?: ErrorOptions,
  ) {
    super(`${path.length > 0 ? path.join('.') : '<root>'}@${offset}: ${detail}`, options);
  }
}
