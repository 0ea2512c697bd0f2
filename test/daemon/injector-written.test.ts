// Injector.written(): the takeover's barrier with DisableExternalCache. It must wait for what was
// received before it was called, and only for that: a master still forwarding (our claim held
// until the state is in) keeps sending updates, and a barrier that waited for a quiet injector
// never came (bench/takeover.ts, v3-100ms-full, 2026-11-21). The committer is replaced at its
// message boundary by batches the test lets through one by one.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Committer } from '../../src/daemon/committer.js';
import { Injector } from '../../src/daemon/injector.js';
import type { Logger } from '../../src/daemon/log.js';

function gatedCommitter() {
  const gates: (() => void)[] = [];
  const sizes: number[] = [];
  const committer = {
    runEach: async <E>(_op: string, items: Iterable<E>) => {
      const accepted = [...items];
      sizes.push(accepted.length);
      await new Promise<void>((r) => gates.push(r));
      return { failures: [], accepted, declined: [] as E[] };
    },
    run: async () => [],
  } as unknown as Committer;
  return { committer, sizes, open: () => gates.shift()?.(), waiting: () => gates.length };
}

const log = { log: () => undefined } as unknown as Logger;
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('Injector.written', () => {
  it('waits for the batch in flight and the one gathering, not for what arrives after it was asked', async () => {
    const c = gatedCommitter();
    const inj = new Injector(c.committer, log, { tcpWindowTracking: false });
    for (let i = 0; i < 3; i++) inj.apply('new', `k${i}`, 'body', 0);
    await tick();
    assert.equal(c.waiting(), 1, 'batch 1 in the kernel');
    inj.apply('upd', 'k9', 'body', 0); // gathers for batch 2
    let written = false;
    let idle = false;
    void inj.written().then(() => (written = true));
    void inj.idle().then(() => (idle = true));
    c.open(); // batch 1 done, batch 2 starts
    await tick();
    assert.equal(written, false, 'batch 2 holds what came before the call');
    inj.apply('upd', 'k1', 'body', 0); // the master goes on: batch 3 gathers
    c.open(); // batch 2 done
    await tick();
    await tick();
    assert.equal(written, true, 'everything received before the call is in');
    assert.equal(idle, false, 'while the injector is still busy with later updates');
    c.open();
    await tick();
    await tick();
    assert.equal(idle, true);
    assert.deepEqual(c.sizes, [3, 1, 1]);
    await inj.written(); // nothing pending: at once
  });
});
