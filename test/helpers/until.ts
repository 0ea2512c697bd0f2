import assert from 'node:assert/strict';

/**
 * until polls `cond` every `everyMs` until it holds. `guardMs` is a hang guard, not a performance
 * bound: past it the test fails with what it was waiting for, and `context()` (daemon logs…).
 */
export async function until(what: string, cond: () => boolean | Promise<boolean>, guardMs = 30_000, everyMs = 100, context?: () => string): Promise<void> {
  const end = Date.now() + guardMs;
  while (!(await cond())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}${context !== undefined ? `\n${context()}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
