/**
 * objectSlots is an empty array whose elements are objects (V8's PACKED_ELEMENTS) from birth. An
 * empty literal starts as small integers (PACKED_SMI_ELEMENTS) and changes kind at its first
 * object: the code V8 compiled during the warm-up (daemon/warm-up.ts) had seen only arrays that
 * had changed kind already, and deoptimized ("wrong map") at the first push into the daemon's own
 * cache's or replicator's array.
 */
export function objectSlots<T extends object>(): (T | undefined)[] {
  const a: (T | undefined)[] = [undefined];
  a.pop();
  return a;
}
